package e2e

import (
	"errors"
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
