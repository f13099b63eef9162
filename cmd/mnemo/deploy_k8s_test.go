package main

import (
	"bytes"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/mnemo-dev/mnemo/pkg/event"
)

// k8sObjects are the manifests of deploy/k8s, parsed into the k8s API types.
type k8sObjects struct {
	configMaps   map[string]corev1.ConfigMap
	deployments  []appsv1.Deployment
	statefulSets []appsv1.StatefulSet
}

func loadK8s(t *testing.T) k8sObjects {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(deployDir, "k8s", "*.yaml"))
	if len(files) == 0 {
		t.Fatal("no manifests under deploy/k8s")
	}
	o := k8sObjects{configMaps: map[string]corev1.ConfigMap{}}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, doc := range bytes.Split(b, []byte("\n---\n")) {
			var tm metav1.TypeMeta
			if err := yaml.Unmarshal(doc, &tm); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			var err error
			switch tm.Kind {
			case "ConfigMap":
				var cm corev1.ConfigMap
				err = yaml.UnmarshalStrict(doc, &cm)
				o.configMaps[cm.Name] = cm
			case "Deployment":
				var d appsv1.Deployment
				err = yaml.UnmarshalStrict(doc, &d)
				o.deployments = append(o.deployments, d)
			case "StatefulSet":
				var s appsv1.StatefulSet
				err = yaml.UnmarshalStrict(doc, &s)
				o.statefulSets = append(o.statefulSets, s)
			}
			if err != nil {
				t.Fatalf("%s: %s: %v", f, tm.Kind, err)
			}
		}
	}
	return o
}

// containerEnv is a container's variables: its ConfigMaps' and its own, each
// with a literal value or where it comes from (secret/key).
func (o k8sObjects) containerEnv(t *testing.T, c corev1.Container) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, from := range c.EnvFrom {
		if from.ConfigMapRef == nil {
			t.Fatalf("%s: envFrom other than a ConfigMap", c.Name)
		}
		cm, ok := o.configMaps[from.ConfigMapRef.Name]
		if !ok {
			t.Fatalf("%s: envFrom unknown ConfigMap %s", c.Name, from.ConfigMapRef.Name)
		}
		for k, v := range cm.Data {
			env[k] = v
		}
	}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		case e.ValueFrom.SecretKeyRef != nil:
			env[e.Name] = "secret:" + e.ValueFrom.SecretKeyRef.Name + "/" + e.ValueFrom.SecretKeyRef.Key
		case e.ValueFrom.FieldRef != nil:
			env[e.Name] = "field:" + e.ValueFrom.FieldRef.FieldPath
		default:
			t.Fatalf("%s: %s comes from an unexpected source", c.Name, e.Name)
		}
	}
	return env
}

// requiredVars are the variables a service cannot run in a cluster without
// (their defaults are this machine's loopback, or nothing).
var requiredVars = map[string][]string{
	"ingest": {"MNEMO_NATS_URL", "MNEMO_NATS_USER", "MNEMO_NATS_PASSWORD", "MNEMO_REDIS_URL", "MNEMO_TOKEN", "MNEMO_ADDR"},
	"worker": {"MNEMO_NATS_URL", "MNEMO_NATS_USER", "MNEMO_NATS_PASSWORD", "MNEMO_REDIS_URL", "MNEMO_TOKEN", "MNEMO_STORE",
		"MNEMO_PARTITIONS", "MNEMO_REPLICAS", "MNEMO_WORKER_ADDR"},
	"reaper": {"MNEMO_NATS_URL", "MNEMO_NATS_USER", "MNEMO_NATS_PASSWORD", "MNEMO_REDIS_URL", "MNEMO_TOKEN", "MNEMO_STORE",
		"MNEMO_PARTITIONS", "MNEMO_REPLICAS", "MNEMO_REAPER_ADDR"},
	"query": {"MNEMO_NATS_URL", "MNEMO_NATS_USER", "MNEMO_NATS_PASSWORD", "MNEMO_REDIS_URL", "MNEMO_TOKEN", "MNEMO_STORE",
		"MNEMO_PARTITIONS", "MNEMO_ADDR"},
}

// Every Mnemo container of deploy/k8s gets only variables its binary reads
// (as its -h lists them), every variable it needs, its own NATS user with a
// password from the secret the NATS servers read it from, the same
// partition count and member TTL as the others, and probes on open routes of
// its own address.
func TestDeployK8sContainersMatchTheirBinaries(t *testing.T) {
	bins := serviceBinaries(t)
	o := loadK8s(t)
	natsSecrets := map[string]string{} // variable of the NATS servers → secret/key
	for _, s := range o.statefulSets {
		for _, c := range s.Spec.Template.Spec.Containers {
			for k, v := range o.containerEnv(t, c) {
				natsSecrets[k] = v
			}
		}
	}
	shared := map[string]map[string]string{"MNEMO_PARTITIONS": {}, "MNEMO_MEMBER_TTL": {}}
	seen := map[string]bool{}
	for _, d := range o.deployments {
		for _, c := range d.Spec.Template.Spec.Containers {
			if len(c.Command) != 1 || !strings.HasPrefix(c.Command[0], "/usr/local/bin/mnemo-") {
				t.Errorf("%s/%s: command %v is not a Mnemo service binary", d.Name, c.Name, c.Command)
				continue
			}
			var svc deployService
			for _, s := range deployServices {
				if c.Command[0] == "/usr/local/bin/mnemo-"+s.name {
					svc = s
				}
			}
			if svc.name == "" {
				t.Errorf("%s/%s: unknown binary %s", d.Name, c.Name, c.Command[0])
				continue
			}
			seen[svc.name] = true
			reads := variablesRead(t, bins[svc.name])
			env := o.containerEnv(t, c)
			for k := range env {
				if strings.HasPrefix(k, "MNEMO_") && !reads[k] {
					t.Errorf("%s: gets %s, which mnemo-%s does not read", d.Name, k, svc.name)
				}
			}
			for _, k := range requiredVars[svc.name] {
				if env[k] == "" {
					t.Errorf("%s: %s is not set", d.Name, k)
				}
			}
			for k, per := range shared {
				if v, ok := env[k]; ok {
					per[v] = d.Name
				}
			}
			if env["MNEMO_NATS_USER"] != svc.name {
				t.Errorf("%s: NATS user %q, want its own (%s)", d.Name, env["MNEMO_NATS_USER"], svc.name)
			}
			want := natsSecrets["MNEMO_NATS_"+strings.ToUpper(svc.name)+"_PASSWORD"]
			if !strings.HasPrefix(env["MNEMO_NATS_PASSWORD"], "secret:") || env["MNEMO_NATS_PASSWORD"] != want {
				t.Errorf("%s: NATS password from %q, the NATS servers read its user's from %q", d.Name, env["MNEMO_NATS_PASSWORD"], want)
			}
			_, port, _ := strings.Cut(env[svc.addrVar], ":")
			open := map[string]bool{}
			for _, rt := range svc.routes {
				if rt.Open {
					_, p, _ := strings.Cut(rt.Pattern, " ")
					open[p] = true
				}
			}
			probes := 0
			for _, p := range []*corev1.Probe{c.ReadinessProbe, c.LivenessProbe} {
				if p == nil {
					continue
				}
				probes++
				if p.HTTPGet == nil || !open[p.HTTPGet.Path] || p.HTTPGet.Port.String() != port {
					t.Errorf("%s: probe %+v is not an open route of its address %s (open: %v)", d.Name, p.HTTPGet, env[svc.addrVar], open)
				}
			}
			if probes == 0 {
				t.Errorf("%s: no probe", d.Name)
			}
		}
	}
	for _, s := range deployServices {
		if !seen[s.name] {
			t.Errorf("deploy/k8s runs no mnemo-%s", s.name)
		}
	}
	for k, per := range shared {
		if len(per) > 1 {
			t.Errorf("%s differs between deployments: %v", k, per)
		}
	}
}

// natsUsers loads a NATS config with a real nats-server's parser and returns
// its users by name: account and permissions.
func natsUsers(t *testing.T, opts *server.Options) map[string]string {
	t.Helper()
	users := map[string]string{}
	for _, u := range opts.Users {
		acc := ""
		if u.Account != nil {
			acc = u.Account.Name
		}
		users[u.Username] = fmt.Sprintf("account=%s permissions=%+v", acc, permString(u.Permissions))
	}
	return users
}

func permString(p *server.Permissions) string {
	if p == nil {
		return "none"
	}
	s := ""
	for _, sp := range []*server.SubjectPermission{p.Publish, p.Subscribe} {
		if sp == nil {
			s += "[] "
			continue
		}
		s += fmt.Sprintf("%v/%v ", sp.Allow, sp.Deny)
	}
	return s
}

// The NATS config deploy/k8s carries loads in a real 3-node nats-server
// cluster with authorization on: its users and permissions are those of
// deploy/nats/nats.conf, a client without credentials is refused, and each
// service's user connects with its password.
func TestDeployK8sNATS(t *testing.T) {
	o := loadK8s(t)
	cm, ok := o.configMaps["nats-config"]
	if !ok || cm.Data["nats.conf"] == "" {
		t.Fatal("deploy/k8s has no ConfigMap nats-config with nats.conf")
	}
	secrets := map[string]string{}
	for _, u := range []string{"INGEST", "WORKER", "REAPER", "QUERY", "LEAF", "SYS"} {
		secrets["MNEMO_NATS_"+u+"_PASSWORD"] = strings.ToLower(u) + "-" + event.NewID()
	}
	// Every variable the config reads is one the StatefulSet gives its pods.
	for _, m := range regexp.MustCompile(`\$(MNEMO_[A-Z0-9_]+)`).FindAllStringSubmatch(cm.Data["nats.conf"], -1) {
		v := m[1]
		found := false
		for _, s := range o.statefulSets {
			for _, c := range s.Spec.Template.Spec.Containers {
				if _, ok := o.containerEnv(t, c)[v]; ok {
					found = true
				}
			}
		}
		if !found {
			t.Errorf("nats.conf reads %s, which the NATS StatefulSet does not set", v)
		}
	}
	names := []string{"nats-0", "nats-1", "nats-2"}
	nodes := startNATSFromConf(t, cm.Data["nats.conf"], names, func(n string) string { return n + ".nats" }, "POD_NAME", secrets)

	conf := deployFile(t, "nats", "nats.conf")
	t.Setenv("SERVER_NAME", "nats-1")
	path := filepath.Join(t.TempDir(), "nats.conf")
	if err := os.WriteFile(path, conf, 0o600); err != nil {
		t.Fatal(err)
	}
	ref, err := server.ProcessConfigFile(path)
	if err != nil {
		t.Fatalf("deploy/nats/nats.conf: %v", err)
	}
	got, want := natsUsers(t, nodes[0].opts), natsUsers(t, ref)
	if len(want) < 5 || !reflect.DeepEqual(got, want) {
		t.Fatalf("k8s NATS users differ from deploy/nats/nats.conf:\n k8s: %v\nnats: %v", got, want)
	}

	u := fmt.Sprintf("nats://127.0.0.1:%d", nodes[0].client)
	if nc, err := nats.Connect(u, nats.Timeout(5*time.Second)); err == nil {
		nc.Close()
		t.Fatal("a client without credentials connected")
	}
	for _, user := range []string{"ingest", "worker", "reaper", "query"} {
		nc, err := nats.Connect(u, nats.UserInfo(user, secrets["MNEMO_NATS_"+strings.ToUpper(user)+"_PASSWORD"]), nats.Timeout(5*time.Second))
		if err != nil {
			t.Fatalf("user %s: %v", user, err)
		}
		nc.Close()
	}
}

// deploy/nats/leaf.conf loads in a real nats-server, which joins the cluster
// of deploy/nats/nats.conf as a leaf node with the leaf user's password.
func TestDeployNATSLeaf(t *testing.T) {
	secrets := map[string]string{}
	for _, u := range []string{"INGEST", "WORKER", "REAPER", "QUERY", "LEAF", "SYS"} {
		secrets["MNEMO_NATS_"+u+"_PASSWORD"] = strings.ToLower(u) + "-" + event.NewID()
	}
	conf := deployFile(t, "nats", "nats.conf")
	hub := startNATSFromConf(t, string(conf), []string{"nats-1", "nats-2", "nats-3"}, func(n string) string { return n }, "SERVER_NAME", secrets)
	t.Setenv("MNEMO_LEAF_NAME", "laptop-mnemo")
	t.Setenv("MNEMO_LEAF_STORE", t.TempDir())
	hubURL := url.URL{Scheme: "nats-leaf", User: url.UserPassword("leaf", secrets["MNEMO_NATS_LEAF_PASSWORD"]),
		Host: fmt.Sprintf("127.0.0.1:%d", hub[0].leaf)}
	t.Setenv("MNEMO_LEAF_HUB", hubURL.String())
	opts, err := server.ProcessConfigFile(filepath.Join(deployDir, "nats", "leaf.conf"))
	if err != nil {
		t.Fatalf("deploy/nats/leaf.conf does not load: %v", err)
	}
	opts.NoSigs = true
	leaf, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go leaf.Start()
	t.Cleanup(func() { leaf.Shutdown(); leaf.WaitForShutdown() })
	deadline := time.Now().Add(30 * time.Second)
	for leaf.NumLeafNodes() < 1 || hub[0].srv.NumLeafNodes() < 1 {
		if time.Now().After(deadline) {
			t.Fatalf("the leaf never joined the hub (leaf %d, hub %d leaf connections)", leaf.NumLeafNodes(), hub[0].srv.NumLeafNodes())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !leaf.JetStreamEnabled() {
		t.Fatal("the leaf runs without JetStream")
	}
}
