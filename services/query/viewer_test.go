package query_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/bus"
	"github.com/mnemo-dev/mnemo/pkg/settings"
	"github.com/mnemo-dev/mnemo/pkg/store"
	"github.com/mnemo-dev/mnemo/services/query"
)

// send makes one request with extra headers and returns the status and body.
func (r *rig) send(method, path, body string, hdr map[string]string) (int, string, http.Header) {
	r.t.Helper()
	req, _ := http.NewRequest(method, r.http.URL+path, strings.NewReader(body))
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	c := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		r.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// The feed pages observations, prompts and summaries newest first with the
// cursor it hands out, and refuses a kind or cursor it does not know.
func TestFeedPagesNewestFirst(t *testing.T) {
	r := newRig(t)
	var ids []int64
	for i := 0; i < 5; i++ {
		ids = append(ids, r.observe("s1", "acme", store.TypeChange, fmt.Sprintf("obs %d", i), "n"))
	}
	r.observe("s2", "other", store.TypeChange, "elsewhere", "n")
	r.summarize("s1", "acme", "ship it", "shipped")
	var got []int64
	next := ""
	for page := 0; page < 5; page++ {
		var p query.FeedPage
		path := "/v1/feed/observations?project=acme&limit=2"
		if next != "" {
			path += "&before=" + url.QueryEscape(next)
		}
		if code := r.get(path, &p); code != 200 {
			t.Fatalf("page %d: %d", page, code)
		}
		for _, o := range p.Observations {
			got = append(got, o.ID)
		}
		if next = p.Next; next == "" {
			break
		}
	}
	want := []int64{ids[4], ids[3], ids[2], ids[1], ids[0]}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("paged feed %v, want %v", got, want)
	}
	var sp query.FeedPage
	if code := r.get("/v1/feed/summaries?project=acme", &sp); code != 200 || len(sp.Summaries) != 1 || sp.Summaries[0].Request != "ship it" || sp.Next != "" {
		t.Fatalf("summaries: %d %+v", code, sp)
	}
	for _, tc := range []struct{ path, field string }{
		{"/v1/feed/sessions", "kind"},
		{"/v1/feed/observations?before=yesterday", "before"},
		{"/v1/feed/prompts?before=12.3", "before"},
		{"/v1/feed/observations?limit=0", "limit"},
		{"/v1/feed/observations?type=Rant!", "type"},
	} {
		var e struct{ Error, Field string }
		if code := r.get(tc.path, &e); code != 400 || e.Field != tc.field || e.Error == "" {
			t.Errorf("%s: %d %+v, want 400 naming %s", tc.path, code, e, tc.field)
		}
	}
}

// Settings are shown with their source; a change is written to the
// settings file and the next context follows it; a setting a variable fixes
// is refused naming the variable; without a file every change is refused.
func TestSettingsReadWriteAndFixedByVariable(t *testing.T) {
	t.Setenv(settings.ContextSessionCount, "3")
	home := t.TempDir()
	set, err := settings.Open(home)
	if err != nil {
		t.Fatal(err)
	}
	r := newRigWith(t, filepath.Join(t.TempDir(), "mnemo.db"), query.Config{}, set)
	r.observe("s1", "acme", store.TypeChange, "first", "n")
	r.observe("s1", "acme", store.TypeChange, "second", "n")

	var v query.SettingsView
	if code := r.get("/v1/settings", &v); code != 200 || v.File != settings.Path(home) {
		t.Fatalf("settings: %d %+v", code, v)
	}
	find := func(v query.SettingsView, key string) query.SettingView {
		for _, s := range v.Settings {
			if s.Key == key {
				return s
			}
		}
		t.Fatalf("no %s in %+v", key, v.Settings)
		return query.SettingView{}
	}
	if s := find(v, settings.ContextSessionCount); s.Source != settings.FromEnv || s.Editable || !strings.Contains(s.FixedBy, settings.ContextSessionCount) || s.Value != "3" {
		t.Fatalf("a variable's setting: %+v", s)
	}
	if s := find(v, settings.ContextObservations); s.Source != settings.FromFile || !s.Editable || !s.Context {
		t.Fatalf("a file's setting: %+v", s)
	}
	if s := find(v, "MNEMO_LLM_API_KEY"); s.Editable || !s.Secret {
		t.Fatalf("a secret: %+v", s)
	}

	var c struct{ Observations int }
	r.get("/v1/context?project=acme", &c)
	if c.Observations != 2 {
		t.Fatalf("context before the change lists %d observations, want 2", c.Observations)
	}
	if code := r.do("PUT", "/v1/settings", `{"MNEMO_CONTEXT_OBSERVATIONS": 1, "MNEMO_CONTEXT_SHOW_LAST_SUMMARY": false}`, &v); code != 200 {
		t.Fatalf("put: %d %+v", code, v)
	}
	if s := find(v, settings.ContextObservations); s.Value != "1" || s.Source != settings.FromFile {
		t.Fatalf("after put: %+v", s)
	}
	b, _ := os.ReadFile(settings.Path(home))
	var file map[string]any
	if err := json.Unmarshal(b, &file); err != nil || file[settings.ContextObservations] != "1" || file[settings.ContextShowLastSummary] != "false" {
		t.Fatalf("settings file after put: %s %v", b, err)
	}
	r.get("/v1/context?project=acme", &c)
	if c.Observations != 1 {
		t.Fatalf("context after the change lists %d observations, want 1", c.Observations)
	}
	for _, tc := range []struct {
		body   string
		status int
		field  string
		says   string
	}{
		{`{"MNEMO_CONTEXT_SESSION_COUNT": 5}`, 409, settings.ContextSessionCount, "environment variable " + settings.ContextSessionCount},
		{`{"MNEMO_NOPE": 1}`, 400, "MNEMO_NOPE", "unknown"},
		{`{"MNEMO_CONTEXT_OBSERVATIONS": -1}`, 400, settings.ContextObservations, "minimum"},
		{`{"MNEMO_CONTEXT_FULL_FIELD": "poem"}`, 400, settings.ContextFullField, "narrative"},
		{`{"MNEMO_CONTEXT_OBSERVATIONS": [1]}`, 400, settings.ContextObservations, "string, number or boolean"},
		{`{"MNEMO_LLM_API_KEY": "sk"}`, 409, "MNEMO_LLM_API_KEY", "mnemo config set"},
		{`{}`, 400, "body", "no settings"},
		{`[1]`, 400, "body", "JSON object"},
	} {
		var e struct{ Error, Field string }
		if code := r.do("PUT", "/v1/settings", tc.body, &e); code != tc.status || e.Field != tc.field || !strings.Contains(e.Error, tc.says) {
			t.Errorf("PUT %s: %d %+v, want %d naming %s and saying %q", tc.body, code, e, tc.status, tc.field, tc.says)
		}
	}
	// Nothing of a refused request was written.
	if b2, _ := os.ReadFile(settings.Path(home)); string(b2) != string(b) {
		t.Errorf("a refused PUT changed the file:\n%s", b2)
	}

	// A cluster's query service has no file: changes are refused, named.
	rc := newRig(t)
	var e struct{ Error, Field string }
	if code := rc.do("PUT", "/v1/settings", `{"MNEMO_CONTEXT_OBSERVATIONS": 4}`, &e); code != 409 || !strings.Contains(e.Error, "environment") {
		t.Fatalf("put without a file: %d %+v", code, e)
	}
}

// A web page elsewhere cannot change memory or settings: a cross-origin
// DELETE or PUT is refused and changes nothing; a DNS-rebinding Host is
// refused even for reads; Mnemo's own origin and non-browser clients pass.
func TestCrossOriginAndForeignHostRefused(t *testing.T) {
	set, err := settings.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	r := newRigWith(t, filepath.Join(t.TempDir(), "mnemo.db"), query.Config{}, set)
	id := r.observe("s1", "acme", store.TypeChange, "keep me", "n")
	own := r.http.URL // http://127.0.0.1:port
	host := strings.TrimPrefix(own, "http://")
	del := fmt.Sprintf("/v1/observations/%d", id)
	for _, tc := range []struct {
		name, method, path, body string
		hdr                      map[string]string
	}{
		{"cross-origin DELETE", "DELETE", del, "", map[string]string{"Origin": "http://evil.example"}},
		{"cross-origin DELETE from another local port", "DELETE", del, "", map[string]string{"Origin": "http://127.0.0.1:1"}},
		{"opaque origin DELETE", "DELETE", del, "", map[string]string{"Origin": "null"}},
		{"cross-site DELETE without Origin", "DELETE", del, "", map[string]string{"Sec-Fetch-Site": "cross-site"}},
		{"rebinding Host DELETE", "DELETE", del, "", map[string]string{"Host": "evil.example:" + strings.Split(host, ":")[1], "Origin": "http://evil.example:" + strings.Split(host, ":")[1]}},
		{"rebinding Host read", "GET", "/v1/search?q=keep", "", map[string]string{"Host": "attacker.example"}},
		{"rebinding Host stream", "GET", "/v1/stream", "", map[string]string{"Host": "attacker.example"}},
		{"cross-origin settings", "PUT", "/v1/settings", `{"MNEMO_CONTEXT_OBSERVATIONS": 0}`, map[string]string{"Origin": "http://evil.example", "Content-Type": "application/json"}},
		{"cross-origin session purge", "DELETE", "/v1/sessions/s1?purge=true", "", map[string]string{"Origin": "https://evil.example"}},
	} {
		code, body, _ := r.send(tc.method, tc.path, tc.body, tc.hdr)
		var e struct{ Error, Field string }
		_ = json.Unmarshal([]byte(body), &e)
		if code != http.StatusForbidden || e.Error == "" {
			t.Errorf("%s: %d %s, want 403 with a reason", tc.name, code, body)
		}
	}
	if got, _ := r.store.Observations(context.Background(), []int64{id}); len(got) != 1 {
		t.Fatal("a refused DELETE deleted the observation")
	}
	if v, src := set.Get(settings.ContextObservations); v == "0" || src != settings.FromFile {
		t.Fatalf("a refused PUT changed the setting: %s (%s)", v, src)
	}
	// localhost and [::1] are this machine; the viewer's own origin and a
	// client without Origin (curl, the CLI) may change things.
	if code, body, _ := r.send("GET", "/v1/projects", "", map[string]string{"Host": "localhost:" + strings.Split(host, ":")[1]}); code != 200 {
		t.Fatalf("Host localhost: %d %s", code, body)
	}
	if code, body, _ := r.send("PUT", "/v1/settings", `{"MNEMO_CONTEXT_OBSERVATIONS": 7}`, map[string]string{"Origin": own, "Content-Type": "application/json", "Sec-Fetch-Site": "same-origin"}); code != 200 {
		t.Fatalf("same-origin PUT: %d %s", code, body)
	}
	if code, body, _ := r.send("DELETE", del, "", map[string]string{"Origin": own}); code != 204 {
		t.Fatalf("same-origin DELETE: %d %s", code, body)
	}
}

// With a token, the page answers a login form; the token is exchanged for
// an HttpOnly, SameSite cookie that every route accepts, the event stream
// included, which refuses a browser without it.
func TestTokenLoginCookieGuardsEveryRouteAndTheStream(t *testing.T) {
	const token = "s3cret-token"
	r := newRigWith(t, filepath.Join(t.TempDir(), "mnemo.db"), query.Config{Token: token, Heartbeat: 200 * time.Millisecond}, nil)
	r.observe("s1", "acme", store.TypeChange, "secret memory", "n")

	code, body, hdr := r.send("GET", "/", "", nil)
	if code != 401 || !strings.Contains(body, `<form method="post" action="/v1/login">`) || strings.Contains(body, "app.js") ||
		!strings.Contains(hdr.Get("Content-Security-Policy"), "default-src 'self'") {
		t.Fatalf("GET / without the cookie: %d %.300s", code, body)
	}
	if code, body, _ := r.send("GET", "/", "", map[string]string{"Accept": "text/html", "Sec-Fetch-Mode": "navigate"}); code != 200 || !strings.Contains(body, `action="/v1/login"`) || strings.Contains(body, "app.js") {
		t.Fatalf("a browser's GET / without the cookie: %d %.200s, want the login page", code, body)
	}
	for _, p := range []string{"/v1/stream", "/static/app.js", "/v1/feed/observations", "/v1/settings"} {
		if code, _, _ := r.send("GET", p, "", nil); code != 401 {
			t.Errorf("GET %s without the cookie: %d, want 401", p, code)
		}
	}
	if code, _, hdr := r.send("POST", "/v1/login", `{"token":"wrong"}`, map[string]string{"Content-Type": "application/json"}); code != 401 || hdr.Get("Set-Cookie") != "" {
		t.Fatalf("login with a wrong token: %d %v", code, hdr)
	}
	code, body, hdr = r.send("POST", "/v1/login", url.Values{"token": {"wrong"}}.Encode(), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	if code != 401 || !strings.Contains(body, "login-error") {
		t.Fatalf("form login with a wrong token: %d %.200s", code, body)
	}
	code, _, hdr = r.send("POST", "/v1/login", url.Values{"token": {token}}.Encode(), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	if code != http.StatusSeeOther || hdr.Get("Location") != "/" {
		t.Fatalf("form login: %d %v", code, hdr)
	}
	var cookie *http.Cookie
	for _, c := range (&http.Response{Header: hdr}).Cookies() {
		if c.Name == query.SessionCookie {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Value == "" || strings.Contains(cookie.Value, token) {
		t.Fatalf("session cookie %+v", cookie)
	}
	withCookie := map[string]string{"Cookie": query.SessionCookie + "=" + cookie.Value}
	code, body, _ = r.send("GET", "/", "", withCookie)
	if code != 200 || !strings.Contains(body, "/static/app.js") {
		t.Fatalf("GET / with the cookie: %d %.200s", code, body)
	}
	if code, body, _ := r.send("GET", "/v1/feed/observations", "", withCookie); code != 200 || !strings.Contains(body, "secret memory") {
		t.Fatalf("feed with the cookie: %d %.200s", code, body)
	}
	if code, _, _ := r.send("GET", "/v1/feed/observations", "", map[string]string{"Cookie": query.SessionCookie + "=" + strings.Repeat("0", len(cookie.Value))}); code != 401 {
		t.Fatalf("a forged cookie: %d, want 401", code)
	}

	// The stream: refused without the cookie, live with it.
	req, _ := http.NewRequest("GET", r.http.URL+"/v1/stream", nil)
	req.Header.Set("Cookie", query.SessionCookie+"="+cookie.Value)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("stream with the cookie: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if err := r.nc.Publish(bus.StatusSubject("observation", "s1"), []byte(`{"kind":"observation","ids":[1]}`)); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	go func() {
		b := make([]byte, 4096)
		acc := ""
		for {
			n, err := resp.Body.Read(b)
			acc += string(b[:n])
			if strings.Contains(acc, "event: observation") || err != nil {
				got <- acc
				return
			}
		}
	}()
	select {
	case s := <-got:
		if !strings.Contains(s, "event: observation") {
			t.Fatalf("stream with the cookie ended without the event: %q", s)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no event on the stream within 10 s")
	}

	// The bearer token still works for clients; logout clears the cookie.
	if code, _, _ := r.send("GET", "/v1/projects", "", map[string]string{"Authorization": "Bearer " + token}); code != 200 {
		t.Fatalf("bearer: %d", code)
	}
	if code, _, hdr := r.send("POST", "/v1/logout", "", withCookie); code != 204 || !strings.Contains(hdr.Get("Set-Cookie"), "Max-Age=0") {
		t.Fatalf("logout: %d %v", code, hdr)
	}
}

// The viewer's assets are embedded and served with their types; nothing
// outside them is.
func TestViewerAssetsServed(t *testing.T) {
	r := newRig(t)
	for path, ct := range map[string]string{"/": "text/html", "/ops": "text/html", "/static/app.js": "javascript",
		"/static/ops.js": "javascript", "/static/theme.js": "javascript", "/static/style.css": "text/css", "/static/ops.css": "text/css"} {
		code, body, hdr := r.send("GET", path, "", nil)
		if code != 200 || !strings.Contains(hdr.Get("Content-Type"), ct) || len(body) < 100 {
			t.Errorf("GET %s: %d %s %d bytes", path, code, hdr.Get("Content-Type"), len(body))
		}
	}
	for _, path := range []string{"/static/index.html", "/static/ops.html", "/static/nope.js", "/static/..%2fviewer.go", "/nope"} {
		if code, _, _ := r.send("GET", path, "", nil); code != 404 {
			t.Errorf("GET %s: %d, want 404", path, code)
		}
	}
}
