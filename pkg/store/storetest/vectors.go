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
	if got := pending(store.EmbedQuery{Kind: store.KindObservation, Model: m1}); len(got) != 3 || got[0] != ids[0] {
		t.Fatalf("pending before any vector %v, want %v", got, ids)
	}
	if got := pending(store.EmbedQuery{Kind: store.KindObservation, Model: m1, Project: "acme", Limit: 1, AfterID: ids[0]}); len(got) != 1 || got[0] != ids[1] {
		t.Fatalf("pending page of acme after %d: %v, want [%d]", ids[0], got, ids[1])
	}
	before := time.Now().Add(-time.Second)
	if err := st.PutVectors(ctx, []store.Vector{{Kind: store.KindObservation, ID: ids[0], Model: m1, Data: vec(1, 0)}, {Kind: store.KindObservation, ID: ids[1], Model: m1, Data: vec(0, 1)}}); err != nil {
		t.Fatal(err)
	}
	// The same again (a redelivery, a second worker): still one vector each,
	// now holding the newer value.
	if err := st.PutVectors(ctx, []store.Vector{{Kind: store.KindObservation, ID: ids[0], Model: m1, Data: vec(0.5, 0.5)}}); err != nil {
		t.Fatal(err)
	}
	if got := pending(store.EmbedQuery{Kind: store.KindObservation, Model: m1}); len(got) != 1 || got[0] != ids[2] {
		t.Fatalf("pending after two vectors %v, want [%d]", got, ids[2])
	}
	if got := pending(store.EmbedQuery{Kind: store.KindObservation, Model: m1, All: true, Project: "acme"}); len(got) != 2 {
		t.Fatalf("reindex of acme lists %v, want both of its observations", got)
	}
	if got := pending(store.EmbedQuery{Kind: store.KindObservation, Model: m2}); len(got) != 3 {
		t.Fatalf("another model's pending %v, want all 3", got)
	}
	c, err := st.CountVectors(ctx, store.KindObservation, m1, "")
	if err != nil || c != (store.VectorCounts{Embedded: 2, Pending: 1}) {
		t.Fatalf("counts %+v %v, want 2 embedded 1 pending", c, err)
	}
	if c, _ := st.CountVectors(ctx, store.KindObservation, m1, "other"); c != (store.VectorCounts{Embedded: 0, Pending: 1}) {
		t.Fatalf("counts of other %+v", c)
	}
	// Written since a time, in the order written (the index's sync; its
	// own query plan): ids[0]'s rewrite came after ids[1].
	vs, err := st.Vectors(ctx, store.VectorQuery{Kind: store.KindObservation, Model: m1, Since: before})
	if err != nil || len(vs) != 2 || vs[1].ID != ids[0] || string(vs[1].Data) != string(vec(0.5, 0.5)) || vs[1].At.Before(before) || vs[1].Project != "acme" ||
		vs[0].ID != ids[1] || vs[0].At.After(vs[1].At) {
		t.Fatalf("vectors %+v %v, want #%d then the rewritten #%d", vs, err, ids[1], ids[0])
	}
	if vs, _ := st.Vectors(ctx, store.VectorQuery{Kind: store.KindObservation, Model: m1, Since: time.Now().Add(time.Hour)}); len(vs) != 0 {
		t.Fatalf("vectors written in the future: %+v", vs)
	}
	if vs, _ := st.Vectors(ctx, store.VectorQuery{Kind: store.KindObservation, Model: m1, AfterID: ids[0], Limit: 1}); len(vs) != 1 || vs[0].ID != ids[1] {
		t.Fatalf("page after %d: %+v", ids[0], vs)
	}
	first, _ := st.Vectors(ctx, store.VectorQuery{Kind: store.KindObservation, Model: m1, Since: before, Limit: 1})
	if len(first) != 1 || first[0].ID != ids[1] {
		t.Fatalf("first page since %v: %+v, want #%d", before, first, ids[1])
	}
	if vs, _ := st.Vectors(ctx, store.VectorQuery{Kind: store.KindObservation, Model: m1, Since: before, AfterAt: first[0].At, AfterID: first[0].ID, Limit: 1}); len(vs) != 1 || vs[0].ID != ids[0] {
		t.Fatalf("page since %v after #%d: %+v, want #%d", before, first[0].ID, vs, ids[0])
	}
	if vs, _ := st.Vectors(ctx, store.VectorQuery{Kind: store.KindObservation, Model: m1, Since: before, AfterAt: vs[1].At, AfterID: vs[1].ID}); len(vs) != 0 {
		t.Fatalf("page since %v after the last: %+v", before, vs)
	}
	// Stamps without data (what an index compares before reading), then
	// the vectors of chosen IDs only.
	if stamps, err := st.Vectors(ctx, store.VectorQuery{Kind: store.KindObservation, Model: m1, Since: before, Stamps: true}); err != nil || len(stamps) != 2 ||
		stamps[0].ID != vs[0].ID || !stamps[0].At.Equal(vs[0].At) || stamps[0].Data != nil ||
		stamps[1].ID != vs[1].ID || !stamps[1].At.Equal(vs[1].At) || stamps[1].Data != nil {
		t.Fatalf("stamps since %v: %+v %v, want those of %+v without data", before, stamps, err, vs)
	}
	if vs, err := st.Vectors(ctx, store.VectorQuery{Kind: store.KindObservation, Model: m1, IDs: []int64{ids[1], ids[2]}}); err != nil || len(vs) != 1 ||
		vs[0].ID != ids[1] || string(vs[0].Data) != string(vec(0, 1)) || vs[0].Project != "acme" {
		t.Fatalf("vectors of ids %d, %d: %+v %v, want only %d's (%d has none)", ids[1], ids[2], vs, err, ids[1], ids[2])
	}
	if vs, _ := st.Vectors(ctx, store.VectorQuery{Kind: store.KindObservation, Model: m2, IDs: []int64{ids[0]}}); len(vs) != 0 {
		t.Fatalf("another model's vectors of ids: %+v", vs)
	}
	if _, err := st.Vectors(ctx, store.VectorQuery{Kind: store.KindObservation, Model: m1, IDs: make([]int64, 10001)}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("10001 ids: %v, want ErrInvalid", err)
	}

	// A deleted observation's vector goes with it; a vector for an
	// observation deleted meanwhile is dropped, not an error.
	if err := st.DeleteObservation(ctx, ids[1]); err != nil {
		t.Fatal(err)
	}
	if err := st.PutVectors(ctx, []store.Vector{{Kind: store.KindObservation, ID: ids[1], Model: m1, Data: vec(1, 1)}}); err != nil {
		t.Fatalf("vector of a deleted observation: %v", err)
	}
	if got, err := st.VectorIDs(ctx, store.KindObservation, m1); err != nil || len(got) != 1 || got[0] != ids[0] {
		t.Fatalf("vector ids after delete %v %v, want [%d]", got, err, ids[0])
	}
	// A purged session's vectors go too.
	if err := st.PutVectors(ctx, []store.Vector{{Kind: store.KindObservation, ID: ids[2], Model: m2, Data: vec(1)}}); err != nil {
		t.Fatal(err)
	}
	if n, err := st.DropVectors(ctx, m2); err != nil || n != 1 {
		t.Fatalf("drop all but %s: %d %v, want 1", m2, n, err)
	}
	if got, _ := st.VectorIDs(ctx, store.KindObservation, m1); len(got) != 0 {
		t.Fatalf("old model's vectors survive the drop: %v", got)
	}
	if err := st.DeleteSession(ctx, "v1", true); err != nil {
		t.Fatal(err)
	}
	if got, _ := st.VectorIDs(ctx, store.KindObservation, m2); len(got) != 0 {
		t.Fatalf("purged session's vectors survive: %v", got)
	}

	for name, bad := range map[string]store.Vector{
		"no kind":  {ID: ids[0], Model: m1, Data: vec(1)},
		"no model": {Kind: store.KindObservation, ID: ids[0], Data: vec(1)},
		"no data":  {Kind: store.KindObservation, ID: ids[0], Model: m1},
		"odd data": {Kind: store.KindObservation, ID: ids[0], Model: m1, Data: []byte{1, 2, 3}},
		"huge":     {Kind: store.KindObservation, ID: ids[0], Model: m1, Data: make([]byte, store.MaxVectorBytes+4)},
	} {
		if err := st.PutVectors(ctx, []store.Vector{bad}); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}

// testKindVectors: summaries and prompts have vectors as observations do,
// kept apart by kind (the same ID in two kinds is two memories): embedded
// text, pending and counts per kind, one vector per memory and model
// through a redelivery, a prompt re-written with other text losing its
// vector, and every kind's vectors gone with a recompression, a purge or a
// model change.
func testKindVectors(t *testing.T, dsn string) {
	ctx, st, _ := begin(t, dsn)
	s := seedText(t, st) // sessions t1 (acme) and t2 (beta): a prompt, an observation, a summary each
	mustApply(t, st, store.Unit{SessionID: "t1", Fence: 1, Events: []store.AppliedEvent{ev(s, "user_prompt")},
		Prompts: []store.Prompt{{SessionID: "t1", Number: 2, Private: true}}}) // nothing to embed
	const m1, m2 = "fake:m1", "fake:m2"
	pending := func(k store.Kind, project string) []store.Embeddable {
		t.Helper()
		got, err := st.ToEmbed(ctx, store.EmbedQuery{Kind: k, Model: m1, Project: project})
		if err != nil {
			t.Fatalf("%s to embed: %v", k, err)
		}
		return got
	}
	sums, prompts, observations := pending(store.KindSummary, ""), pending(store.KindPrompt, ""), pending(store.KindObservation, "")
	if len(sums) != 2 || len(prompts) != 2 || len(observations) != 2 {
		t.Fatalf("pending summaries %+v prompts %+v observations %+v, want 2 of each (the private prompt left out)", sums, prompts, observations)
	}
	if got := sums[0]; got.Project != "acme" || got.Text != "Fix the flaky websocket reconnect\nlearned while Fix the flaky websocket reconnect\ndone" {
		t.Fatalf("summary to embed %+v: want acme's request, learned and completed, a line each", got)
	}
	if got := prompts[1]; got.Project != "beta" || got.Text != "Add a websocket heartbeat to the gateway" {
		t.Fatalf("prompt to embed %+v: want beta's prompt text", got)
	}
	if got := observations[0]; got.Text != "Websocket reconnect waits for backoff\nnarrative of Websocket reconnect waits for backoff\nfact about Websocket reconnect waits for backoff" {
		t.Fatalf("observation to embed %+v: want its title, narrative and facts", got)
	}
	if got := pending(store.KindPrompt, "beta"); len(got) != 1 || got[0].ID != prompts[1].ID {
		t.Fatalf("beta's prompts to embed %+v, want [%d]", got, prompts[1].ID)
	}
	if h, err := st.PromptsByID(ctx, []int64{prompts[1].ID, 1 << 40}); err != nil || len(h) != 1 || h[0].ID != prompts[1].ID || h[0].Project != "beta" ||
		h[0].Platform != "cursor" || h[0].Prompt.Number != 1 {
		t.Fatalf("prompts by id %+v %v, want beta's first prompt alone", h, err)
	}
	if got, err := st.Summaries(ctx, []int64{sums[1].ID}); err != nil || len(got) != 1 || got[0].SessionID != "t2" {
		t.Fatalf("summaries by id %+v %v, want t2's", got, err)
	}
	if h, _ := st.SearchPrompts(ctx, store.SearchQuery{Text: "heartbeat"}); len(h) != 1 || h[0].ID != prompts[1].ID {
		t.Fatalf("a prompt found by text carries its ID: %+v, want %d", h, prompts[1].ID)
	}

	// One vector per memory and model, whichever the kind, through a
	// redelivery; IDs of different kinds never meet.
	var put []store.Vector
	for _, e := range sums {
		put = append(put, store.Vector{Kind: store.KindSummary, ID: e.ID, Model: m1, Data: vec(1, 0)})
	}
	for _, e := range prompts {
		put = append(put, store.Vector{Kind: store.KindPrompt, ID: e.ID, Model: m1, Data: vec(0, 1)})
	}
	for range 2 {
		if err := st.PutVectors(ctx, put); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []store.Kind{store.KindSummary, store.KindPrompt} {
		if got := pending(k, ""); len(got) != 0 {
			t.Fatalf("%s still pending after its vectors: %+v", k, got)
		}
		if c, err := st.CountVectors(ctx, k, m1, ""); err != nil || c != (store.VectorCounts{Embedded: 2}) {
			t.Fatalf("%s counts %+v %v, want 2 embedded, none pending", k, c, err)
		}
		if c, _ := st.CountVectors(ctx, k, m1, "beta"); c != (store.VectorCounts{Embedded: 1}) {
			t.Fatalf("%s counts of beta %+v, want 1 embedded", k, c)
		}
	}
	if c, _ := st.CountVectors(ctx, store.KindObservation, m1, ""); c != (store.VectorCounts{Pending: 2}) {
		t.Fatalf("observation counts %+v: other kinds' vectors counted", c)
	}
	vs, err := st.Vectors(ctx, store.VectorQuery{Kind: store.KindPrompt, Model: m1, Since: time.Now().Add(-time.Minute)})
	if err != nil || len(vs) != 2 || vs[0].Kind != store.KindPrompt || vs[0].ID != prompts[0].ID || vs[0].Project != "acme" ||
		vs[1].Project != "beta" || string(vs[0].Data) != string(vec(0, 1)) {
		t.Fatalf("prompt vectors %+v %v, want acme's then beta's", vs, err)
	}
	if vs, _ := st.Vectors(ctx, store.VectorQuery{Kind: store.KindSummary, Model: m1, AfterID: sums[0].ID}); len(vs) != 1 || vs[0].ID != sums[1].ID {
		t.Fatalf("summary vectors after %d: %+v", sums[0].ID, vs)
	}

	// A prompt re-written with the same text keeps its vector; with other
	// text it waits for a new one.
	rewrite := func(text string) {
		mustApply(t, st, store.Unit{SessionID: "t2", Fence: 1, Events: []store.AppliedEvent{ev(s, "user_prompt")},
			Prompts: []store.Prompt{{SessionID: "t2", Number: 1, Text: text}}})
	}
	rewrite("Add a websocket heartbeat to the gateway")
	if got := pending(store.KindPrompt, ""); len(got) != 0 {
		t.Fatalf("a prompt re-written unchanged lost its vector: %+v", got)
	}
	rewrite("Add a keepalive ping to the gateway")
	if got := pending(store.KindPrompt, ""); len(got) != 1 || got[0].ID != prompts[1].ID || got[0].Text != "Add a keepalive ping to the gateway" {
		t.Fatalf("a prompt re-written with other text: pending %+v, want it with its new text", got)
	}

	// A recompression replaces the session's summaries: their vectors go.
	u := toolUnit(s, "t1", 1, obs("t1", "acme", store.TypeChange, "recompressed", "n"))
	u.ReplaceObservations = true
	mustApply(t, st, u)
	if ids, _ := st.VectorIDs(ctx, store.KindSummary, m1); len(ids) != 1 || ids[0] != sums[1].ID {
		t.Fatalf("summary vectors after t1's recompression %v, want t2's alone [%d]", ids, sums[1].ID)
	}
	// A purged session's prompts and summaries take their vectors along.
	if err := st.DeleteSession(ctx, "t1", true); err != nil {
		t.Fatal(err)
	}
	if ids, _ := st.VectorIDs(ctx, store.KindPrompt, m1); len(ids) != 0 {
		t.Fatalf("prompt vectors after t1's purge and t2's rewrite: %v, want none", ids)
	}
	// A model change drops every kind's old vectors.
	if err := st.PutVectors(ctx, []store.Vector{{Kind: store.KindPrompt, ID: prompts[1].ID, Model: m2, Data: vec(1)}}); err != nil {
		t.Fatal(err)
	}
	if n, err := st.DropVectors(ctx, m2); err != nil || n != 1 {
		t.Fatalf("drop all but %s: %d %v, want t2's summary vector", m2, n, err)
	}
	if ids, _ := st.VectorIDs(ctx, store.KindPrompt, m2); len(ids) != 1 {
		t.Fatalf("the kept model's prompt vector went: %v", ids)
	}
	if _, err := st.ToEmbed(ctx, store.EmbedQuery{Kind: "session", Model: m1}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("unknown kind: %v, want ErrInvalid", err)
	}
}
