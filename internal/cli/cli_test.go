package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/partnercenter/multichannel/eventstore"
	"github.com/partnercenter/multichannel/eventstore/sqlite"
	"github.com/partnercenter/multichannel/internal/app"
	"github.com/partnercenter/multichannel/internal/audit"
	"github.com/partnercenter/multichannel/internal/cli"
	"github.com/partnercenter/multichannel/projections"
)

func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := cli.Run(context.Background(), args, &out, &errOut)
	return out.String() + errOut.String(), err
}

var digestRe = regexp.MustCompile(`digest: (\d+:[0-9a-f]{64})`)

func TestGenerateVerifyExportImportReplay(t *testing.T) {
	t.Setenv("EVENTS_DB", "")
	t.Setenv("EVENTSTORE_URL", "")
	dir := t.TempDir()
	db, copyDB, dump := filepath.Join(dir, "a.db"), filepath.Join(dir, "b.db"), filepath.Join(dir, "a.ndjson")

	out, err := run(t, "generate", "-events", "1500", "-events-db", db)
	if err != nil || !strings.Contains(out, "generated 1500 events") {
		t.Fatalf("generate: %v\n%s", err, out)
	}
	if out, err := run(t, "generate", "-events", "10", "-events-db", db); !errors.Is(err, audit.ErrNotEmpty) {
		t.Fatalf("generate into a non-empty file: %v\n%s", err, out)
	}

	out, err = run(t, "verify", "-events-db", db)
	if err != nil || !strings.Contains(out, "broken: 0") {
		t.Fatalf("verify: %v\n%s", err, out)
	}
	d := digestRe.FindStringSubmatch(out)
	if d == nil || !strings.HasPrefix(d[1], "1500:") {
		t.Fatalf("no digest in %s", out)
	}

	if out, err := run(t, "export", "-events-db", db, "-o", dump); err != nil {
		t.Fatalf("export: %v\n%s", err, out)
	}
	if out, err := run(t, "import", "-events-db", copyDB, "-in", dump); err != nil || !strings.Contains(out, "imported 1500 events") {
		t.Fatalf("import: %v\n%s", err, out)
	}
	// The copy extends the original's digest and has the same one.
	out, err = run(t, "verify", "-events-db", copyDB, "-expected", d[1], "-json")
	if err != nil {
		t.Fatalf("verify copy: %v\n%s", err, out)
	}
	var rep struct {
		Digest          string
		ExtendsExpected *bool
		BrokenCount     int
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || rep.Digest != d[1] || rep.ExtendsExpected == nil || !*rep.ExtendsExpected {
		t.Fatalf("copy report %s: %v", out, err)
	}

	out, err = run(t, "replay", "-events-db", db)
	if err != nil || !strings.Contains(out, "EQUAL: batch and live replays agree") || !strings.Contains(out, "events/s") {
		t.Fatalf("replay: %v\n%s", err, out)
	}

	// An offline snapshot is one the server would load: it verifies
	// against the log and holds every event.
	snaps := filepath.Join(t.TempDir(), "snapshots")
	if out, err := run(t, "replay", "-events-db", db, "-write-snapshot", snaps); err != nil || !strings.Contains(out, "wrote ") {
		t.Fatalf("replay -write-snapshot: %v\n%s", err, out)
	}
	st, err := app.OpenStore(t.Context(), app.StoreConfig{EventsDB: db}, true)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	m, info, err := projections.LoadSnapshot(t.Context(), snaps, st, nil, nil)
	if err != nil || m == nil || info.Events != 1500 {
		t.Fatalf("the offline snapshot did not load: %v %+v", err, info)
	}
}

// import and both phases of replay report progress (plain lines when the
// output is not a terminal).
func TestProgressOfImportAndBothReplayPhases(t *testing.T) {
	t.Setenv("EVENTS_DB", "")
	t.Setenv("EVENTSTORE_URL", "")
	defer cli.SetLineEvery(0)()
	dir := t.TempDir()
	db, copyDB, dump := filepath.Join(dir, "a.db"), filepath.Join(dir, "b.db"), filepath.Join(dir, "a.ndjson")
	if out, err := run(t, "generate", "-events", "600", "-events-db", db); err != nil {
		t.Fatalf("generate: %v\n%s", err, out)
	}
	if out, err := run(t, "export", "-events-db", db, "-o", dump); err != nil {
		t.Fatalf("export: %v\n%s", err, out)
	}
	fi, err := os.Stat(dump)
	if err != nil {
		t.Fatal(err)
	}
	// Progress on stderr; stdout says what was done.
	var stdout, stderr bytes.Buffer
	err = cli.Run(context.Background(), []string{"import", "-events-db", copyDB, "-in", dump, "-batch-events", "100"}, &stdout, &stderr)
	progress := regexp.MustCompile(`importing \d+/` + regexp.QuoteMeta(fmt.Sprint(fi.Size())) + ` bytes`)
	if err != nil || !progress.MatchString(stderr.String()) || progress.MatchString(stdout.String()) ||
		!strings.Contains(stdout.String(), "imported 600 events") {
		t.Fatalf("import: %v\nstdout:\n%s\nstderr:\n%s", err, &stdout, &stderr)
	}
	out, err := run(t, "replay", "-events-db", db)
	if err != nil || !regexp.MustCompile(`(?m)^replayed \d+/600 events`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^replayed \(live path\) \d+/600 events`).MatchString(out) {
		t.Fatalf("replay: %v\n%s", err, out)
	}
}

// TestReplayAgainstServer compares with a server's readModelDigest (a fake
// GraphQL endpoint answering from a model folded from the same file).
func TestReplayAgainstServer(t *testing.T) {
	db := filepath.Join(t.TempDir(), "a.db")
	if out, err := run(t, "generate", "-events", "700", "-events-db", db); err != nil {
		t.Fatalf("generate: %v\n%s", err, out)
	}
	st, err := sqlite.OpenReadOnly(db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// The server has folded the first 500 events only.
	m := projections.New(nil)
	evs, err := st.ReadAll(context.Background(), eventstore.Start, 500)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if err := m.Apply(e); err != nil {
			t.Fatal(err)
		}
	}
	pos, digest := m.Digest()
	answer := digest
	rep, err := audit.Verify(context.Background(), st, audit.VerifyOptions{UpToCount: 500})
	if err != nil {
		t.Fatal(err)
	}
	logDigest := rep.Digest.String()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/graphql" || r.Header.Get("Authorization") != "Bearer auditor-token" {
			w.Write([]byte(`{"errors":[{"message":"only auditors","extensions":{"code":"FORBIDDEN"}}]}`))
			return
		}
		var req struct {
			Query     string
			Variables map[string]any
		}
		json.NewDecoder(r.Body).Decode(&req)
		if strings.Contains(req.Query, "verifyIntegrity") {
			if req.Variables["n"] != float64(500) {
				t.Errorf("verifyIntegrity asked for %v events, want the server's 500", req.Variables["n"])
			}
			json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"verifyIntegrity": map[string]any{
				"digest": logDigest, "eventCount": 500}}})
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"readModelDigest": map[string]any{
			"position": pos.String(), "digest": answer, "eventCount": 500}}})
	}))
	defer srv.Close()

	out, err := run(t, "replay", "-events-db", db, "-server", srv.URL, "-token", "auditor-token")
	if err != nil || !strings.Contains(out, "EQUAL") || !strings.Contains(out, "from 500 events") ||
		!strings.Contains(out, "same log: the server's first 500 events and this log's have digest "+logDigest) {
		t.Fatalf("replay against the server: %v\n%s", err, out)
	}
	// A server on another log: said first, and the read models are not
	// compared.
	logDigest = "500:" + strings.Repeat("ab", 32)
	if out, err := run(t, "replay", "-events-db", db, "-server", srv.URL, "-token", "auditor-token"); !errors.Is(err, cli.ErrDifferentLog) ||
		!strings.Contains(out, "NOT THE SAME LOG") || strings.Contains(out, "rebuilt every projection") {
		t.Fatalf("a server on another log: %v\n%s", err, out)
	}
	logDigest = rep.Digest.String()
	answer = strings.Repeat("0", 64)
	if out, err := run(t, "replay", "-events-db", db, "-server", srv.URL, "-token", "auditor-token"); !errors.Is(err, cli.ErrReadModelsDiffer) {
		t.Fatalf("a different digest: %v\n%s", err, out)
	}
	if out, err := run(t, "replay", "-events-db", db, "-server", srv.URL, "-token", "partner-token"); err == nil || !strings.Contains(err.Error(), "FORBIDDEN") {
		t.Fatalf("a non-auditor token: %v\n%s", err, out)
	}
}

func TestVerifyFailsOnBrokenLogAndWritersAreExclusive(t *testing.T) {
	db := filepath.Join(t.TempDir(), "a.db")
	if out, err := run(t, "generate", "-events", "300", "-events-db", db); err != nil {
		t.Fatalf("generate: %v\n%s", err, out)
	}
	// A writer (the server) holds the file: readers still work, writers
	// get a clear error.
	w, err := sqlite.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if out, err := run(t, "verify", "-events-db", db); err != nil {
		t.Fatalf("verify beside a writer: %v\n%s", err, out)
	}
	if _, err := run(t, "import", "-events-db", db, "-in", os.DevNull); !errors.Is(err, eventstore.ErrLocked) ||
		!strings.Contains(err.Error(), "server running") {
		t.Fatalf("import beside a writer: %v", err)
	}
	// A wrong expected digest fails verification.
	if out, err := run(t, "verify", "-events-db", db, "-expected", "10:"+strings.Repeat("ab", 32)); !errors.Is(err, audit.ErrIntegrity) {
		t.Fatalf("wrong expected digest: %v\n%s", err, out)
	}
	for _, args := range [][]string{{}, {"nope"}, {"verify", "-expected", "x"}, {"verify", "extra"}} {
		if _, err := run(t, args...); !errors.Is(err, cli.ErrUsage) {
			t.Errorf("%v: %v", args, err)
		}
	}
}
