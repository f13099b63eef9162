package main

import (
	"os/exec"
	"strings"
	"testing"
)

// The hook runs at every tool call: it must not link net/http or TLS, whose
// package initialisation and page faults it would pay each time
// (docs/ARCHITECTURE.md §1). pkg/plainhttp is its client.
func TestLinksNoNetHTTPNorTLS(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		switch dep {
		case "net/http", "crypto/tls", "crypto/x509":
			t.Errorf("mnemo-hook links %s", dep)
		}
	}
}
