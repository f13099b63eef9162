// Package logging builds the slog logger every Mnemo process uses: coloured
// tint output on a terminal, JSON otherwise, at the level MNEMO_LOG_LEVEL says.
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/lmittmann/tint"
	"golang.org/x/term"
)

// ParseLevel parses debug|info|warn|error (case-insensitive; "" is info).
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "info":
		return slog.LevelInfo, nil
	case "debug":
		return slog.LevelDebug, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("unknown log level %q: set MNEMO_LOG_LEVEL to debug, info, warn or error", s)
}

// New returns a logger writing to w, tagged with the service name. It uses
// tint when w is a terminal and JSON otherwise.
func New(w io.Writer, service string, level slog.Level) *slog.Logger {
	var h slog.Handler
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		h = tint.NewHandler(w, &tint.Options{Level: level, TimeFormat: time.TimeOnly})
	} else {
		h = slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})
	}
	return slog.New(h).With("service", service)
}

// FromEnv returns New(os.Stderr, service, MNEMO_LOG_LEVEL).
func FromEnv(service string) (*slog.Logger, error) {
	lvl, err := ParseLevel(os.Getenv("MNEMO_LOG_LEVEL"))
	if err != nil {
		return nil, err
	}
	return New(os.Stderr, service, lvl), nil
}
