package store

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// The bulk import's hand-written JSON must mean what encoding/json's does
// for every value a row holds: escapes, control characters, non-ASCII,
// invalid UTF-8, lists, times, nulls and numbers.
func TestBulkRowsJSONMeansWhatEncodingJSONDoes(t *testing.T) {
	at := time.Date(2026, 12, 7, 22, 0, 0, 123000, time.UTC)
	rows := [][]any{
		{"plain", `quote " and \ backslash`, "tab\tnew\nline\rcr\x00nul\x1fus\x7fdel", "<b>&amp;</b> ünïcödé 💾 \u2028",
			"bad \xff utf-8", 42, int64(-7), true, nil, at, &at, (*time.Time)(nil)},
		{[]string{"a \"b\"", "<c>", "\x01"}, []string(nil), []int64{1, 2}, ""},
	}
	var got, want any
	if err := json.Unmarshal(bulkRowsJSON(rows), &got); err != nil {
		t.Fatalf("bulkRowsJSON wrote invalid JSON: %v\n%s", err, bulkRowsJSON(rows))
	}
	enc := make([][]any, len(rows))
	for i, r := range rows {
		enc[i] = sqliteArgs(r)
	}
	b, err := json.Marshal(enc)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("bulkRowsJSON = %v\nencoding/json = %v", got, want)
	}
	var list []string
	if err := json.Unmarshal([]byte(jsonStrings([]string{"x\"y", "\x02"})), &list); err != nil || !reflect.DeepEqual(list, []string{"x\"y", "\x02"}) {
		t.Fatalf("jsonStrings round trip: %q, %v", list, err)
	}
	if s := jsonStrings(nil); s != "[]" {
		t.Fatalf("jsonStrings(nil) = %s, want []", s)
	}
}
