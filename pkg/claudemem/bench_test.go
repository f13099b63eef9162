package claudemem_test

import (
	"context"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/claudemem"
	"github.com/mnemo-dev/mnemo/pkg/claudemem/claudememtest"
	"github.com/mnemo-dev/mnemo/pkg/store"
)

// BenchmarkImportClaudeMem imports a generated claude-mem database of 200
// sessions × 500 observations (100k, with the fixture's own schema) into a
// fresh SQLite store and reports rows (sessions, prompts, observations and
// summaries) written per second, and per second of CPU the process spent
// (user and system): on a shared machine the first follows the load, the
// second follows the import's own cost.
func BenchmarkImportClaudeMem(b *testing.B) {
	ctx := context.Background()
	src := filepath.Join(b.TempDir(), "claude-mem.db")
	sessions, per := 200, 500
	if testing.Short() {
		sessions = 20
	}
	claudememtest.Generate(b, src, "bench", sessions, per)
	db, err := claudemem.Open(ctx, src)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	var rows int
	var took, cpu time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		st, err := store.Open(ctx, filepath.Join(b.TempDir(), "mnemo.db"))
		if err != nil {
			b.Fatal(err)
		}
		start, cpu0 := time.Now(), cpuTime(b)
		res, err := db.ImportInto(ctx, st, "", nil)
		took += time.Since(start)
		cpu += cpuTime(b) - cpu0
		if err != nil {
			b.Fatal(err)
		}
		if res.Observations != sessions*per {
			b.Fatalf("imported %d observations, want %d", res.Observations, sessions*per)
		}
		rows += res.Written()
		st.Close()
	}
	b.ReportMetric(float64(rows)/took.Seconds(), "rows/s")
	b.ReportMetric(float64(rows)/cpu.Seconds(), "rows/cpu-s")
}

// cpuTime is the CPU time (user and system) this process has spent.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
