package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// natsServer is the import path prefix of the embedded broker's server.
const natsServer = "github.com/nats-io/nats-server/v2"

// linksNATSServer reports whether the package in dir links nats-server.
func linksNATSServer(t *testing.T, dir string) bool {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", ".")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps in %s: %v", dir, err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, natsServer) {
			return true
		}
	}
	return false
}

// Only `mnemo run` (and tests) embed a broker: every other binary speaks to
// one through pkg/bus, and linking nats-server would cost each of them its
// size and start-up (pkg/natsembed, docs/ARCHITECTURE.md §13).
func TestOnlyMnemoLinksNATSServer(t *testing.T) {
	if !linksNATSServer(t, ".") {
		t.Fatalf("mnemo does not link %s: the check below would prove nothing", natsServer)
	}
	root := filepath.Join("..", "..")
	bins, err := filepath.Glob(filepath.Join(root, "services", "*", "cmd", "*"))
	if err != nil || len(bins) < 4 {
		t.Fatalf("service binaries: %v %v", bins, err)
	}
	bins = append(bins, filepath.Join(root, "pkg", "hook", "cmd", "mnemo-hook"))
	for _, dir := range bins {
		if linksNATSServer(t, dir) {
			t.Errorf("%s links %s; embed the broker only in mnemo run (pkg/natsembed)", dir, natsServer)
		}
	}
}
