package store

import (
	"encoding/json"
	"reflect"
	"testing"
)

// jsonStrings, written by hand, must mean what encoding/json does for
// every string a list holds: escapes, control characters, non-ASCII and
// invalid UTF-8.
func TestJSONStringsMeansWhatEncodingJSONDoes(t *testing.T) {
	in := []string{"plain", `quote " and \ backslash`, "tab\tnew\nline\rcr\x00nul\x1fus\x7fdel",
		"<b>&amp;</b> ünïcödé 💾 \u2028", "bad \xff utf-8", ""}
	var got, want []string
	if err := json.Unmarshal([]byte(jsonStrings(in)), &got); err != nil {
		t.Fatalf("jsonStrings wrote invalid JSON: %v\n%s", err, jsonStrings(in))
	}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("jsonStrings = %q\nencoding/json = %q", got, want)
	}
	var list []string
	if err := json.Unmarshal([]byte(jsonStrings([]string{"x\"y", "\x02"})), &list); err != nil || !reflect.DeepEqual(list, []string{"x\"y", "\x02"}) {
		t.Fatalf("jsonStrings round trip: %q, %v", list, err)
	}
	if s := jsonStrings(nil); s != "[]" {
		t.Fatalf("jsonStrings(nil) = %s, want []", s)
	}
}
