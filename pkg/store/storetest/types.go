package storetest

import (
	"errors"
	"strings"
	"testing"

	"github.com/mnemo-dev/mnemo/pkg/store"
)

// Observation types are an open set: claude-mem's code mode's
// security_alert, security_note and sensitive, and another mode's own, are
// stored and filtered on; a malformed one is refused naming the shape.
func testOpenObservationTypes(t *testing.T, dsn string) {
	ctx, st, s := begin(t, dsn)
	for _, typ := range []string{store.TypeSecurityAlert, store.TypeSecurityNote, store.TypeSensitive, "case-law"} {
		mustApply(t, st, toolUnit(s, "ty1", 1, obs("ty1", "acme", typ, "observed "+typ, "n")))
	}
	o, err := st.SessionObservations(ctx, "ty1")
	if err != nil || len(o) != 4 || o[0].Type != store.TypeSecurityAlert || o[3].Type != "case-law" {
		t.Fatalf("stored %v %+v", err, o)
	}
	hits, err := st.Search(ctx, store.SearchQuery{Project: "acme", Types: []string{store.TypeSecurityNote, "case-law"}})
	if err != nil || len(hits) != 2 {
		t.Fatalf("type filter: %v, %d hits, want 2", err, len(hits))
	}
	_, err = st.Apply(ctx, toolUnit(s, "ty1", 1, obs("ty1", "acme", "Security Alert!", "bad", "n")))
	var ie *store.InvalidError
	if !errors.As(err, &ie) || !strings.Contains(ie.Reason, "a-z") || !strings.Contains(ie.Reason, "security_alert") {
		t.Fatalf("malformed type: %v, want an InvalidError naming the allowed shape", err)
	}
}
