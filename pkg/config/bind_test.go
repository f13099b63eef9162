package config

import (
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
)

func TestCheckBind(t *testing.T) {
	for addr, want := range map[string]bool{ // loopback?
		"127.0.0.1:37800": true, "localhost:1": true, "[::1]:37800": true, "127.1.2.3:80": true,
		"0.0.0.0:37800": false, ":37800": false, "[::]:1": false, "10.0.0.5:37800": false, "mnemo.internal:80": false,
	} {
		if got := IsLoopback(addr); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", addr, got, want)
		}
		if err := CheckBind(addr, ""); (err == nil) != want {
			t.Errorf("CheckBind(%q, no token) = %v", addr, err)
		}
		if err := CheckBind(addr, "tok"); err != nil {
			t.Errorf("CheckBind(%q, token) = %v", addr, err)
		}
	}
	for _, bad := range []string{"127.0.0.1", "::1:80", "[::1:80", ""} {
		if err := CheckBind(bad, "tok"); err == nil {
			t.Errorf("CheckBind(%q) accepted a malformed address", bad)
		}
	}
}

func TestParseInterspersed(t *testing.T) {
	fs := flag.NewFlagSet("search", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	set := NewSet(fs)
	var limit int
	var asJSON bool
	set.Int(&limit, "limit", "", 20, "results")
	set.Bool(&asJSON, "json", "", false, "JSON")
	pos, err := set.ParseInterspersed([]string{"webhook", "--limit", "5", "retries", "--json", "backoff"})
	if err != nil || strings.Join(pos, " ") != "webhook retries backoff" || limit != 5 || !asJSON {
		t.Fatalf("got %q limit %d json %v, %v", pos, limit, asJSON, err)
	}
	if _, err := set.ParseInterspersed([]string{"a", "--nope"}); err == nil {
		t.Fatal("an unknown flag after a word was accepted")
	}
	if _, err := set.ParseInterspersed([]string{"a", "-h"}); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h after a word: %v, want flag.ErrHelp", err)
	}
}
