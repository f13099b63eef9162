package semantic

import (
	"cmp"
	"container/heap"
	"encoding/binary"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
)

// Index holds one model's vectors in memory, quantized to int8 with a
// scale per vector (a quarter of float32's memory), plus each vector's sign
// bits, in one slab per project so that a project's search reads only its
// own vectors. A search estimates every candidate's score from its sign
// bits against the full query (a table lookup per 8 dimensions), rescores
// only the best-estimated share in int8, and keeps the best k: no build,
// nothing missed that was not told (docs/ARCHITECTURE.md §14, bench
// figures there).
type Index struct {
	mu      sync.RWMutex
	dims    int
	codeLen int // bytes of sign bits per vector
	slabs   map[string]*slab
	pos     map[int64]*slab
	n       int
}

// slab is one project's vectors, entry i at data[i*dims:], code[i*codeLen:].
type slab struct {
	ids   []int64
	stamp []int64 // what Put was told the vector's version is
	scale []float32
	data  []int8
	code  []byte // sign bits, bit b of byte p is dimension 8p+b > 0
	at    map[int64]int
}

// Hit is one neighbour: an observation ID and its cosine similarity
// (approximate, from the quantized vector).
type Hit struct {
	ID    int64
	Score float32
}

// NewIndex returns an empty index.
func NewIndex() *Index {
	return &Index{slabs: map[string]*slab{}, pos: map[int64]*slab{}}
}

// Put adds or replaces a memory's vector, of version stamp (its time of
// writing: Holds compares it). The first vector fixes the index's
// dimensions; another length is refused.
func (x *Index) Put(id int64, project string, stamp int64, v []float32) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.dims == 0 {
		x.dims, x.codeLen = len(v), (len(v)+7)/8
	}
	if len(v) != x.dims || len(v) == 0 {
		return fmt.Errorf("semantic: vector of %d dimensions for an index of %d", len(v), x.dims)
	}
	sl := x.slabs[project]
	if sl == nil {
		sl = &slab{at: map[int64]int{}}
		x.slabs[project] = sl
	}
	if old, ok := x.pos[id]; ok && old != sl {
		x.remove(id) // moved to another project
	}
	qv, scale := quantize(v)
	i, ok := sl.at[id]
	if !ok {
		i = len(sl.ids)
		sl.at[id] = i
		x.pos[id] = sl
		x.n++
		sl.ids = append(sl.ids, id)
		sl.stamp = append(sl.stamp, 0)
		sl.scale = append(sl.scale, 0)
		sl.data = append(sl.data, make([]int8, x.dims)...)
		sl.code = append(sl.code, make([]byte, x.codeLen)...)
	}
	signCode(sl.code[i*x.codeLen:(i+1)*x.codeLen], v)
	sl.scale[i], sl.stamp[i] = scale, stamp
	copy(sl.data[i*x.dims:(i+1)*x.dims], qv)
	return nil
}

// Holds says whether the index has id's vector of version stamp.
func (x *Index) Holds(id, stamp int64) bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	sl, ok := x.pos[id]
	return ok && sl.stamp[sl.at[id]] == stamp
}

// Remove drops an observation's vector, if held.
func (x *Index) Remove(id int64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.remove(id)
}

func (x *Index) remove(id int64) {
	sl, ok := x.pos[id]
	if !ok {
		return
	}
	i := sl.at[id]
	last := len(sl.ids) - 1
	d, c := x.dims, x.codeLen
	if i != last {
		sl.ids[i], sl.stamp[i], sl.scale[i] = sl.ids[last], sl.stamp[last], sl.scale[last]
		copy(sl.data[i*d:(i+1)*d], sl.data[last*d:])
		copy(sl.code[i*c:(i+1)*c], sl.code[last*c:])
		sl.at[sl.ids[i]] = i
	}
	sl.ids, sl.stamp, sl.scale = sl.ids[:last], sl.stamp[:last], sl.scale[:last]
	sl.data, sl.code = sl.data[:last*d], sl.code[:last*c]
	delete(sl.at, id)
	delete(x.pos, id)
	x.n--
}

// Keep removes every vector whose ID is not in ids (sorted ascending) and
// returns how many went. The comparison (a binary search per vector held,
// milliseconds at 100k) runs under the read lock, so searches go on
// meanwhile; only the removal holds the write lock.
func (x *Index) Keep(ids []int64) int {
	x.mu.RLock()
	var gone []int64
	for id := range x.pos {
		if _, ok := slices.BinarySearch(ids, id); !ok {
			gone = append(gone, id)
		}
	}
	x.mu.RUnlock()
	if len(gone) == 0 {
		return 0
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	n := 0
	for _, id := range gone {
		if _, ok := x.pos[id]; ok {
			x.remove(id)
			n++
		}
	}
	return n
}

// Len is the number of vectors held.
func (x *Index) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.n
}

// Bytes is the memory the vectors and their bookkeeping take, roughly.
func (x *Index) Bytes() int64 {
	x.mu.RLock()
	defer x.mu.RUnlock()
	var b int64
	for _, sl := range x.slabs {
		// data, code, id, stamp, scale, and two map entries (~48 bytes
		// each).
		b += int64(cap(sl.data)) + int64(cap(sl.code)) + int64(cap(sl.ids)+cap(sl.stamp))*8 + int64(cap(sl.scale))*4 + int64(len(sl.at))*96
	}
	return b
}

// Bounds of a search's work.
const (
	// scanParallelFrom is the number of vectors from which a search
	// splits its work over the CPUs.
	scanParallelFrom = 8192
	// shortlistFrom is the number of vectors searched from which a search
	// estimates every vector from its sign bits and rescores in int8 only
	// the best 1/shortlistShare of them (at least shortlistMin·k), over
	// all the projects searched: one shortlist, not one per project.
	shortlistFrom  = 4096
	shortlistShare = 32
	shortlistMin   = 50
	// partMin is the fewest entries a part of a slab is split to.
	partMin = 4096
)

// query is a search's query, prepared once for every part it scans, and
// its working memory.
type query struct {
	qi  []int8
	qs  float32
	lut [][256]int16 // per code byte: the sum of qi over its set bits (≤ 8·127)
	est []int32      // the sign estimates, a stretch per part
	k   int
}

// queries recycles queries' working memory (about 0.5 MB a search at 100k
// vectors of 768 dimensions), so that searches do not feed the collector.
var queries = sync.Pool{New: func() any { return new(query) }}

// part is a range of one slab's entries that one goroutine scans.
type part struct {
	sl     *slab
	lo, hi int
	est    int // the part's first estimate in query.est
	// Of a shortlisted search: the least and greatest estimate of the
	// part, then the shortlist's cutoff and how many of the part's
	// entries estimated at it are rescored (all == false).
	elo, ehi int32
	cut      int32
	atCut    int
	all      bool // rescore every entry (no shortlist)
}

// Search returns the k vectors nearest q (unit length, the index's
// dimensions), best first, of project when it is not "".
func (x *Index) Search(q []float32, project string, k int) []Hit {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if k <= 0 || x.n == 0 || len(q) != x.dims {
		return nil
	}
	var slabs []*slab
	if project != "" {
		sl, ok := x.slabs[project]
		if !ok {
			return nil
		}
		slabs = []*slab{sl}
	} else {
		for _, sl := range x.slabs {
			slabs = append(slabs, sl)
		}
	}
	total := 0
	for _, sl := range slabs {
		total += len(sl.ids)
	}
	if total == 0 {
		return nil
	}
	qq := x.prepare(q, k, total)
	defer queries.Put(qq)
	// Parts of about total/cpus entries (a slab never split below
	// partMin), scanned by up to cpus goroutines.
	cpus := 1
	if total >= scanParallelFrom {
		cpus = min(runtime.GOMAXPROCS(0), 8)
	}
	size := max((total+cpus-1)/cpus, partMin)
	var parts []part
	at := 0 // where the part's estimates go in qq.est
	for _, sl := range slabs {
		n := len(sl.ids)
		for lo := 0; lo < n; {
			hi := min(n, lo+size)
			if n-hi < size/2 { // no small tail part
				hi = n
			}
			parts = append(parts, part{sl: sl, lo: lo, hi: hi, est: at})
			at += hi - lo
			lo = hi
		}
	}
	want := max(shortlistMin*k, total/shortlistShare)
	if total < shortlistFrom || want >= total {
		for i := range parts {
			parts[i].all = true
		}
	} else {
		// Estimate every entry, then rescore only the shortlist: the
		// best-estimated want of all the parts together.
		each(len(parts), cpus, func(i int) {
			p := &parts[i]
			p.elo, p.ehi = estimate(qq.est[p.est:p.est+p.hi-p.lo], p.sl.code[p.lo*x.codeLen:p.hi*x.codeLen], qq.lut)
		})
		shortlist(qq.est, parts, want)
	}
	results := make([]hitHeap, len(parts))
	each(len(parts), cpus, func(i int) { results[i] = x.rescore(qq, &parts[i]) })
	var all []Hit
	for _, h := range results {
		all = append(all, h...)
	}
	slices.SortFunc(all, func(a, b Hit) int { return cmp.Compare(b.Score, a.Score) }) // best first
	return all[:min(k, len(all))]
}

// prepare quantizes q like the vectors and builds its lookup table: for
// each code byte and each of its 256 values, the sum of the query's int8
// components at the set bits. The query comes from the pool, with room for
// n estimates.
func (x *Index) prepare(q []float32, k, n int) *query {
	qq := queries.Get().(*query)
	qq.qi, qq.qs = quantizeInto(qq.qi, q)
	if cap(qq.lut) < x.codeLen {
		qq.lut = make([][256]int16, x.codeLen)
	}
	qq.lut = qq.lut[:x.codeLen]
	for p := range qq.lut {
		t := &qq.lut[p]
		t[0] = 0
		for b := 0; b < 8 && 8*p+b < len(qq.qi); b++ {
			v, bit := int16(qq.qi[8*p+b]), 1<<b
			for m := bit; m < 2*bit; m++ {
				t[m] = t[m-bit] + v
			}
		}
	}
	if cap(qq.est) < n {
		qq.est = make([]int32, n)
	}
	qq.est, qq.k = qq.est[:n], k
	return qq
}

// each runs fn(0..n-1) on up to cpus goroutines, and returns when all are
// done.
func each(n, cpus int, fn func(i int)) {
	if cpus <= 1 || n <= 1 {
		for i := range n {
			fn(i)
		}
		return
	}
	var wg sync.WaitGroup
	var next atomic.Int32
	for range min(cpus, n) {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				fn(i)
			}
		})
	}
	wg.Wait()
}

// shortlist sets each part's cutoff and share of the entries estimated at
// it, so that the parts together rescore want entries: every entry
// estimated above the cutoff, and of those estimated at it only as many as
// the rest leaves room for, the first parts first. Sparse vectors (a few
// concepts each) tie by the thousand, mostly at an estimate that shares
// nothing with the query.
func shortlist(est []int32, parts []part, want int) {
	lo, hi := int32(math.MaxInt32), int32(math.MinInt32)
	for _, p := range parts {
		lo, hi = min(lo, p.elo), max(hi, p.ehi)
	}
	cut := cutoff(est, lo, hi, want)
	room := want
	for _, e := range est {
		if e > cut {
			room--
		}
	}
	for i := range parts {
		p := &parts[i]
		p.cut = cut
		n := 0
		for _, e := range est[p.est : p.est+p.hi-p.lo] {
			if e == cut {
				n++
			}
		}
		p.atCut = min(n, max(room, 0))
		room -= p.atCut
	}
}

// rescore keeps the k best of one part by their int8 dot product with the
// query: of every entry, or of the part's shortlist.
func (x *Index) rescore(qq *query, p *part) hitHeap {
	sl, k := p.sl, qq.k
	h := make(hitHeap, 0, k)
	d := x.dims
	keep := func(i int) {
		s := float32(dotInt8(qq.qi, sl.data[i*d:(i+1)*d])) * qq.qs * sl.scale[i]
		if len(h) < k {
			heap.Push(&h, Hit{ID: sl.ids[i], Score: s})
		} else if s > h[0].Score {
			h[0] = Hit{ID: sl.ids[i], Score: s}
			heap.Fix(&h, 0)
		}
	}
	if p.all {
		for i := p.lo; i < p.hi; i++ {
			keep(i)
		}
		return h
	}
	room := p.atCut
	for i, e := range qq.est[p.est : p.est+p.hi-p.lo] {
		if e > p.cut || (e == p.cut && room > 0) {
			if e == p.cut {
				room--
			}
			keep(p.lo + i)
		}
	}
	return h
}

// estimate sets est[i] to the sum of lut over the bytes of the i-th code
// (len(lut) bytes each) and returns the least and greatest. Eight code
// bytes are read at once, into four accumulators: the lookups are
// independent, and this loop is most of a large search's work.
func estimate(est []int32, codes []byte, lut [][256]int16) (lo, hi int32) {
	c := len(lut)
	lo, hi = math.MaxInt32, math.MinInt32
	for i := range est {
		code, t := codes[i*c:(i+1)*c:(i+1)*c], lut
		var s0, s1, s2, s3 int32
		for len(code) >= 8 {
			w := binary.LittleEndian.Uint64(code)
			u := t[:8:8]
			s0 += int32(u[0][byte(w)]) + int32(u[4][byte(w>>32)])
			s1 += int32(u[1][byte(w>>8)]) + int32(u[5][byte(w>>40)])
			s2 += int32(u[2][byte(w>>16)]) + int32(u[6][byte(w>>48)])
			s3 += int32(u[3][byte(w>>24)]) + int32(u[7][byte(w>>56)])
			code, t = code[8:], t[8:]
		}
		for j, b := range code {
			s0 += int32(t[j][b])
		}
		s := s0 + s1 + s2 + s3
		est[i] = s
		lo, hi = min(lo, s), max(hi, s)
	}
	return lo, hi
}

// cutoff is the largest estimate that at least want of est reach (est's
// values lie in lo..hi), found with a histogram.
func cutoff(est []int32, lo, hi int32, want int) int32 {
	const bins = 4096
	span := int64(hi-lo) + 1
	var hist [bins]int32
	for _, e := range est {
		hist[int64(e-lo)*bins/span]++
	}
	kept := 0
	for b := bins - 1; b >= 0; b-- {
		kept += int(hist[b])
		if kept >= want {
			// The smallest estimate that falls in bin b.
			return lo + int32((int64(b)*span+bins-1)/bins)
		}
	}
	return lo
}

// signCode sets bit b of out[p] when v[8p+b] > 0.
func signCode(out []byte, v []float32) {
	clear(out)
	for j, f := range v {
		if f > 0 {
			out[j/8] |= 1 << (j % 8)
		}
	}
}

// quantize maps v to int8 with one scale (v[j] ≈ q[j]·scale).
func quantize(v []float32) ([]int8, float32) {
	return quantizeInto(nil, v)
}

// quantizeInto is quantize writing into out's memory when it has room.
func quantizeInto(out []int8, v []float32) ([]int8, float32) {
	var m float32
	for _, f := range v {
		m = max(m, float32(math.Abs(float64(f))))
	}
	if cap(out) < len(v) {
		out = make([]int8, len(v))
	}
	out = out[:len(v)]
	if m == 0 {
		clear(out)
		return out, 0
	}
	scale := m / 127
	for j, f := range v {
		out[j] = int8(math.Round(float64(f / scale)))
	}
	return out, scale
}

// dotInt8 is the dot product of two int8 vectors of one length, eight
// components a step into four accumulators, with no bounds checks inside
// the step (measured faster than four a step on this machine).
func dotInt8(a, b []int8) int32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 int32
	for len(a) >= 8 {
		x, y := a[:8:8], b[:8:8]
		s0 += int32(x[0])*int32(y[0]) + int32(x[4])*int32(y[4])
		s1 += int32(x[1])*int32(y[1]) + int32(x[5])*int32(y[5])
		s2 += int32(x[2])*int32(y[2]) + int32(x[6])*int32(y[6])
		s3 += int32(x[3])*int32(y[3]) + int32(x[7])*int32(y[7])
		a, b = a[8:], b[8:]
	}
	for i := range a {
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
	slices.SortStableFunc(out, func(a, b Fused) int { return cmp.Compare(b.Score, a.Score) }) // best first
	return out
}
