package llm

import "sort"

// DiscoveryTokens splits the input tokens a batch cost (the sum of usage,
// re-asks included) across the observations it produced, by their share of
// the batch's input: each tool use weighs its input, response and error
// bytes, divided among the observations that name it as a source. When no
// observation names a tool use of the batch, they share the cost evenly.
// The shares are whole tokens summing to the batch's input exactly; an
// offline batch (no usage) costs 0.
func DiscoveryTokens(uses []ToolUse, obs []Observation, usage []Usage) []int64 {
	out := make([]int64, len(obs))
	var total int64
	for _, u := range usage {
		total += u.InputTokens
	}
	if total <= 0 || len(obs) == 0 {
		return out
	}
	size := make(map[string]float64, len(uses))
	for _, u := range uses {
		size[u.EventID] += float64(len(u.Input) + len(u.Response) + len(u.Error) + len(u.Tool))
	}
	citers := map[string]int{}
	for _, o := range obs {
		for _, id := range uniq(o.SourceEventIDs) {
			if _, ok := size[id]; ok {
				citers[id]++
			}
		}
	}
	weight := make([]float64, len(obs))
	var sum float64
	for i, o := range obs {
		for _, id := range uniq(o.SourceEventIDs) {
			if n := citers[id]; n > 0 {
				weight[i] += size[id] / float64(n)
			}
		}
		sum += weight[i]
	}
	if sum == 0 {
		for i := range weight {
			weight[i] = 1
		}
		sum = float64(len(weight))
	}
	// Largest remainder: floor every share, then hand the tokens left to
	// the largest fractions, so the shares add up to the total.
	type frac struct {
		i int
		f float64
	}
	fr := make([]frac, len(obs))
	var given int64
	for i, w := range weight {
		exact := float64(total) * w / sum
		out[i] = int64(exact)
		given += out[i]
		fr[i] = frac{i, exact - float64(out[i])}
	}
	sort.SliceStable(fr, func(a, b int) bool { return fr[a].f > fr[b].f })
	for k := 0; given < total; k = (k + 1) % len(fr) {
		out[fr[k].i]++
		given++
	}
	return out
}

func uniq(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := ids[:0:0]
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}
