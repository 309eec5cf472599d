package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
)

// clientsDir returns the project's npm folder (clients/, with its
// package-lock.json), found from the test's working directory upwards, so
// that the test keeps working from whichever package it is in.
func clientsDir(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "clients")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// nodeScript returns the command that runs a script of clients/ with node.
// Without node or clients/node_modules it skips the test, except under
// CI=true, where .ci/run installs them (npm ci) and their absence is a
// failure.
func nodeScript(t *testing.T, ctx context.Context, script string) *exec.Cmd {
	t.Helper()
	dir := clientsDir(t)
	missing := ""
	if _, err := exec.LookPath("node"); err != nil {
		missing = "node is not installed"
	} else if _, err := os.Stat(filepath.Join(dir, "node_modules")); err != nil {
		missing = "clients/node_modules is missing: run `npm ci` in clients/"
	}
	if missing != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s (.ci/run installs it under CI)", missing)
		}
		t.Skip(missing)
	}
	cmd := exec.CommandContext(ctx, "node", script)
	cmd.Dir = dir
	return cmd
}

// auditResult is one line of clients/graphql-http-audit.mjs.
type auditResult struct {
	ID, Name, Status, Reason, Response string
}

// graphql-http's audit suite, run against the real server: every MUST and
// SHOULD of the GraphQL-over-HTTP specification passes. A MAY that fails
// is logged.
func TestGraphQLOverHTTPAudits(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := nodeScript(t, ctx, "graphql-http-audit.mjs") // skips before the server starts
	ts := startServer(t)
	u := ts.user(uuid.New(), domain.RoleAuditor)
	cmd.Env = append(os.Environ(), "GRAPHQL_URL="+ts.url+"/graphql", "GRAPHQL_TOKEN="+u.token)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) || ctx.Err() != nil {
			t.Fatalf("audit script: %v\n%s", err, stderr.String())
		}
		t.Fatal(err)
	}
	var results []auditResult
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var r auditResult
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("audit line %q: %v", sc.Text(), err)
		}
		results = append(results, r)
	}
	if len(results) == 0 {
		t.Fatalf("the audit suite ran no audit; stderr:\n%s", stderr.String())
	}
	passed := 0
	for _, r := range results {
		switch {
		case r.Status == "ok":
			passed++
		case strings.HasPrefix(r.Name, "MAY "):
			t.Logf("%s %s: %s (%s)", r.ID, r.Name, r.Reason, r.Response)
		default:
			t.Errorf("%s %s: %s\n  response: %s", r.ID, r.Name, r.Reason, r.Response)
		}
	}
	t.Logf("%d of %d audits passed", passed, len(results))
}
