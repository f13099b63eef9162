package hookcli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/mnemo-dev/mnemo/pkg/plainhttp"
)

// Exchange sends one request to Mnemo and returns its answer.
type Exchange func(ctx context.Context, r plainhttp.Request) (plainhttp.Answer, error)

// FullExchange reaches what plainhttp cannot (an https MNEMO_URL, a host
// behind a proxy). The full mnemo binary sets it to a net/http client;
// mnemo-hook leaves it nil, so that it never links TLS, and hands such work
// to mnemo instead (handOff): only users of a remote HTTPS ingest pay for it.
var FullExchange Exchange

// ErrNeedsMnemo says why an event could not be sent by mnemo-hook alone.
var ErrNeedsMnemo = errors.New("MNEMO_URL needs TLS or a proxy, which the mnemo binary provides; put mnemo beside mnemo-hook or on PATH")

// exchangeFor returns how to reach rawURL from this process.
func exchangeFor(rawURL string) Exchange {
	if plainhttp.Usable(rawURL) {
		return plainhttp.Do
	}
	if FullExchange != nil {
		return FullExchange
	}
	return func(context.Context, plainhttp.Request) (plainhttp.Answer, error) {
		return plainhttp.Answer{}, ErrNeedsMnemo
	}
}

// handOff runs the same command through the full mnemo binary when this
// process cannot reach rawURL itself, with the same stdin and stdout, and
// reports whether it did. Without a mnemo binary it does nothing: the work
// goes on here, and an event that cannot be sent is spooled.
func handOff(ctx context.Context, rawURL string, args []string, stdin io.Reader, stdout, stderr io.Writer) (bool, error) {
	if FullExchange != nil || plainhttp.Usable(rawURL) {
		return false, nil
	}
	exe := fullBinary()
	if exe == "" {
		return false, nil
	}
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	if err := cmd.Run(); err != nil {
		return true, fmt.Errorf("%s %v: %w", exe, args, err)
	}
	return true, nil
}

// fullBinary finds mnemo beside this executable, else on PATH.
func fullBinary() string {
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), "mnemo")
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	if p, err := exec.LookPath("mnemo"); err == nil {
		return p
	}
	return ""
}
