package query

import (
	"bytes"
	"embed"
	"encoding/json"
	"html/template"
	"io"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/httpapi"
)

// web holds the viewer: plain HTML, CSS and JS, no build step and nothing
// fetched from elsewhere, so it works offline (docs/ARCHITECTURE.md §16).
//
//go:embed web
var web embed.FS

// viewerCSP keeps the pages to their own origin: no inline script, no
// third-party anything; the login page's one inline style is allowed.
const viewerCSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

func pageHeaders(w http.ResponseWriter, contentType string) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Security-Policy", viewerCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	// same-origin, not no-referrer: with no-referrer Chromium sends
	// "Origin: null" on the login form's POST, which sameOrigin refuses.
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-cache")
}

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Mnemo · sign in</title>
<link rel="icon" href="data:,">
<style>
body{font:16px/1.4 system-ui,sans-serif;margin:0;display:grid;place-items:center;min-height:100vh;background:#f4f5f7;color:#1d2330}
@media (prefers-color-scheme: dark){body{background:#14171c;color:#e6e8ec}input{background:#1e232b;color:#e6e8ec;border-color:#3a4150}}
form{max-width:22rem;width:90%;display:grid;gap:.75rem}
input,button{font:inherit;padding:.6rem .7rem;border-radius:.4rem;border:1px solid #c6cbd4}
button{background:#3555d8;color:#fff;border:0;cursor:pointer}
.err{color:#c0392b}
</style></head>
<body><form method="post" action="/v1/login">
<h1>Mnemo</h1>
<p>This Mnemo asks for its token (<code>MNEMO_TOKEN</code>) once; the browser then keeps a session cookie.</p>
{{if .Failed}}<p class="err" id="login-error">That token is not this Mnemo's.</p>{{end}}
<input type="hidden" name="next" value="{{.Next}}">
<input type="password" name="token" id="token" autocomplete="current-password" placeholder="token" required autofocus>
<button type="submit" id="login">Sign in</button>
</form></body></html>
`))

// pages are the pages a login may return to (the form's next field); any
// other value goes to the viewer, so the form cannot redirect elsewhere.
var pages = map[string]bool{"/": true, "/ops": true}

// nextPage is the page a login returns to: next if it is one of pages.
func nextPage(next string) string {
	if pages[next] {
		return next
	}
	return "/"
}

func (s *Server) writeLogin(w http.ResponseWriter, status int, failed bool, next string) {
	var buf bytes.Buffer
	_ = loginPage.Execute(&buf, struct {
		Failed bool
		Next   string
	}{failed, nextPage(next)})
	pageHeaders(w, "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// handleIndex serves the viewer, or the login page (servePage).
func (s *Server) handleIndex(w http.ResponseWriter, r *http.Request) {
	s.servePage(w, r, "web/index.html")
}

// handleOpsPage serves the ops page, or the login page (servePage).
func (s *Server) handleOpsPage(w http.ResponseWriter, r *http.Request) {
	s.servePage(w, r, "web/ops.html")
}

// servePage serves one of the embedded pages, or, without the session
// cookie when a token is set, the login page: 200 to a browser's
// navigation, 401 else.
func (s *Server) servePage(w http.ResponseWriter, r *http.Request, file string) {
	if !s.authorized(r) {
		// A browser's navigation gets the form as a page (200: a 401
		// document is a console error); any other client the 401.
		status := http.StatusUnauthorized
		if r.Header.Get("Sec-Fetch-Mode") == "navigate" || strings.Contains(r.Header.Get("Accept"), "text/html") {
			status = http.StatusOK
		}
		s.writeLogin(w, status, false, r.URL.Path)
		return
	}
	b, err := web.ReadFile(file)
	if err != nil {
		httpapi.WriteError(w, http.StatusInternalServerError, "the page is missing from this build", "")
		return
	}
	pageHeaders(w, "text/html; charset=utf-8")
	_, _ = w.Write(b)
}

// handleStatic serves the viewer's scripts and styles.
func (s *Server) handleStatic(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	if name == "" || strings.ContainsAny(name, `/\`) || strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".html") {
		httpapi.WriteError(w, http.StatusNotFound, "no such asset", "file")
		return
	}
	b, err := web.ReadFile("web/" + name)
	if err != nil {
		httpapi.WriteError(w, http.StatusNotFound, "no such asset", "file")
		return
	}
	ct := mime.TypeByExtension(path.Ext(name))
	if ct == "" {
		ct = "application/octet-stream"
	}
	pageHeaders(w, ct)
	_, _ = w.Write(b)
}

// sessionMaxAge is how long a viewer session cookie lasts.
const sessionMaxAge = 30 * 24 * time.Hour

// handleLogin exchanges the token for the session cookie. The token comes
// from the login form, a JSON body {"token": …} or the Authorization
// header; a form is answered with a redirect to the viewer.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	form := strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded")
	token := ""
	switch {
	case form:
		r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
		if err := r.ParseForm(); err != nil {
			httpapi.WriteError(w, http.StatusBadRequest, "unreadable form: "+err.Error(), "token")
			return
		}
		token = r.PostForm.Get("token")
	case httpapi.JSONContent(r):
		b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 8<<10))
		if err != nil {
			httpapi.WriteError(w, http.StatusRequestEntityTooLarge, "body is larger than 8 KiB", "body")
			return
		}
		var in struct {
			Token string `json:"token"`
		}
		if len(bytes.TrimSpace(b)) > 0 {
			if err := json.Unmarshal(b, &in); err != nil {
				httpapi.WriteError(w, http.StatusBadRequest, "malformed JSON: "+err.Error(), "body")
				return
			}
		}
		token = in.Token
	default:
		httpapi.WriteError(w, http.StatusUnsupportedMediaType, "send the token as a form or JSON", "Content-Type")
		return
	}
	if s.cfg.Token == "" {
		w.WriteHeader(http.StatusNoContent) // nothing to sign in to
		return
	}
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	r.Header.Del("Cookie")
	if s.refused(w, r) {
		return
	}
	if !s.authorized(r) {
		if form {
			s.writeLogin(w, http.StatusUnauthorized, true, r.PostForm.Get("next"))
			return
		}
		httpapi.WriteError(w, http.StatusUnauthorized, "wrong token", "token")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: s.session, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil, MaxAge: int(sessionMaxAge / time.Second)})
	if form {
		http.Redirect(w, r, nextPage(r.PostForm.Get("next")), http.StatusSeeOther)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleLogout ends the browser's session.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil, MaxAge: -1})
	w.WriteHeader(http.StatusNoContent)
}
