package hookcli

import (
	"os"
	"strings"
	"time"
)

// LocalZone is the user's IANA time zone name, which the server cannot
// know: $TZ when set, else the zone /etc/localtime links to, else
// /etc/timezone. It is "" when unknown or not a zone this machine knows, and
// the server then uses its own.
func LocalZone() string {
	tz, set := os.LookupEnv("TZ")
	return zoneName(tz, set, "/etc/localtime", "/etc/timezone")
}

func zoneName(tz string, tzSet bool, localtime, timezoneFile string) string {
	name := ""
	switch {
	case tzSet:
		name = strings.TrimPrefix(tz, ":")
		if name == "" {
			name = "UTC" // TZ set and empty means UTC
		}
	default:
		if target, err := os.Readlink(localtime); err == nil {
			name = target
		} else if b, err := os.ReadFile(timezoneFile); err == nil {
			name = strings.TrimSpace(string(b))
		}
	}
	if i := strings.LastIndex(name, "zoneinfo/"); i >= 0 {
		name = name[i+len("zoneinfo/"):]
	}
	if name == "" || name == "Local" {
		return ""
	}
	if _, err := time.LoadLocation(name); err != nil {
		return "" // a POSIX TZ rule or a typo: the server could not use it
	}
	return name
}
