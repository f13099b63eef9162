package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// This file is a small order- and format-preserving JSON editor for the
// settings files `mnemo install` changes: it parses a document into byte
// spans and edits by splicing, so that everything it does not touch keeps its
// exact bytes. Insertions go after the last member or element with the
// indentation found there; removals cut exactly what such an insertion added,
// so install followed by uninstall gives the original bytes back.

// jnode is one JSON value with its byte span [start, end).
type jnode struct {
	kind       byte // '{' object, '[' array, '"' string, 'v' other scalar
	start, end int
	members    []jmember // objects
	elems      []*jnode  // arrays
}

// jmember is one object member: its key and the key's offset.
type jmember struct {
	key      string
	keyStart int
	val      *jnode
}

// member returns the member named key and its index, or nil and -1.
func (n *jnode) member(key string) (*jnode, int) {
	for i, m := range n.members {
		if m.key == key {
			return m.val, i
		}
	}
	return nil, -1
}

// parseObject parses a document that must be a JSON object, as the files
// install edits are; what names the file in the error.
func parseObject(b []byte, what string) (*jnode, error) {
	root, err := parseSpans(b)
	if err != nil {
		return nil, err
	}
	if root.kind != '{' {
		return nil, fmt.Errorf("%s is not a JSON object", what)
	}
	return root, nil
}

// objectMember parses b and finds the member name of its root, for the
// uninstall steps: member is nil unless the root and that member are both
// JSON objects (there is nothing of Mnemo's to remove then).
func objectMember(b []byte, name string) (root, member *jnode, err error) {
	if root, err = parseSpans(b); err != nil {
		return nil, nil, err
	}
	if member, _ = root.member(name); root.kind != '{' || member == nil || member.kind != '{' {
		return root, nil, nil
	}
	return root, member, nil
}

// parseSpans parses one JSON document (strict JSON: no comments or trailing
// commas) into spans.
func parseSpans(b []byte) (*jnode, error) {
	if !json.Valid(b) {
		var v any
		err := json.Unmarshal(b, &v)
		return nil, fmt.Errorf("not valid JSON: %w", err)
	}
	p := &spanParser{b: b}
	p.ws()
	n, err := p.value()
	if err != nil {
		return nil, err
	}
	return n, nil
}

type spanParser struct {
	b []byte
	i int
}

func (p *spanParser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *spanParser) value() (*jnode, error) {
	if p.i >= len(p.b) {
		return nil, errors.New("unexpected end of JSON")
	}
	n := &jnode{start: p.i}
	switch c := p.b[p.i]; c {
	case '{':
		n.kind = '{'
		err := p.items('}', func() error {
			ks := p.i
			if err := p.str(); err != nil {
				return err
			}
			var key string
			if err := json.Unmarshal(p.b[ks:p.i], &key); err != nil {
				return fmt.Errorf("key at %d: %w", ks, err)
			}
			p.ws()
			p.i++ // ':'
			p.ws()
			v, err := p.value()
			if err != nil {
				return err
			}
			n.members = append(n.members, jmember{key: key, keyStart: ks, val: v})
			return nil
		})
		if err != nil {
			return nil, err
		}
	case '[':
		n.kind = '['
		err := p.items(']', func() error {
			v, err := p.value()
			if err != nil {
				return err
			}
			n.elems = append(n.elems, v)
			return nil
		})
		if err != nil {
			return nil, err
		}
	case '"':
		n.kind = '"'
		if err := p.str(); err != nil {
			return nil, err
		}
	default:
		n.kind = 'v'
		for p.i < len(p.b) && !strings.ContainsRune(" \t\r\n,]}", rune(p.b[p.i])) {
			p.i++
		}
	}
	n.end = p.i
	return n, nil
}

// items reads the members of an object or the elements of an array, from
// its opening bracket through close, calling item at the start of each.
func (p *spanParser) items(close byte, item func() error) error {
	p.i++
	p.ws()
	if p.b[p.i] == close {
		p.i++
		return nil
	}
	for {
		p.ws()
		if err := item(); err != nil {
			return err
		}
		p.ws()
		if p.b[p.i] != ',' {
			p.i++ // close
			return nil
		}
		p.i++
	}
}

func (p *spanParser) str() error {
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return fmt.Errorf("expected a string at offset %d", p.i)
	}
	p.i++
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case '\\':
			p.i += 2
		case '"':
			p.i++
			return nil
		default:
			p.i++
		}
	}
	return errors.New("unterminated string")
}

// lineIndent returns the white space that starts the line holding offset i.
func lineIndent(b []byte, i int) string {
	start := bytes.LastIndexByte(b[:i], '\n') + 1
	end := start
	for end < len(b) && (b[end] == ' ' || b[end] == '\t') {
		end++
	}
	return string(b[start:end])
}

// onOwnLine reports whether only white space precedes offset i on its line.
func onOwnLine(b []byte, i int) bool {
	start := bytes.LastIndexByte(b[:i], '\n') + 1
	return len(strings.Trim(string(b[start:i]), " \t")) == 0 && bytes.LastIndexByte(b[:i], '\n') >= 0
}

// indentUnit guesses the document's indentation step from its first indented
// line; two spaces when it has none.
func indentUnit(b []byte) string {
	for _, line := range bytes.Split(b, []byte("\n"))[1:] {
		n := 0
		for n < len(line) && (line[n] == ' ' || line[n] == '\t') {
			n++
		}
		if n > 0 && n < len(line) {
			return string(line[:n])
		}
	}
	return "  "
}

// oneLineDoc reports whether the whole document is written on one line (then
// insertions stay on it too).
func oneLineDoc(b []byte) bool {
	return !bytes.Contains(bytes.TrimSpace(b), []byte("\n")) && len(bytes.TrimSpace(b)) > 2
}

// newline is the document's line ending.
func newline(b []byte) string {
	if bytes.Contains(b, []byte("\r\n")) {
		return "\r\n"
	}
	return "\n"
}

// renderJSON encodes v for insertion at an indentation (multi-line), or on
// one line when indent is "" and compact is set.
func renderJSON(v any, indent, unit, nl string, compact bool) (string, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if !compact {
		enc.SetIndent(indent, unit)
	}
	if err := enc.Encode(v); err != nil {
		return "", fmt.Errorf("encode: %w", err)
	}
	s := strings.TrimRight(buf.String(), "\n")
	if nl != "\n" {
		s = strings.ReplaceAll(s, "\n", nl)
	}
	if compact {
		var out bytes.Buffer
		if err := json.Compact(&out, []byte(s)); err != nil {
			return "", err
		}
		s = out.String()
	}
	return s, nil
}

func splice(b []byte, start, end int, text string) []byte {
	out := make([]byte, 0, len(b)-(end-start)+len(text))
	out = append(out, b[:start]...)
	out = append(out, text...)
	return append(out, b[end:]...)
}

// appendMember adds "key": v at the end of object obj.
func appendMember(b []byte, obj *jnode, key string, v any) ([]byte, error) {
	kq, _ := json.Marshal(key)
	unit, nl := indentUnit(b), newline(b)
	if len(obj.members) == 0 && oneLineDoc(b) {
		val, err := renderJSON(v, "", "", nl, true)
		if err != nil {
			return nil, err
		}
		return splice(b, obj.start, obj.end, "{"+string(kq)+":"+val+"}"), nil
	}
	if len(obj.members) == 0 {
		ind := lineIndent(b, obj.start)
		val, err := renderJSON(v, ind+unit, unit, nl, false)
		if err != nil {
			return nil, err
		}
		text := "{" + nl + ind + unit + string(kq) + ": " + val + nl + ind + "}"
		return splice(b, obj.start, obj.end, text), nil
	}
	last := obj.members[len(obj.members)-1]
	if !onOwnLine(b, last.keyStart) { // a one-line object stays one line
		val, err := renderJSON(v, "", "", nl, true)
		if err != nil {
			return nil, err
		}
		return splice(b, last.val.end, last.val.end, ", "+string(kq)+": "+val), nil
	}
	ind := lineIndent(b, last.keyStart)
	val, err := renderJSON(v, ind, unit, nl, false)
	if err != nil {
		return nil, err
	}
	return splice(b, last.val.end, last.val.end, ","+nl+ind+string(kq)+": "+val), nil
}

// appendElem adds v at the end of array arr.
func appendElem(b []byte, arr *jnode, v any) ([]byte, error) {
	unit, nl := indentUnit(b), newline(b)
	if len(arr.elems) == 0 && oneLineDoc(b) {
		val, err := renderJSON(v, "", "", nl, true)
		if err != nil {
			return nil, err
		}
		return splice(b, arr.start, arr.end, "["+val+"]"), nil
	}
	if len(arr.elems) == 0 {
		ind := lineIndent(b, arr.start)
		val, err := renderJSON(v, ind+unit, unit, nl, false)
		if err != nil {
			return nil, err
		}
		return splice(b, arr.start, arr.end, "["+nl+ind+unit+val+nl+ind+"]"), nil
	}
	last := arr.elems[len(arr.elems)-1]
	if !onOwnLine(b, last.start) {
		val, err := renderJSON(v, "", "", nl, true)
		if err != nil {
			return nil, err
		}
		return splice(b, last.end, last.end, ", "+val), nil
	}
	ind := lineIndent(b, last.start)
	val, err := renderJSON(v, ind, unit, nl, false)
	if err != nil {
		return nil, err
	}
	return splice(b, last.end, last.end, ","+nl+ind+val), nil
}

// replaceValue puts v in place of node, rendered at node's indentation.
func replaceValue(b []byte, node *jnode, v any) ([]byte, error) {
	ind := lineIndent(b, node.start)
	val, err := renderJSON(v, ind, indentUnit(b), newline(b), false)
	if err != nil {
		return nil, err
	}
	return splice(b, node.start, node.end, val), nil
}

// removeElem cuts element i of arr, with the separator an append added.
func removeElem(b []byte, arr *jnode, i int) []byte {
	switch {
	case len(arr.elems) == 1:
		return splice(b, arr.start, arr.end, "[]")
	case i > 0:
		return splice(b, arr.elems[i-1].end, arr.elems[i].end, "")
	default:
		return splice(b, arr.elems[0].start, arr.elems[1].start, "")
	}
}

// removeMember cuts member i of obj, with the separator an append added.
func removeMember(b []byte, obj *jnode, i int) []byte {
	switch {
	case len(obj.members) == 1:
		return splice(b, obj.start, obj.end, "{}")
	case i > 0:
		return splice(b, obj.members[i-1].val.end, obj.members[i].val.end, "")
	default:
		return splice(b, obj.members[0].keyStart, obj.members[1].keyStart, "")
	}
}

// decodeSpan decodes the value at a node.
func decodeSpan(b []byte, n *jnode, v any) error {
	return json.Unmarshal(b[n.start:n.end], v)
}
