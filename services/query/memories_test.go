package query_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/store"
	"github.com/mnemo-dev/mnemo/services/query"
)

// POST /v1/memories answers each of its limits (the body, MaxMemoryBody; the
// text, store.MaxTextLen; the title and project, store.MaxShortLen) with a
// 413 naming the field and saying the limit, stores nothing then, and
// accepts a memory at the limits, without what was inside <private>.
func TestMemoryLimitsAndPrivate(t *testing.T) {
	r := newRig(t)
	body := func(text, title, project string) string {
		b, _ := json.Marshal(query.MemoryRequest{Text: text, Title: title, Project: project})
		return string(b)
	}
	var refused struct {
		Error string `json:"error"`
		Field string `json:"field"`
	}
	for _, tc := range []struct {
		name, body, field string
		limit             int
	}{
		{"body", body(strings.Repeat("b", query.MaxMemoryBody), "", "acme"), "body", query.MaxMemoryBody},
		{"text", body(strings.Repeat("t", store.MaxTextLen+1), "", "acme"), "text", store.MaxTextLen},
		{"title", body("a fact", strings.Repeat("T", store.MaxShortLen+1), "acme"), "title", store.MaxShortLen},
		{"project", body("a fact", "", strings.Repeat("p", store.MaxShortLen+1)), "project", store.MaxShortLen},
	} {
		refused.Error, refused.Field = "", ""
		code := r.do("POST", "/v1/memories", tc.body, &refused)
		if code != 413 || refused.Field != tc.field || !strings.Contains(refused.Error, fmt.Sprint(tc.limit)) {
			t.Fatalf("%s over its limit: %d %+v; want 413 naming %s and saying %d", tc.name, code, refused, tc.field, tc.limit)
		}
	}
	if c, err := r.store.Counts(context.Background(), "", time.Time{}); err != nil || c.Observations != 0 {
		t.Fatalf("refused memories stored: %+v, %v", c, err)
	}

	// At the limits, with private parts that do not count once stripped.
	secret := "<private>sk-live-AAA</private>"
	text := secret + strings.Repeat("t", store.MaxTextLen-len(secret))
	title := "deploy key <private>pw-BBB</private>" + strings.Repeat("T", store.MaxShortLen-36)
	var created struct {
		ID int64 `json:"id"`
	}
	if code := r.do("POST", "/v1/memories", body(text, title, strings.Repeat("p", store.MaxShortLen)), &created); code != 201 || created.ID == 0 {
		t.Fatalf("a memory at the limits: %d", code)
	}
	got, err := r.store.Observations(context.Background(), []int64{created.ID})
	if err != nil || len(got) != 1 {
		t.Fatalf("stored memory: %d, %v", len(got), err)
	}
	stored, _ := json.Marshal(got[0])
	for _, s := range []string{"sk-live-AAA", "pw-BBB", "private>"} {
		if strings.Contains(string(stored), s) {
			t.Fatalf("stored memory keeps %q", s)
		}
	}
	if !strings.HasPrefix(got[0].Title, "deploy key TTT") || len(got[0].Narrative) != store.MaxTextLen-len(secret) {
		t.Fatalf("stored memory lost text outside <private>: title %.20q…, narrative %d bytes", got[0].Title, len(got[0].Narrative))
	}
}
