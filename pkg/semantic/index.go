package semantic

import (
	"container/heap"
	"fmt"
	"math"
	"math/bits"
	"runtime"
	"slices"
	"sync"
)

// Index holds one model's vectors in memory, quantized to int8 with a
// scale per vector (a quarter of float32's memory), and answers nearest
// neighbours by an exact scan: at the sizes one memory store reaches it is
// fast enough and, unlike a graph index, needs no build and misses nothing
// it was not told about (docs/ARCHITECTURE.md §14, bench figures there).
type Index struct {
	mu    sync.RWMutex
	dims  int
	ids   []int64
	proj  []uint32
	scale []float32
	data  []int8 // dims per entry
	// bits holds each vector's signs, words per entry: a Hamming pass over
	// them shortlists what a large scan rescores in int8.
	bits     []uint64
	words    int
	pos      map[int64]int
	projects map[string]uint32
}

// Hit is one neighbour: an observation ID and its cosine similarity
// (approximate, from the quantized vector).
type Hit struct {
	ID    int64
	Score float32
}

// NewIndex returns an empty index.
func NewIndex() *Index {
	return &Index{pos: map[int64]int{}, projects: map[string]uint32{}}
}

// Put adds or replaces an observation's vector. The first vector fixes the
// index's dimensions; another length is refused.
func (x *Index) Put(id int64, project string, v []float32) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.dims == 0 {
		x.dims, x.words = len(v), (len(v)+63)/64
	}
	if len(v) != x.dims || len(v) == 0 {
		return fmt.Errorf("semantic: vector of %d dimensions for an index of %d", len(v), x.dims)
	}
	p, ok := x.projects[project]
	if !ok {
		p = uint32(len(x.projects)) + 1
		x.projects[project] = p
	}
	qv, scale := quantize(v)
	i, ok := x.pos[id]
	if !ok {
		i = len(x.ids)
		x.pos[id] = i
		x.ids = append(x.ids, id)
		x.proj = append(x.proj, p)
		x.scale = append(x.scale, 0)
		x.data = append(x.data, make([]int8, x.dims)...)
		x.bits = append(x.bits, make([]uint64, x.words)...)
	}
	signBits(x.bits[i*x.words:(i+1)*x.words], v)
	x.proj[i], x.scale[i] = p, scale
	copy(x.data[i*x.dims:(i+1)*x.dims], qv)
	return nil
}

// Remove drops an observation's vector, if held.
func (x *Index) Remove(id int64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.remove(id)
}

func (x *Index) remove(id int64) {
	i, ok := x.pos[id]
	if !ok {
		return
	}
	last := len(x.ids) - 1
	if i != last {
		x.ids[i], x.proj[i], x.scale[i] = x.ids[last], x.proj[last], x.scale[last]
		copy(x.data[i*x.dims:(i+1)*x.dims], x.data[last*x.dims:])
		copy(x.bits[i*x.words:(i+1)*x.words], x.bits[last*x.words:])
		x.pos[x.ids[i]] = i
	}
	x.ids, x.proj, x.scale, x.data = x.ids[:last], x.proj[:last], x.scale[:last], x.data[:last*x.dims]
	x.bits = x.bits[:last*x.words]
	delete(x.pos, id)
}

// Keep removes every vector whose ID is not in ids (sorted ascending) and
// returns how many went.
func (x *Index) Keep(ids []int64) int {
	x.mu.Lock()
	defer x.mu.Unlock()
	var gone []int64
	for _, id := range x.ids {
		if _, ok := slices.BinarySearch(ids, id); !ok {
			gone = append(gone, id)
		}
	}
	for _, id := range gone {
		x.remove(id)
	}
	return len(gone)
}

// Len is the number of vectors held.
func (x *Index) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.ids)
}

// Bytes is the memory the vectors and their bookkeeping take, roughly.
func (x *Index) Bytes() int64 {
	x.mu.RLock()
	defer x.mu.RUnlock()
	// data, id, project number, scale, and a map entry (~48 bytes).
	return int64(cap(x.data)) + int64(cap(x.bits))*8 + int64(cap(x.ids))*8 + int64(cap(x.proj))*4 + int64(cap(x.scale))*4 + int64(len(x.pos))*48
}

// scanParallelFrom is the size from which a search splits its scan over
// the CPUs.
const scanParallelFrom = 8192

// Search returns the k vectors nearest q (unit length, the index's
// dimensions), best first, of project when it is not "".
func (x *Index) Search(q []float32, project string, k int) []Hit {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if k <= 0 || len(x.ids) == 0 || len(q) != x.dims {
		return nil
	}
	var want uint32
	if project != "" {
		p, ok := x.projects[project]
		if !ok {
			return nil
		}
		want = p
	}
	n := len(x.ids)
	parts := 1
	if n >= scanParallelFrom {
		parts = min(runtime.GOMAXPROCS(0), 8)
	}
	results := make([]hitHeap, parts)
	var wg sync.WaitGroup
	for p := range parts {
		lo, hi := n*p/parts, n*(p+1)/parts
		wg.Go(func() { results[p] = x.scan(q, want, k, lo, hi) })
	}
	wg.Wait()
	all := results[0]
	for _, h := range results[1:] {
		all = append(all, h...)
	}
	slices.SortFunc(all, func(a, b Hit) int {
		switch {
		case a.Score > b.Score:
			return -1
		case a.Score < b.Score:
			return 1
		}
		return 0
	})
	return all[:min(k, len(all))]
}

// shortlistFrom is the part size from which a scan first shortlists by
// Hamming distance of the signs, then rescores only the shortlist
// (1/shortlistShare of the part, at least shortlistMin·k) in int8.
const (
	shortlistFrom  = 16384
	shortlistShare = 4
	shortlistMin   = 50
)

// scan keeps the k best of entries lo..hi. The query is quantized like the
// vectors, so the inner loop is an int8 dot product in int32.
func (x *Index) scan(q []float32, want uint32, k, lo, hi int) hitHeap {
	qi, qs := quantize(q)
	h := make(hitHeap, 0, k)
	d := x.dims
	cutoff := x.dims
	var dist []uint16
	if hi-lo >= shortlistFrom {
		dist, cutoff = x.shortlist(q, want, lo, hi, max(shortlistMin*k, (hi-lo)/shortlistShare))
	}
	for i := lo; i < hi; i++ {
		if want != 0 && x.proj[i] != want {
			continue
		}
		if dist != nil && int(dist[i-lo]) > cutoff {
			continue
		}
		s := float32(dotInt8(qi, x.data[i*d:(i+1)*d])) * qs * x.scale[i]
		if len(h) < k {
			heap.Push(&h, Hit{ID: x.ids[i], Score: s})
		} else if s > h[0].Score {
			h[0] = Hit{ID: x.ids[i], Score: s}
			heap.Fix(&h, 0)
		}
	}
	return h
}

// shortlist computes the Hamming distance of q's signs to each entry's and
// the largest distance that keeps about n entries (a counting sort).
func (x *Index) shortlist(q []float32, want uint32, lo, hi, n int) ([]uint16, int) {
	qb := make([]uint64, x.words)
	signBits(qb, q)
	dist := make([]uint16, hi-lo)
	hist := make([]int, x.dims+1)
	w := x.words
	for i := lo; i < hi; i++ {
		if want != 0 && x.proj[i] != want {
			continue
		}
		row := x.bits[i*w : (i+1)*w : (i+1)*w]
		c := 0
		for j, b := range row {
			c += bits.OnesCount64(b ^ qb[j])
		}
		dist[i-lo] = uint16(c)
		hist[c]++
	}
	kept := 0
	for c, m := range hist {
		kept += m
		if kept >= n {
			return dist, c
		}
	}
	return dist, x.dims
}

// signBits sets bit j of out when v[j] > 0.
func signBits(out []uint64, v []float32) {
	clear(out)
	for j, f := range v {
		if f > 0 {
			out[j/64] |= 1 << (j % 64)
		}
	}
}

// quantize maps v to int8 with one scale (v[j] ≈ q[j]·scale).
func quantize(v []float32) ([]int8, float32) {
	var m float32
	for _, f := range v {
		m = max(m, float32(math.Abs(float64(f))))
	}
	out := make([]int8, len(v))
	if m == 0 {
		return out, 0
	}
	scale := m / 127
	for j, f := range v {
		out[j] = int8(math.Round(float64(f / scale)))
	}
	return out, scale
}

// dotInt8 is the dot product of two int8 vectors of one length, four
// accumulators wide.
func dotInt8(a, b []int8) int32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 int32
	n := len(a) &^ 3
	for i := 0; i < n; i += 4 {
		s0 += int32(a[i]) * int32(b[i])
		s1 += int32(a[i+1]) * int32(b[i+1])
		s2 += int32(a[i+2]) * int32(b[i+2])
		s3 += int32(a[i+3]) * int32(b[i+3])
	}
	for i := n; i < len(a); i++ {
		s0 += int32(a[i]) * int32(b[i])
	}
	return s0 + s1 + s2 + s3
}

// hitHeap is a min-heap of hits by score: its root is the worst kept.
type hitHeap []Hit

func (h hitHeap) Len() int           { return len(h) }
func (h hitHeap) Less(i, j int) bool { return h[i].Score < h[j].Score }
func (h hitHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *hitHeap) Push(v any)        { *h = append(*h, v.(Hit)) }
func (h *hitHeap) Pop() any {
	old := *h
	v := old[len(old)-1]
	*h = old[:len(old)-1]
	return v
}

// Fused is one result of reciprocal rank fusion.
type Fused struct {
	ID    int64
	Score float64
}

// rrfK is reciprocal rank fusion's constant (Cormack et al.): a result's
// score is the sum over lists of 1/(rrfK + rank), rank from 1.
const rrfK = 60

// Fuse merges ranked lists of IDs by reciprocal rank fusion, best first
// (ties by lower rank in the first list, then ID).
func Fuse(lists ...[]int64) []Fused {
	score := map[int64]float64{}
	var order []int64
	for _, l := range lists {
		for r, id := range l {
			if _, ok := score[id]; !ok {
				order = append(order, id)
			}
			score[id] += 1 / float64(rrfK+r+1)
		}
	}
	out := make([]Fused, len(order))
	for i, id := range order {
		out[i] = Fused{ID: id, Score: score[id]}
	}
	slices.SortStableFunc(out, func(a, b Fused) int {
		switch {
		case a.Score > b.Score:
			return -1
		case a.Score < b.Score:
			return 1
		}
		return 0
	})
	return out
}
