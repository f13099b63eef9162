package storetest

import (
	"encoding/binary"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/store"
)

// vec packs float32s as the store keeps them (little-endian).
func vec(xs ...float32) []byte {
	b := make([]byte, 4*len(xs))
	for i, x := range xs {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

// testVectors: vectors are one per observation and model, found as pending
// until written, counted, paged, gone with their observation, and dropped
// for other models.
func testVectors(t *testing.T, dsn string) {
	ctx, st, s := begin(t, dsn)
	var ids []int64
	for i, title := range []string{"alpha", "beta", "gamma"} {
		project := "acme"
		if i == 2 {
			project = "other"
		}
		res := mustApply(t, st, toolUnit(s, "v1", 1, obs("v1", project, store.TypeChange, title, "n")))
		ids = append(ids, res.ObservationIDs[0])
	}
	const m1, m2 = "fake:m1", "fake:m2"
	pending := func(q store.EmbedQuery) []int64 {
		t.Helper()
		got, err := st.ToEmbed(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		out := []int64{}
		for _, o := range got {
			out = append(out, o.ID)
		}
		return out
	}
	if got := pending(store.EmbedQuery{Model: m1}); len(got) != 3 || got[0] != ids[0] {
		t.Fatalf("pending before any vector %v, want %v", got, ids)
	}
	if got := pending(store.EmbedQuery{Model: m1, Project: "acme", Limit: 1, AfterID: ids[0]}); len(got) != 1 || got[0] != ids[1] {
		t.Fatalf("pending page of acme after %d: %v, want [%d]", ids[0], got, ids[1])
	}
	before := time.Now().Add(-time.Second)
	if err := st.PutVectors(ctx, []store.Vector{{ObservationID: ids[0], Model: m1, Data: vec(1, 0)}, {ObservationID: ids[1], Model: m1, Data: vec(0, 1)}}); err != nil {
		t.Fatal(err)
	}
	// The same again (a redelivery, a second worker): still one vector each,
	// now holding the newer value.
	if err := st.PutVectors(ctx, []store.Vector{{ObservationID: ids[0], Model: m1, Data: vec(0.5, 0.5)}}); err != nil {
		t.Fatal(err)
	}
	if got := pending(store.EmbedQuery{Model: m1}); len(got) != 1 || got[0] != ids[2] {
		t.Fatalf("pending after two vectors %v, want [%d]", got, ids[2])
	}
	if got := pending(store.EmbedQuery{Model: m1, All: true, Project: "acme"}); len(got) != 2 {
		t.Fatalf("reindex of acme lists %v, want both of its observations", got)
	}
	if got := pending(store.EmbedQuery{Model: m2}); len(got) != 3 {
		t.Fatalf("another model's pending %v, want all 3", got)
	}
	c, err := st.CountVectors(ctx, m1, "")
	if err != nil || c != (store.VectorCounts{Embedded: 2, Pending: 1}) {
		t.Fatalf("counts %+v %v, want 2 embedded 1 pending", c, err)
	}
	if c, _ := st.CountVectors(ctx, m1, "other"); c != (store.VectorCounts{Embedded: 0, Pending: 1}) {
		t.Fatalf("counts of other %+v", c)
	}
	vs, err := st.Vectors(ctx, store.VectorQuery{Model: m1, Since: before})
	if err != nil || len(vs) != 2 || vs[0].ObservationID != ids[0] || string(vs[0].Data) != string(vec(0.5, 0.5)) || vs[0].At.Before(before) || vs[0].Project != "acme" {
		t.Fatalf("vectors %+v %v, want 2 with the rewritten first", vs, err)
	}
	if vs, _ := st.Vectors(ctx, store.VectorQuery{Model: m1, Since: time.Now().Add(time.Hour)}); len(vs) != 0 {
		t.Fatalf("vectors written in the future: %+v", vs)
	}
	if vs, _ := st.Vectors(ctx, store.VectorQuery{Model: m1, AfterID: ids[0], Limit: 1}); len(vs) != 1 || vs[0].ObservationID != ids[1] {
		t.Fatalf("page after %d: %+v", ids[0], vs)
	}
	// Written since a time, paged by ID (the index's sync; its own query
	// plan).
	if vs, _ := st.Vectors(ctx, store.VectorQuery{Model: m1, Since: before, Limit: 1}); len(vs) != 1 || vs[0].ObservationID != ids[0] {
		t.Fatalf("first page since %v: %+v", before, vs)
	}
	if vs, _ := st.Vectors(ctx, store.VectorQuery{Model: m1, Since: before, AfterID: ids[0], Limit: 1}); len(vs) != 1 || vs[0].ObservationID != ids[1] {
		t.Fatalf("page since %v after %d: %+v", before, ids[0], vs)
	}

	// A deleted observation's vector goes with it; a vector for an
	// observation deleted meanwhile is dropped, not an error.
	if err := st.DeleteObservation(ctx, ids[1]); err != nil {
		t.Fatal(err)
	}
	if err := st.PutVectors(ctx, []store.Vector{{ObservationID: ids[1], Model: m1, Data: vec(1, 1)}}); err != nil {
		t.Fatalf("vector of a deleted observation: %v", err)
	}
	if got, err := st.VectorIDs(ctx, m1); err != nil || len(got) != 1 || got[0] != ids[0] {
		t.Fatalf("vector ids after delete %v %v, want [%d]", got, err, ids[0])
	}
	// A purged session's vectors go too.
	if err := st.PutVectors(ctx, []store.Vector{{ObservationID: ids[2], Model: m2, Data: vec(1)}}); err != nil {
		t.Fatal(err)
	}
	if n, err := st.DropVectors(ctx, m2); err != nil || n != 1 {
		t.Fatalf("drop all but %s: %d %v, want 1", m2, n, err)
	}
	if got, _ := st.VectorIDs(ctx, m1); len(got) != 0 {
		t.Fatalf("old model's vectors survive the drop: %v", got)
	}
	if err := st.DeleteSession(ctx, "v1", true); err != nil {
		t.Fatal(err)
	}
	if got, _ := st.VectorIDs(ctx, m2); len(got) != 0 {
		t.Fatalf("purged session's vectors survive: %v", got)
	}

	for name, bad := range map[string]store.Vector{
		"no model": {ObservationID: ids[0], Data: vec(1)},
		"no data":  {ObservationID: ids[0], Model: m1},
		"odd data": {ObservationID: ids[0], Model: m1, Data: []byte{1, 2, 3}},
		"huge":     {ObservationID: ids[0], Model: m1, Data: make([]byte, store.MaxVectorBytes+4)},
	} {
		if err := st.PutVectors(ctx, []store.Vector{bad}); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}
