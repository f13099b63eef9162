package config_test

import (
	"bytes"
	"flag"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/config"
)

// A flag wins over its variable, which wins over the default; a name bound
// twice sets every field bound to it.
func TestFlagOverVariableOverDefault(t *testing.T) {
	t.Setenv("MNEMO_T_ADDR", "127.0.0.1:1")
	t.Setenv("MNEMO_T_N", "7")
	set := config.NewSet(flag.NewFlagSet("t", flag.ContinueOnError))
	var a1, a2 string
	var n, m int
	var d time.Duration
	set.String(&a1, "addr", "MNEMO_T_ADDR", "127.0.0.1:2", "address")
	set.String(&a2, "addr", "MNEMO_T_ADDR", "127.0.0.1:3", "address")
	set.Int(&n, "n", "MNEMO_T_N", 1, "n")
	set.Int(&m, "m", "MNEMO_T_M", 3, "m")
	set.Duration(&d, "d", "MNEMO_T_D", time.Second, "d")
	if err := set.Parse([]string{"-n", "9"}); err != nil {
		t.Fatal(err)
	}
	if a1 != "127.0.0.1:1" || a2 != "127.0.0.1:1" || n != 9 || m != 3 || d != time.Second {
		t.Fatalf("a1=%s a2=%s n=%d m=%d d=%s", a1, a2, n, m, d)
	}
	if err := set.Parse([]string{"-addr", "127.0.0.1:4"}); err != nil || a1 != "127.0.0.1:4" || a2 != a1 {
		t.Fatalf("flag bound twice: %v a1=%s a2=%s", err, a1, a2)
	}
}

func TestBadVariableSaysWhich(t *testing.T) {
	t.Setenv("MNEMO_T_N", "seven")
	set := config.NewSet(flag.NewFlagSet("t", flag.ContinueOnError))
	var n int
	set.Int(&n, "n", "MNEMO_T_N", 1, "n")
	if err := set.Parse(nil); err == nil || !strings.Contains(err.Error(), "MNEMO_T_N") {
		t.Fatalf("err = %v, want one naming MNEMO_T_N", err)
	}
}

// Unknown names every MNEMO_* variable nothing reads, once each.
func TestUnknownVariables(t *testing.T) {
	set := config.NewSet(flag.NewFlagSet("t", flag.ContinueOnError))
	var s string
	set.String(&s, "token", "MNEMO_TOKEN", "", "token")
	set.Reads(map[string]string{"MNEMO_LLM_MODEL": "model"})
	got := set.Unknown([]string{"MNEMO_TOKEN=x", "MNEMO_LLM_MODEL=y", "MNEMO_cfg.Token=z", "HOME=/root", "MNEMO_TOKN=a", "MNEMO_TOKN=b"})
	if want := []string{"MNEMO_TOKN", "MNEMO_cfg.Token"}; !slices.Equal(got, want) {
		t.Fatalf("unknown = %v, want %v", got, want)
	}
}

// -h lists every setting with its variable and compiled default, never a
// value from the environment.
func TestUsageListsEverySettingWithoutValues(t *testing.T) {
	t.Setenv("MNEMO_TOKEN", "s3cret-token")
	fs := flag.NewFlagSet("svc", flag.ContinueOnError)
	var out bytes.Buffer
	fs.SetOutput(&out)
	set := config.NewSet(fs)
	var tok, addr string
	var on bool
	set.String(&tok, "token", "MNEMO_TOKEN", "", "bearer token")
	set.String(&addr, "addr", "MNEMO_ADDR", "127.0.0.1:37802", "listen address")
	set.Bool(&on, "on", "MNEMO_ON", false, "switch")
	set.Reads(map[string]string{"MNEMO_LOG_LEVEL": "log level"})
	if err := set.Parse([]string{"-h"}); err != flag.ErrHelp {
		t.Fatalf("-h: %v", err)
	}
	h := out.String()
	for _, want := range []string{"-token  MNEMO_TOKEN", "-addr  MNEMO_ADDR  (default 127.0.0.1:37802)", "listen address", "-on  MNEMO_ON", "MNEMO_LOG_LEVEL"} {
		if !strings.Contains(h, want) {
			t.Errorf("-h lacks %q:\n%s", want, h)
		}
	}
	if strings.Contains(h, "s3cret") {
		t.Fatalf("-h prints the token:\n%s", h)
	}
	if err := set.Parse([]string{"-on"}); err != nil || !on {
		t.Fatalf("bool flag without value: %v on=%v", err, on)
	}
}
