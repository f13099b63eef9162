package main

import (
	"os/exec"
	"strings"
	"testing"
)

// The hook runs at every tool call: it must not link net/http or TLS, whose
// package initialisation and page faults it would pay each time, nor the
// net package, which with cgo on makes it a dynamically linked program that
// starts through ld.so and libc (docs/ARCHITECTURE.md §1). pkg/plainhttp is
// its client.
func TestLinksNoNetHTTPNorTLS(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		switch dep {
		case "net/http", "crypto/tls", "crypto/x509", "net", "runtime/cgo":
			t.Errorf("mnemo-hook links %s", dep)
		}
	}
}
