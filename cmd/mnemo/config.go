package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/mnemo-dev/mnemo/pkg/config"
	"github.com/mnemo-dev/mnemo/pkg/exit"
	"github.com/mnemo-dev/mnemo/pkg/settings"
)

func init() {
	register("config", command{
		summary: "show or change settings ($MNEMO_HOME/settings.json): config get|set|list|path",
		run:     runConfigCmd,
	})
}

const configUsage = `Usage:
  mnemo config list           every setting, its value, where it comes from and when a change applies
  mnemo config get KEY        a setting's value (KEY is its MNEMO_* variable name)
  mnemo config set KEY VALUE  write a setting to the settings file
  mnemo config path           where the settings file is

A value comes from a flag, then the MNEMO_* variable, then the file, then the default.`

func runConfigCmd(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	if done, err := subcommandHelp(args, stderr, configUsage); done {
		return err
	}
	usage := func(format string, a ...any) error {
		return &exit.Error{Code: 2, Err: fmt.Errorf(format+"\n%s", append(a, configUsage)...)}
	}
	s, err := settings.Open(config.Home())
	if err != nil {
		return err
	}
	switch args[0] {
	case "path":
		fmt.Fprintln(stdout, s.Path())
	case "get":
		if len(args) != 2 {
			return usage("config get takes one KEY")
		}
		if _, ok := settings.Lookup(args[1]); !ok {
			return fmt.Errorf("unknown setting %q (see mnemo config list)", args[1])
		}
		v, _ := s.Get(args[1])
		fmt.Fprintln(stdout, v)
	case "set":
		if len(args) != 3 {
			return usage("config set takes a KEY and a VALUE")
		}
		key, value := args[1], args[2]
		if err := s.Set(key, value); err != nil {
			return err
		}
		d, _ := settings.Lookup(key)
		shown := value
		if d.Secret {
			shown = "(hidden)"
		}
		fmt.Fprintf(stdout, "%s = %s in %s; %s.\n", key, shown, s.Path(), d.Applies)
		if s.InEnv(key) {
			fmt.Fprintf(stdout, "Note: %s is set in your environment, which wins over the file: unset it for this value to apply.\n", key)
		}
	case "list":
		if len(args) != 1 {
			return usage("config list takes no arguments")
		}
		known, unknown := s.List()
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "KEY\tVALUE\tSOURCE\tCHANGE")
		for _, e := range known {
			v := e.Value
			switch {
			case e.Secret && v != "":
				v = "(hidden)"
			case v == "":
				v = `""`
			}
			when := map[settings.Applies]string{settings.NextSession: "next session", settings.NextHook: "next hook", settings.Restart: "restart"}[e.Applies]
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.Key, v, e.Source, when)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		for _, k := range unknown {
			fmt.Fprintf(stderr, "warning: %s in %s is not a Mnemo setting (a typo?)\n", k, s.Path())
		}
		if err := s.Err(); err != nil {
			fmt.Fprintf(stderr, "warning: %v\n", err)
		}
	default:
		return usage("unknown config command %q", args[0])
	}
	return nil
}
