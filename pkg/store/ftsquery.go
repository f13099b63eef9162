package store

import (
	"fmt"
	"strings"
	"unicode"
)

// ftsQuery turns user search text into an FTS5 MATCH expression that always
// parses, following the web-search conventions PostgreSQL's
// websearch_to_tsquery uses: words are ANDed, "double quotes" make a
// phrase, OR between two items makes an alternative and a leading - excludes
// a word. Every term is emitted as a quoted FTS5 string, so user text never
// reaches FTS5 as syntax (no column filters, NEAR, *, ^, parentheses or
// bare operators). Terms without a letter or digit make no token and are
// dropped. It returns "" when nothing searchable is left; the caller then
// returns no results.
func ftsQuery(s string) string {
	type item struct {
		term  string
		neg   bool
		isOr  bool // the bare word OR
		quote bool
	}
	var items []item
	rs := []rune(s)
	for i := 0; i < len(rs); {
		r := rs[i]
		switch {
		case unicode.IsSpace(r):
			i++
			continue
		case r == '"':
			j := i + 1
			for j < len(rs) && rs[j] != '"' {
				j++
			}
			items = append(items, item{term: string(rs[i+1 : j]), quote: true})
			i = j + 1
			continue
		}
		neg := false
		if r == '-' && i+1 < len(rs) && !unicode.IsSpace(rs[i+1]) {
			neg = true
			i++
		}
		j := i
		for j < len(rs) && !unicode.IsSpace(rs[j]) && rs[j] != '"' {
			j++
		}
		w := string(rs[i:j])
		i = j
		if neg && i < len(rs) && rs[i] == '"' {
			// -"a phrase": exclude the phrase.
			k := i + 1
			for k < len(rs) && rs[k] != '"' {
				k++
			}
			w = w + " " + string(rs[i+1:min(k, len(rs))])
			i = k + 1
		}
		items = append(items, item{term: w, neg: neg, isOr: !neg && strings.EqualFold(w, "or")})
	}

	var groups [][]string // ANDed; each group's terms are ORed
	var negs []string
	joinNext := false
	for _, it := range items {
		if it.isOr && !it.quote {
			joinNext = len(groups) > 0
			continue
		}
		if !searchable(it.term) {
			continue
		}
		q := `"` + strings.ReplaceAll(it.term, `"`, `""`) + `"`
		switch {
		case it.neg:
			negs = append(negs, q)
		case joinNext:
			groups[len(groups)-1] = append(groups[len(groups)-1], q)
		default:
			groups = append(groups, []string{q})
		}
		joinNext = false
	}
	if len(groups) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("(")
	for i, g := range groups {
		if i > 0 {
			b.WriteString(" AND ")
		}
		b.WriteString("(" + strings.Join(g, " OR ") + ")")
	}
	b.WriteString(")")
	if len(negs) > 0 {
		b.WriteString(" NOT (" + strings.Join(negs, " OR ") + ")")
	}
	return b.String()
}

// searchable reports whether a term holds a character the unicode61
// tokenizer keeps (letters and digits), so that it makes at least one token.
func searchable(s string) bool {
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsNumber(r) {
			return true
		}
	}
	return false
}

// ftsTextColumns are the observations_fts columns user text searches; the
// index also holds project_key, which only ftsScoped matches.
const ftsTextColumns = "{title subtitle narrative facts concepts}"

// ftsScoped confines an ftsQuery expression to the text columns and, for a
// project, to that project's rows, so the index itself does the filtering.
// project_key is hex(project) followed by '0' (migration 2): one token the
// tokenizer keeps whole, with a trailing digit that no stemming rule
// strips, so it matches exactly one project.
func ftsScoped(match, project string) string {
	match = ftsTextColumns + " : (" + match + ")"
	if project == "" {
		return match
	}
	return fmt.Sprintf(`project_key : "%X0" AND %s`, project, match)
}
