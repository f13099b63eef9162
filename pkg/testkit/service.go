package testkit

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"testing"
)

// Logger is the logger an in-process service gets in a test: warnings and
// errors on stderr, everything when MNEMO_TEST_DEBUG is set.
func Logger() *slog.Logger {
	level := slog.LevelWarn
	if os.Getenv("MNEMO_TEST_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// RunService runs a service's Run in its own goroutine until stop is called or
// the test ends, whichever is first; an error Run returns fails the test.
func RunService(t testing.TB, name string, run func(context.Context) error) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := run(ctx); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); wg.Wait() }) }
	t.Cleanup(stop)
	return stop
}
