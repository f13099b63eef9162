package httpapi

import (
	"net"
	"net/http"
	"net/url"
	"strings"
)

// SameOrigin refuses what a web page elsewhere, or a DNS-rebinding name,
// could make the user's browser send (docs/ARCHITECTURE.md §16):
//   - without a token, a Host that is not a loopback address or localhost
//     (a rebinding name resolves to 127.0.0.1 but keeps its own Host);
//   - any state-changing request whose Origin is not this server's own
//     (scheme://Host), or that the browser marks cross-site.
//
// Clients other than browsers send no Origin and pass.
func SameOrigin(token string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if token == "" && !loopbackHost(r.Host) {
			WriteError(w, http.StatusForbidden, "Host "+quoteShort(r.Host)+" is not this machine's loopback: without MNEMO_TOKEN Mnemo answers only to localhost, 127.0.0.1 and [::1]", "Host")
			return
		}
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
		default:
			if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
				WriteError(w, http.StatusForbidden, "a cross-site request cannot change Mnemo's memory or settings", "Origin")
				return
			}
			if o := r.Header.Get("Origin"); o != "" && !originMatches(o, r.Host) {
				WriteError(w, http.StatusForbidden, "Origin "+quoteShort(o)+" is not Mnemo's own ("+quoteShort(r.Host)+"): cross-origin requests cannot change memory or settings", "Origin")
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

// loopbackHost reports whether a Host header names this machine's loopback:
// localhost or a loopback IP literal, with or without a port.
func loopbackHost(host string) bool {
	h := host
	if sh, _, err := net.SplitHostPort(host); err == nil {
		h = sh
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// originMatches reports whether an Origin header is http(s)://host.
func originMatches(origin, host string) bool {
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Path != "" && u.Path != "/" {
		return false
	}
	return strings.EqualFold(u.Host, host)
}

func quoteShort(s string) string {
	if len(s) > 100 {
		s = s[:100] + "…"
	}
	return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"`
}
