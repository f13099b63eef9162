package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/nats-io/nats-server/v2/server"

	"github.com/mnemo-dev/mnemo/pkg/daemon"
	"github.com/mnemo-dev/mnemo/pkg/event"
	"github.com/mnemo-dev/mnemo/pkg/httpapi"
	"github.com/mnemo-dev/mnemo/pkg/store"
	"github.com/mnemo-dev/mnemo/pkg/testkit"
	worker "github.com/mnemo-dev/mnemo/services/agent-worker"
	"github.com/mnemo-dev/mnemo/services/ingest"
	"github.com/mnemo-dev/mnemo/services/query"
	"github.com/mnemo-dev/mnemo/services/reaper"
)

// deployService is one Mnemo service as the deploy files name it: its
// binary's package, the variable of the address it serves HTTP on, and the
// route table that address serves (the code's own).
type deployService struct {
	name, pkg, addrVar string
	routes             []httpapi.Route
	probe              string // the route that says it is up
	listening          string // the log message saying where it listens
}

// deployServices' routes are each service's Routes and the /metrics every
// command serves beside them (daemon.API).
var deployServices = []deployService{
	{"ingest", "../../services/ingest/cmd/mnemo-ingest", "MNEMO_ADDR", append(ingest.Routes(), daemon.MetricsRoute), "/readyz", "ingest listening"},
	{"worker", "../../services/agent-worker/cmd/mnemo-worker", "MNEMO_WORKER_ADDR", append(worker.Routes(), daemon.MetricsRoute), "/healthz", "worker listening"},
	{"reaper", "../../services/reaper/cmd/mnemo-reaper", "MNEMO_REAPER_ADDR", append(reaper.Routes(), daemon.MetricsRoute), "/healthz", "reaper listening"},
	{"query", "../../services/query/cmd/mnemo-query", "MNEMO_ADDR", append(query.Routes(), daemon.MetricsRoute), "/readyz", "query listening"},
}

var (
	serviceBinsOnce sync.Once
	serviceBins     map[string]string
	serviceBinsErr  error
)

// serviceBinaries builds the four service binaries once, beside the mnemo
// binary TestMain builds (and removes).
func serviceBinaries(t *testing.T) map[string]string {
	t.Helper()
	serviceBinsOnce.Do(func() {
		bins := map[string]string{}
		for _, s := range deployServices {
			out := filepath.Join(filepath.Dir(mnemoBin), "mnemo-"+s.name)
			if b, err := exec.Command("go", "build", "-o", out, s.pkg).CombinedOutput(); err != nil {
				serviceBinsErr = fmt.Errorf("build %s: %v\n%s", s.pkg, err, b)
				return
			}
			bins[s.name] = out
		}
		serviceBins = bins
	})
	if serviceBinsErr != nil {
		t.Fatal(serviceBinsErr)
	}
	return serviceBins
}

var mnemoVar = regexp.MustCompile(`\bMNEMO_[A-Z0-9_]+\b`)

// variablesRead is every MNEMO_* variable a binary reads, as its -h lists them.
func variablesRead(t *testing.T, bin string) map[string]bool {
	t.Helper()
	out, err := exec.Command(bin, "-h").CombinedOutput()
	if err != nil {
		t.Fatalf("%s -h: %v\n%s", bin, err, out)
	}
	vars := map[string]bool{}
	for _, v := range mnemoVar.FindAllString(string(out), -1) {
		vars[v] = true
	}
	if len(vars) < 5 {
		t.Fatalf("%s -h lists only %v", bin, vars)
	}
	return vars
}

// natsNode is one node of a cluster started from a deploy file's nats.conf.
type natsNode struct {
	name         string
	client, leaf int
	srv          *server.Server
	opts         *server.Options
}

// startNATSFromConf starts one nats-server per name from conf, the deploy
// file's text, with only its addresses rewritten to loopback and free ports
// (routes to each name's route port) and its store in a temporary
// directory. env holds the variables conf reads (passwords); nameVar is the
// variable its server_name comes from.
func startNATSFromConf(t *testing.T, conf string, names []string, routeHost func(string) string, nameVar string, env map[string]string) []*natsNode {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
	routePorts := map[string]int{}
	for _, n := range names {
		routePorts[n] = unusedPort(t)
	}
	dir := t.TempDir()
	var nodes []*natsNode
	for _, n := range names {
		node := &natsNode{name: n, leaf: unusedPort(t)}
		c := conf
		c = regexp.MustCompile(`(?m)^(\s*)listen: 0\.0\.0\.0:4222`).ReplaceAllString(c, "${1}listen: 127.0.0.1:-1")
		c = regexp.MustCompile(`(?m)^(\s*)listen: 0\.0\.0\.0:6222`).ReplaceAllString(c, fmt.Sprintf("${1}listen: 127.0.0.1:%d", routePorts[n]))
		c = regexp.MustCompile(`(?m)^(\s*)listen: 0\.0\.0\.0:7422`).ReplaceAllString(c, fmt.Sprintf("${1}listen: 127.0.0.1:%d", node.leaf))
		c = regexp.MustCompile(`(?m)^\s*http: 0\.0\.0\.0:8222.*$`).ReplaceAllString(c, "")
		c = regexp.MustCompile(`store_dir: /data/jetstream`).ReplaceAllString(c, fmt.Sprintf("store_dir: %q", filepath.Join(dir, n)))
		for _, other := range names {
			c = strings.ReplaceAll(c, "nats-route://"+routeHost(other)+":6222", fmt.Sprintf("nats-route://127.0.0.1:%d", routePorts[other]))
		}
		if strings.Contains(c, "0.0.0.0") || strings.Contains(c, "/data/") {
			t.Fatalf("nats.conf has an address or path the test does not rewrite:\n%s", c)
		}
		path := filepath.Join(dir, n+".conf")
		if err := os.WriteFile(path, []byte(c), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Setenv(nameVar, n)
		opts, err := server.ProcessConfigFile(path)
		if err != nil {
			t.Fatalf("nats-server cannot load the config of %s: %v", n, err)
		}
		opts.NoSigs = true
		srv, err := server.NewServer(opts)
		if err != nil {
			t.Fatalf("nats-server %s: %v", n, err)
		}
		node.srv, node.opts = srv, opts
		nodes = append(nodes, node)
		t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	}
	for _, node := range nodes {
		go node.srv.Start()
	}
	defer func() {
		for _, node := range nodes {
			if a, ok := node.srv.Addr().(*net.TCPAddr); ok {
				node.client = a.Port
			}
		}
	}()
	deadline := time.Now().Add(60 * time.Second)
	for _, node := range nodes {
		for !node.srv.ReadyForConnections(time.Second) || node.srv.NumRoutes() < len(names)-1 || !node.srv.JetStreamIsCurrent() {
			if time.Now().After(deadline) {
				t.Fatalf("nats %s not routed and JetStream-current after 60s", node.name)
			}
		}
	}
	return nodes
}

// unusedPort is a port nothing listened on a moment ago: only for a NATS
// cluster's route and leaf ports, which every node's config must name before
// any starts. Everything else binds port 0 and says where it listens.
func unusedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a route port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// serviceOnce returns a problem for each JSON line of a service's log that
// does not carry the key "service" exactly once, naming the service (issue
// 22: services used to tag their logger again), and one when there is no
// JSON line at all.
func serviceOnce(name, out string) []string {
	var problems []string
	lines := 0
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, "{") {
			continue
		}
		lines++
		var values []any
		dec := json.NewDecoder(strings.NewReader(line))
		_, err := dec.Token() // {
		for err == nil && dec.More() {
			var k json.Token
			if k, err = dec.Token(); err != nil {
				break
			}
			var v any
			if err = dec.Decode(&v); err == nil && k == "service" {
				values = append(values, v)
			}
		}
		switch {
		case err != nil:
			problems = append(problems, fmt.Sprintf("%s: log line is not JSON (%v): %s", name, err, line))
		case len(values) != 1 || values[0] != name:
			problems = append(problems, fmt.Sprintf("%s: log line carries service %v, want %q once: %s", name, values, name, line))
		}
	}
	if lines == 0 {
		problems = append(problems, fmt.Sprintf("%s logged no JSON line:\n%s", name, tail(out, 10)))
	}
	return problems
}

func TestServiceOnceFindsRepeats(t *testing.T) {
	good := `{"time":"t","level":"INFO","msg":"up","service":"ingest","addr":"x"}` + "\n"
	if p := serviceOnce("ingest", "banner\n"+good); len(p) != 0 {
		t.Fatalf("a good log: %v", p)
	}
	for _, bad := range []string{
		`{"msg":"up","service":"ingest","service":"ingest"}`,
		`{"msg":"up","service":"query"}`,
		`{"msg":"up"}`,
		`{"msg":"up","service":`,
	} {
		if p := serviceOnce("ingest", good+bad); len(p) != 1 {
			t.Errorf("problems in %s: %v, want one", bad, p)
		}
	}
	if p := serviceOnce("ingest", "plain text\n"); len(p) != 1 {
		t.Fatalf("a log without JSON: %v", p)
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// localEnv rewrites a deploy file's environment for this machine: each
// host:port of the deployment to the loopback one started for it, the store
// URL to the test's database, and each 0.0.0.0:port to a free loopback port
// (recorded in addrs by variable).
func localEnv(t *testing.T, env map[string]string, hosts map[string]string, storeURL string) (out []string, addrs map[string]string) {
	t.Helper()
	addrs = map[string]string{}
	for k, v := range env {
		switch {
		case k == "MNEMO_STORE" && strings.HasPrefix(v, "postgres"):
			v = storeURL
		case strings.HasPrefix(v, "0.0.0.0:"):
			v = "127.0.0.1:0" // the process says where it listens
			addrs[k] = v
		default:
			for from, to := range hosts {
				v = strings.ReplaceAll(v, from, to)
			}
		}
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out, addrs
}

var routeParam = regexp.MustCompile(`\{[a-z]+\}`)

// routeRequest makes a request to one route of a table with token ("" for
// none): path parameters filled in, a JSON body for writes.
func routeRequest(ctx context.Context, base string, rt httpapi.Route, token string) (int, string, error) {
	method, path, _ := strings.Cut(rt.Pattern, " ")
	path = strings.ReplaceAll(path, "{$}", "") // "GET /{$}" is the root only
	path = routeParam.ReplaceAllStringFunc(path, func(p string) string {
		if p == "{event}" {
			return "UserPromptSubmit"
		}
		return "1"
	})
	var body io.Reader
	if method == http.MethodPost {
		body = strings.NewReader("{}")
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, body)
	if err != nil {
		return 0, "", err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		return resp.StatusCode, "", nil // a live stream: the headers say it is served
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, string(b), nil
}

// checkRoutes walks a service's route table: every route but the probes
// answers 401 without the token and with a wrong one and is served with the
// right one; the probes answer without a token and say only up or ready.
func checkRoutes(t *testing.T, svc, base string, routes []httpapi.Route, token string) {
	t.Helper()
	if len(routes) < 2 {
		t.Fatalf("%s: route table of %d routes", svc, len(routes))
	}
	for _, rt := range routes {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if rt.Open {
			code, body, err := routeRequest(ctx, base, rt, "")
			var b map[string]any
			if err != nil || code != http.StatusOK || json.Unmarshal([]byte(body), &b) != nil || len(b) != 1 ||
				!slices.Contains([]any{"ok", "ready"}, b["status"]) {
				t.Errorf("%s %s without a token: %d %q %v, want 200 and only its status", svc, rt.Pattern, code, body, err)
			}
			cancel()
			continue
		}
		for _, tok := range []string{"", "wrong-" + token} {
			if code, body, err := routeRequest(ctx, base, rt, tok); err != nil || code != http.StatusUnauthorized {
				t.Errorf("%s %s with token %q: %d %.100s %v, want 401", svc, rt.Pattern, tok, code, body, err)
			}
		}
		code, body, err := routeRequest(ctx, base, rt, token)
		// Served: the handler answered (a 404 of the handler is JSON, the
		// mux's is not), whatever it thought of the empty request.
		if err != nil || code == http.StatusUnauthorized || code == http.StatusMethodNotAllowed ||
			(code == http.StatusNotFound && !json.Valid([]byte(body))) || code >= 500 {
			t.Errorf("%s %s with the token: %d %.200s %v, want it served", svc, rt.Pattern, code, body, err)
		}
		cancel()
	}
}

// waitUp waits until GET url answers 200, failing t after timeout or, when
// p is not nil, as soon as p exits, with p's last output.
func waitUp(t testing.TB, p *testkit.Proc, url string, timeout time.Duration) {
	t.Helper()
	c := http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(timeout)
	var exited <-chan struct{} // nil, never ready, without a process
	if p != nil {
		exited = p.Done()
	}
	for {
		resp, err := c.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-exited:
			t.Fatalf("%s exited before it was up:\n%s", p.ID, tail(p.Output(), 20))
		default:
		}
		switch {
		case time.Now().After(deadline) && p != nil:
			t.Fatalf("%s not up at %s after %s:\n%s", p.ID, url, timeout, tail(p.Output(), 20))
		case time.Now().After(deadline):
			t.Fatalf("%s not 200 within %s (%v)", url, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func authGet(t *testing.T, url, token string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func authPost(t *testing.T, url, token string, body []byte) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// waitPrompt waits until query shows the session with the prompt.
func waitPrompt(t *testing.T, queryURL, token, session, prompt string) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		code, b := authGet(t, queryURL+"/v1/sessions/"+session, token)
		if code == http.StatusOK && bytes.Contains(b, []byte(prompt)) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("query never showed session %s with its prompt: %d %.300s", session, code, b)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// The compose topology as operators run it: compose.yaml read with the
// library Docker Compose uses; for each Mnemo service one process of the real
// binary with exactly its compose environment (hosts and ports rewritten to
// loopback), against a 3-node nats-server cluster from deploy/nats/nats.conf
// (its users and permissions), redis-server and PostgreSQL. Each becomes
// ready without warning about unknown variables; every route of every route
// table answers 401 without or with a wrong token and is served with the
// right one, except the open probes; an event posted to ingest is read back
// through query; a dead letter replayed through the reaper's admin route is
// applied, and a second replay is refused.
func TestDeployComposeRuns(t *testing.T) {
	bins := serviceBinaries(t)
	secrets := map[string]string{
		"MNEMO_TOKEN": "deploy-test-token-" + event.NewID(),
	}
	for _, u := range []string{"INGEST", "WORKER", "REAPER", "QUERY", "LEAF", "SYS"} {
		secrets["MNEMO_NATS_"+u+"_PASSWORD"] = strings.ToLower(u) + "-" + event.NewID()
	}
	secrets["MNEMO_PG_PASSWORD"] = "pg-" + event.NewID()
	var environ []string
	for k, v := range secrets {
		environ = append(environ, k+"="+v)
	}
	ctx := context.Background()
	opts, err := cli.NewProjectOptions([]string{filepath.Join(deployDir, "compose", "compose.yaml")},
		cli.WithEnv(environ), cli.WithName("mnemo"))
	if err != nil {
		t.Fatal(err)
	}
	project, err := opts.LoadProject(ctx)
	if err != nil {
		t.Fatalf("compose-go cannot load compose.yaml: %v", err)
	}

	// NATS as compose runs it: nats.conf with the nats services' environment.
	natsEnv := map[string]string{}
	for k, v := range project.Services["nats-1"].Environment {
		if v != nil && k != "SERVER_NAME" {
			natsEnv[k] = *v
		}
	}
	conf := deployFile(t, "nats", "nats.conf")
	names := []string{"nats-1", "nats-2", "nats-3"}
	nodes := startNATSFromConf(t, string(conf), names, func(n string) string { return n }, "SERVER_NAME", natsEnv)
	rds := testkit.StartRedis(t)
	dsn := testkit.StartPostgres(t)
	hosts := map[string]string{"redis:6379": rds.Addr()}
	for _, n := range nodes {
		hosts[n.name+":4222"] = fmt.Sprintf("127.0.0.1:%d", n.client)
	}

	token := secrets["MNEMO_TOKEN"]
	bases := map[string]string{}
	procs := map[string]*testkit.Proc{}
	for _, s := range deployServices {
		cs, ok := project.Services[s.name]
		if !ok {
			t.Fatalf("compose.yaml has no service %s", s.name)
		}
		env := map[string]string{}
		for k, v := range cs.Environment {
			if v == nil {
				t.Fatalf("compose: %s's %s has no value", s.name, k)
			}
			env[k] = *v
		}
		if env["MNEMO_NATS_USER"] == "" || env["MNEMO_NATS_PASSWORD"] == "" {
			t.Errorf("compose: %s has no NATS user of its own", s.name)
		}
		local, addrs := localEnv(t, env, hosts, dsn)
		if addrs[s.addrVar] == "" {
			t.Fatalf("compose: %s serves no HTTP on %s (0.0.0.0:port)", s.name, s.addrVar)
		}
		procs[s.name] = testkit.StartExact(t, s.name, bins[s.name], nil, local)
	}
	for _, s := range deployServices {
		bases[s.name] = "http://" + procs[s.name].WaitLog(t, s.listening, 120*time.Second)
		waitUp(t, procs[s.name], bases[s.name]+s.probe, 120*time.Second)
	}
	for _, s := range deployServices {
		if out := procs[s.name].Output(); strings.Contains(out, "unknown variable") {
			t.Errorf("%s warns about variables compose gives it:\n%s", s.name, out)
		}
		for _, p := range serviceOnce(s.name, procs[s.name].Output()) {
			t.Error(p)
		}
		checkRoutes(t, s.name, bases[s.name], s.routes, token)
	}
	if t.Failed() {
		return
	}

	// An event through ingest, read back through query.
	session := "deploy-" + strings.ToLower(event.NewID())
	prompt := "compose deployment check " + event.NewID()
	body, _ := json.Marshal(map[string]string{"session_id": session, "cwd": "/home/dev/acme-api",
		"hook_event_name": "UserPromptSubmit", "prompt": prompt})
	if code, b := authPost(t, bases["ingest"]+"/v1/hooks/claude-code/UserPromptSubmit", token, body); code/100 != 2 {
		t.Fatalf("ingest: %d %s", code, b)
	}
	waitPrompt(t, bases["query"], token, session, prompt)

	// A dead letter replayed through the reaper's admin route is applied.
	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// deadLetter stores a dead prompt of a session of its own and returns
	// its ID, the session and the prompt.
	deadLetter := func(what string) (int64, string, string) {
		e := &event.Envelope{EventID: event.NewID(), SessionID: "deploy-dl-" + strings.ToLower(event.NewID()),
			Project: "acme-api", Agent: "claude-code", Kind: event.KindUserPrompt, At: time.Now().UTC(),
			Prompt: "dead letter replayed through " + what + " " + event.NewID()}
		payload, _ := json.Marshal(e)
		id, err := st.AddDeadLetter(ctx, store.DeadLetter{EventID: e.EventID, SessionID: e.SessionID, Seq: 1,
			Reason: "deploy test", Deliveries: 5, Payload: payload})
		if err != nil {
			t.Fatal(err)
		}
		return id, e.SessionID, e.Prompt
	}
	id, dlSession, dlPrompt := deadLetter("the reaper")
	replay := fmt.Sprintf("%s/v1/dlq/%d/replay", bases["reaper"], id)
	if code, b := authPost(t, replay, token, nil); code != http.StatusOK {
		t.Fatalf("replay through the reaper: %d %s", code, b)
	}
	waitPrompt(t, bases["query"], token, dlSession, dlPrompt)
	if code, b := authPost(t, replay, token, nil); code != http.StatusConflict {
		t.Fatalf("second replay: %d %s, want 409", code, b)
	}

	// One replayed through query's ops route reaches a reaper over the bus,
	// within the query user's broker permissions, and is applied.
	id, dlSession, dlPrompt = deadLetter("query")
	opsReplay := fmt.Sprintf("%s/v1/dead-letters/%d/replay", bases["query"], id)
	if code, b := authPost(t, opsReplay, token, nil); code != http.StatusOK {
		t.Fatalf("replay through query: %d %s", code, b)
	}
	waitPrompt(t, bases["query"], token, dlSession, dlPrompt)
}
