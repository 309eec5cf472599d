package e2e

import (
	"errors"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The binary's command line: help and every mode without starting a
// server, and a mistyped mode refused with a suggestion before anything is
// created (no ./data directory).
func TestCommandLineHelpAndTypos(t *testing.T) {
	bin := buildServer(t)
	for _, c := range []struct {
		args     []string
		exit     int
		want     []string
		dontWant string
	}{
		{[]string{"help"}, 0, []string{"modes:", "  verify ", "  replay ", "  export ", "  import ", "  generate ", "  serve ", "  help "}, ""},
		{[]string{"-h"}, 0, []string{"modes:", "  verify ", "server flags", "-addr"}, ""},
		{[]string{"help", "verify"}, 0, []string{"usage: multichannel verify", "-expected"}, ""},
		{[]string{"help", "serve"}, 0, []string{"-jwt-secret"}, ""},
		{[]string{"verfiy"}, 2, []string{`unknown mode "verfiy"; did you mean verify?`}, "serving"},
		{[]string{"help", "exprot"}, 2, []string{"did you mean export?"}, "serving"},
		{[]string{"frobnicate"}, 2, []string{`unknown mode "frobnicate"`}, "did you mean"},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			dir := t.TempDir()
			cmd := exec.Command(bin, c.args...)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "EVENTS_DB=", "EVENTSTORE_URL=", "APP_ENV=")
			out, err := cmd.CombinedOutput()
			code := 0
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				code = exit.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != c.exit {
				t.Errorf("exit %d, want %d\n%s", code, c.exit, out)
			}
			for _, w := range c.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("output lacks %q\n%s", w, out)
				}
			}
			if c.dontWant != "" && strings.Contains(string(out), c.dontWant) {
				t.Errorf("output has %q\n%s", c.dontWant, out)
			}
			if entries, _ := os.ReadDir(dir); len(entries) > 0 {
				t.Errorf("%v created %v", c.args, entries)
			}
		})
	}
}

// The Dockerfile's own `docker run` examples start: each passes a
// JWT_SECRET (production mode refuses to start without one), and the
// binary with the image's environment and that secret answers /healthz;
// without it, it exits at once.
func TestDockerfileExampleStarts(t *testing.T) {
	df, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	runs := 0
	for _, line := range strings.Split(string(df), "\n") {
		if strings.Contains(line, "docker run ") {
			runs++
			if !strings.Contains(line, `-e JWT_SECRET="$(openssl rand -hex 32)"`) {
				t.Errorf("the example %q passes no JWT_SECRET", strings.TrimSpace(line))
			}
		}
	}
	if runs == 0 {
		t.Fatal("no docker run example in the Dockerfile")
	}
	bin := buildServer(t)
	image := []string{"APP_ENV=production", "EVENTS_DB=" + t.TempDir() + "/events.db", "EVENTSTORE_URL="}

	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), append(image, "HTTP_ADDR="+freeAddr(t), "JWT_SECRET=")...)
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "JWT_SECRET") {
		t.Fatalf("production without a secret: %v\n%s", err, out)
	}

	addr := freeAddr(t)
	cmd = exec.Command(bin)
	cmd.Env = append(os.Environ(), append(image, "HTTP_ADDR="+addr, "JWT_SECRET="+strings.Repeat("ab", 32))...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	awaitCondition(t, "/healthz answers", func() bool {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}
