package app

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// startDev serves a development-mode app on loopback until the test ends
// and returns its start-up output once the server answers.
func startDev(t *testing.T, db string, args ...string) string {
	t.Helper()
	cfg, err := ParseConfig(append([]string{"-env", "development", "-events-db", db, "-metrics=false", "-request-log=false"}, args...))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	a, err := New(cfg, WithStdout(&out))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	// Serve prints the banner before it accepts; a request that succeeds
	// means the banner is complete.
	resp, err := http.Get("http://" + ln.Addr().String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return out.String()
}

// The start-up output opens with the playground's URL, then names each
// demo user above its token.
func TestBannerURLFirstThenNamedTokens(t *testing.T) {
	out := startDev(t, filepath.Join(t.TempDir(), "events.db"))
	lines := strings.Split(out, "\n")
	if !strings.HasPrefix(lines[0], "Playground: http://127.0.0.1:") || !strings.HasSuffix(strings.Fields(lines[0])[1], "/") {
		t.Fatalf("first line %q, want the playground URL\n%s", lines[0], out)
	}
	for _, label := range []string{"Contoso CSP, Sales agent", "Auditor (reads everything)", "Fabrikam (customer), Global admin"} {
		i := strings.Index(out, "  "+label+"\n  eyJ")
		if i < 0 {
			t.Errorf("no token under %q\n%s", label, out)
		}
	}
}

// -seed says what it did: recorded the first time, nothing when the demo
// data is already in the log.
func TestSeedSaysWhatItDid(t *testing.T) {
	db := filepath.Join(t.TempDir(), "events.db")
	t.Run("first", func(t *testing.T) {
		if out := startDev(t, db, "-seed"); !strings.Contains(out, "Demo data recorded:") {
			t.Fatalf("first -seed:\n%s", out)
		}
	})
	t.Run("again", func(t *testing.T) {
		out := startDev(t, db, "-seed")
		if strings.Contains(out, "Demo data recorded") || !strings.Contains(out, "Demo data already present") {
			t.Fatalf("second -seed:\n%s", out)
		}
	})
}

func TestBaseURL(t *testing.T) {
	for addr, want := range map[string]string{"[::]:8080": "http://localhost:8080", "0.0.0.0:80": "http://localhost:80", "127.0.0.1:9": "http://127.0.0.1:9"} {
		tcp, err := net.ResolveTCPAddr("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := baseURL(tcp); got != want {
			t.Errorf("baseURL(%s) = %s, want %s", addr, got, want)
		}
	}
}
