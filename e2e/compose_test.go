package e2e

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
)

// composeFile is the part of docker-compose.yml the checks read.
type composeFile struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Build       any               `yaml:"build"`
		Profiles    []string          `yaml:"profiles"`
		Environment map[string]string `yaml:"environment"`
		Ports       []string          `yaml:"ports"`
		DependsOn   map[string]struct {
			Condition string `yaml:"condition"`
		} `yaml:"depends_on"`
		Healthcheck *struct {
			Test []string `yaml:"test"`
		} `yaml:"healthcheck"`
		Configs []struct {
			Source string `yaml:"source"`
			Target string `yaml:"target"`
		} `yaml:"configs"`
	} `yaml:"services"`
	Configs map[string]struct {
		Content string `yaml:"content"`
	} `yaml:"configs"`
}

// TestComposeScaleProfile checks the structure of the "scale" profile (no
// Docker engine runs the tests): two API servers on the three-node cluster
// behind a load balancer, each started only once what it needs is healthy.
func TestComposeScaleProfile(t *testing.T) {
	b, err := os.ReadFile("../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var f composeFile
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	inScale := func(name string) bool { return slices.Contains(f.Services[name].Profiles, "scale") }
	nodes := []string{"node1", "node2", "node3"}
	replicas := []string{"api-a", "api-b"}
	hostPorts := map[string]string{}
	for name, s := range f.Services {
		if s.Healthcheck == nil || len(s.Healthcheck.Test) == 0 {
			t.Errorf("%s has no health check", name)
		}
		for _, p := range s.Ports {
			host := strings.SplitN(p, ":", 2)[0]
			if other, ok := hostPorts[host]; ok && (len(s.Profiles) == 0 || slices.ContainsFunc(s.Profiles, func(p string) bool { return slices.Contains(f.Services[other].Profiles, p) })) {
				t.Errorf("%s and %s publish host port %s in one profile", name, other, host)
			}
			hostPorts[host] = name
		}
	}
	for _, n := range nodes {
		if !inScale(n) {
			t.Errorf("%s is not in the scale profile", n)
		}
	}
	var secret string
	for i, r := range replicas {
		s, ok := f.Services[r]
		if !ok || !inScale(r) || s.Build == nil {
			t.Fatalf("%s: missing, not in the scale profile, or not built from the repository", r)
		}
		url := s.Environment["EVENTSTORE_URL"]
		for _, n := range nodes {
			if !strings.Contains(url, n+":2113") {
				t.Errorf("%s's EVENTSTORE_URL %q does not name %s", r, url, n)
			}
			if s.DependsOn[n].Condition != "service_healthy" {
				t.Errorf("%s does not wait for %s to be healthy", r, n)
			}
		}
		if s.Environment["HTTP_ADDR"] != ":8080" {
			t.Errorf("%s listens on %q, want :8080", r, s.Environment["HTTP_ADDR"])
		}
		if i == 0 {
			secret = s.Environment["JWT_SECRET"]
		}
		if s.Environment["JWT_SECRET"] == "" || s.Environment["JWT_SECRET"] != secret {
			t.Errorf("%s's JWT_SECRET %q: the replicas must share one, or a token works on one only", r, s.Environment["JWT_SECRET"])
		}
		if len(s.Ports) != 0 {
			t.Errorf("%s publishes ports %v: clients reach the replicas through the load balancer", r, s.Ports)
		}
	}

	lb, ok := f.Services["lb"]
	if !ok || !inScale("lb") || !strings.HasPrefix(lb.Image, "nginx:") {
		t.Fatalf("lb: missing, not in the scale profile, or not an nginx image: %+v", lb)
	}
	for _, r := range replicas {
		if lb.DependsOn[r].Condition != "service_healthy" {
			t.Errorf("lb does not wait for %s to be healthy", r)
		}
	}
	if len(lb.Configs) != 1 || lb.Configs[0].Target != "/etc/nginx/conf.d/default.conf" {
		t.Fatalf("lb's configs: %+v", lb.Configs)
	}
	conf := f.Configs[lb.Configs[0].Source].Content
	for _, want := range []string{
		"server api-a:8080", "server api-b:8080", "proxy_pass http://api;", "listen 8080;",
		// The live feed's WebSocket upgrade passes through.
		"proxy_http_version 1.1;", "proxy_set_header Upgrade $$http_upgrade;", "proxy_set_header Connection $$connection_upgrade;",
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("the load balancer's configuration lacks %q:\n%s", want, conf)
		}
	}
	// A POST is never sent again to the other replica: it may have been
	// written (nginx retries one only with non_idempotent).
	if strings.Contains(conf, "non_idempotent") {
		t.Error("the load balancer retries mutations on another replica")
	}
}
