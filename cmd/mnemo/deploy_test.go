package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const deployDir = "../../deploy"

// k8sDoc is the part of a manifest the checks read.
type k8sDoc struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name   string            `yaml:"name"`
		Labels map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	Spec struct {
		Replicas *int `yaml:"replicas"`
		Selector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		PlainSelector map[string]string `yaml:"-"`
		Template      struct {
			Metadata struct {
				Labels map[string]string `yaml:"labels"`
			} `yaml:"metadata"`
			Spec struct {
				Containers []struct {
					Name           string `yaml:"name"`
					Image          string `yaml:"image"`
					ReadinessProbe *probe `yaml:"readinessProbe"`
					LivenessProbe  *probe `yaml:"livenessProbe"`
				} `yaml:"containers"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
	raw map[string]any
}

type probe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
	} `yaml:"httpGet"`
}

// deployFile is the file at path under deploy/.
func deployFile(t *testing.T, path ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(append([]string{deployDir}, path...)...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// deployYAML decodes the YAML file at path under deploy/ into v.
func deployYAML(t *testing.T, v any, path ...string) {
	t.Helper()
	if err := yaml.Unmarshal(deployFile(t, path...), v); err != nil {
		t.Fatalf("%s: %v", filepath.Join(path...), err)
	}
}

func k8sDocs(t *testing.T) []k8sDoc {
	files, _ := filepath.Glob(filepath.Join(deployDir, "k8s", "*.yaml"))
	if len(files) == 0 {
		t.Fatal("no manifests under deploy/k8s")
	}
	var docs []k8sDoc
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		for {
			var raw map[string]any
			err := dec.Decode(&raw)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			var d k8sDoc
			node, _ := yaml.Marshal(raw)
			if err := yaml.Unmarshal(node, &d); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			d.raw = raw
			docs = append(docs, d)
		}
	}
	return docs
}

// The manifests are well-formed and consistent: every object named and
// typed, selectors match their pods, probes point at /readyz and /healthz,
// every PodDisruptionBudget and Service selects a workload.
func TestDeployK8sManifests(t *testing.T) {
	docs := k8sDocs(t)
	workloads := map[string]map[string]string{}
	kinds := map[string]int{}
	for _, d := range docs {
		if d.APIVersion == "" || d.Kind == "" || d.Metadata.Name == "" {
			t.Fatalf("manifest without apiVersion, kind or name: %+v", d.raw)
		}
		kinds[d.Kind]++
		if d.Kind != "Deployment" && d.Kind != "StatefulSet" {
			continue
		}
		sel, labels := d.Spec.Selector.MatchLabels, d.Spec.Template.Metadata.Labels
		if len(sel) == 0 {
			t.Errorf("%s %s has no selector", d.Kind, d.Metadata.Name)
		}
		for k, v := range sel {
			if labels[k] != v {
				t.Errorf("%s %s: selector %s=%s does not match its pod labels %v", d.Kind, d.Metadata.Name, k, v, labels)
			}
		}
		workloads[d.Metadata.Name] = labels
		for _, c := range d.Spec.Template.Spec.Containers {
			if c.Image == "" {
				t.Errorf("%s/%s has no image", d.Metadata.Name, c.Name)
			}
			for _, p := range []*probe{c.ReadinessProbe, c.LivenessProbe} {
				if p != nil && (p.HTTPGet == nil || !(strings.HasPrefix(p.HTTPGet.Path, "/readyz") || strings.HasPrefix(p.HTTPGet.Path, "/healthz"))) {
					t.Errorf("%s/%s: probe not on /readyz or /healthz", d.Metadata.Name, c.Name)
				}
			}
		}
	}
	for _, d := range docs {
		var sel map[string]string
		switch d.Kind {
		case "PodDisruptionBudget":
			sel = d.Spec.Selector.MatchLabels
		case "Service":
			spec, _ := d.raw["spec"].(map[string]any)
			s, _ := spec["selector"].(map[string]any)
			sel = map[string]string{}
			for k, v := range s {
				sel[k], _ = v.(string)
			}
		default:
			continue
		}
		found := false
		for _, labels := range workloads {
			match := len(sel) > 0
			for k, v := range sel {
				match = match && labels[k] == v
			}
			found = found || match
		}
		if !found {
			t.Errorf("%s %s selects no workload (%v)", d.Kind, d.Metadata.Name, sel)
		}
	}
	for _, name := range []string{"nats", "mnemo-ingest", "mnemo-worker", "mnemo-reaper", "mnemo-query"} {
		if workloads[name] == nil {
			t.Errorf("no workload %s", name)
		}
	}
	if kinds["PodDisruptionBudget"] < 5 {
		t.Errorf("%d PodDisruptionBudgets, want one per workload", kinds["PodDisruptionBudget"])
	}
}

// The compose file names every part of the topology and only existing
// dependencies; the NATS config is a 3-node cluster with a user per service.
func TestDeployComposeAndNATS(t *testing.T) {
	var c struct {
		Services map[string]struct {
			DependsOn []string `yaml:"depends_on"`
			Deploy    struct {
				Replicas int `yaml:"replicas"`
			} `yaml:"deploy"`
		} `yaml:"services"`
	}
	deployYAML(t, &c, "compose", "compose.yaml")
	for name, replicas := range map[string]int{"nats-1": 0, "nats-2": 0, "nats-3": 0, "redis": 0, "postgres": 0, "ingest": 2,
		"worker": 3, "reaper": 2, "query": 0, "nats-exporter": 0, "prometheus": 0, "grafana": 0} {
		s, ok := c.Services[name]
		if !ok {
			t.Errorf("compose: no service %s", name)
			continue
		}
		if replicas > 0 && s.Deploy.Replicas != replicas {
			t.Errorf("compose: %s has %d replicas, want %d", name, s.Deploy.Replicas, replicas)
		}
	}
	for name, s := range c.Services {
		for _, dep := range s.DependsOn {
			if _, ok := c.Services[dep]; !ok {
				t.Errorf("compose: %s depends on unknown %s", name, dep)
			}
		}
	}
	// Mnemo's /metrics take the bearer token: every Mnemo job must send it.
	var prom struct {
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			Authorization struct {
				CredentialsFile string `yaml:"credentials_file"`
			} `yaml:"authorization"`
		} `yaml:"scrape_configs"`
	}
	deployYAML(t, &prom, "compose", "prometheus.yml")
	jobs := map[string]bool{}
	for _, j := range prom.ScrapeConfigs {
		jobs[j.JobName] = true
		if strings.HasPrefix(j.JobName, "mnemo-") && j.Authorization.CredentialsFile == "" {
			t.Errorf("prometheus: job %s sends no bearer token", j.JobName)
		}
	}
	for _, want := range []string{"mnemo-ingest", "mnemo-worker", "mnemo-reaper", "mnemo-query"} {
		if !jobs[want] {
			t.Errorf("prometheus: no job %s", want)
		}
	}
	conf := deployFile(t, "nats", "nats.conf")
	for _, want := range []string{"jetstream", "nats-route://nats-1:6222", "nats-route://nats-2:6222", "nats-route://nats-3:6222",
		"user: ingest", "user: worker", "user: reaper", "user: query", "system_account: SYS", "tls {"} {
		if !strings.Contains(string(conf), want) {
			t.Errorf("nats.conf lacks %q", want)
		}
	}
	dash := deployFile(t, "compose", "grafana", "dashboards", "mnemo.json")
	var d struct {
		Panels []struct{ Title string } `json:"panels"`
	}
	if err := json.Unmarshal(dash, &d); err != nil || len(d.Panels) < 6 {
		t.Fatalf("dashboard: %v, %d panels", err, len(d.Panels))
	}
}
