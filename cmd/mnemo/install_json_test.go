package main

import (
	"encoding/json"
	"reflect"
	"testing"
)

// parseSpans finds every member and element, nested, empty or not, and each
// node's span is exactly its value's JSON text.
func TestParseSpansCoversEveryValue(t *testing.T) {
	doc := []byte(` { "a" : [1, {"b": [] , "c": {}}, "x\"y", [ [ ] ]], "d":{ "e" : null } , "f": -1.5e3 } `)
	root, err := parseSpans(doc)
	if err != nil {
		t.Fatal(err)
	}
	var check func(n *jnode) any
	check = func(n *jnode) any {
		var want any
		if err := json.Unmarshal(doc[n.start:n.end], &want); err != nil {
			t.Fatalf("span %d-%d %q: %v", n.start, n.end, doc[n.start:n.end], err)
		}
		var got any = want
		switch n.kind {
		case '{':
			m := map[string]any{}
			for _, mb := range n.members {
				m[mb.key] = check(mb.val)
			}
			got = m
		case '[':
			a := []any{}
			for _, el := range n.elems {
				a = append(a, check(el))
			}
			got = a
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("span %q parsed as %#v, want %#v", doc[n.start:n.end], got, want)
		}
		return got
	}
	check(root)
	if len(root.members) != 3 {
		t.Errorf("root members %d, want 3", len(root.members))
	}
}
