package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/eventstore"
	"github.com/partnercenter/multichannel/eventstore/esdb"
)

// The test binary is also the command: run with runAsMain set, it is
// esdbdouble, so the tests start real processes without a build step.
const runAsMain = "ESDBDOUBLE_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runAsMain) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// proc is an esdbdouble process.
type proc struct {
	cmd     *exec.Cmd
	url     string        // esdb://...
	control string        // http://... ("" without -control)
	done    chan struct{} // closed once the process has ended
}

// startDouble starts esdbdouble with args and waits until it is READY. The
// process is killed when the test ends, if it is still running.
func startDouble(t *testing.T, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), runAsMain+"=1")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	t.Cleanup(func() { p.kill(t) })
	lines := bufio.NewScanner(out)
	for lines.Scan() {
		line := lines.Text()
		if line == "READY" {
			break
		}
		if v, ok := strings.CutPrefix(line, "ESDB_URL="); ok {
			p.url = v
		}
		if v, ok := strings.CutPrefix(line, "CONTROL_URL="); ok {
			p.control = v
		}
	}
	if p.url == "" {
		t.Fatalf("esdbdouble %v did not get ready: %v", args, lines.Err())
	}
	go func() {
		io.Copy(io.Discard, out)
		cmd.Wait()
		close(p.done)
	}()
	return p
}

// kill ends the process with SIGKILL (kill -9) and waits for it.
func (p *proc) kill(t *testing.T) {
	t.Helper()
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Kill()
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Errorf("esdbdouble (pid %d) did not end after SIGKILL", p.cmd.Process.Pid)
	}
}

func (p *proc) post(t *testing.T, path string) {
	t.Helper()
	resp, err := http.Post(p.control+path, "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("POST %s: %s %s", path, resp.Status, b)
	}
}

func (p *proc) status(t *testing.T) status {
	t.Helper()
	resp, err := http.Get(p.control + "/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s status
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func open(t *testing.T, url string) *esdb.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := esdb.Open(ctx, url+"&maxDiscoverAttempts=1&discoveryInterval=10", esdb.WithLogger(quiet),
		esdb.WithRetry(3, 5*time.Millisecond, 20*time.Millisecond))
	if err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func testEvents(n int) []eventstore.EventData {
	out := make([]eventstore.EventData, n)
	for i := range out {
		out[i] = eventstore.EventData{ID: uuid.Must(uuid.NewV7()), Type: "T",
			Data: []byte(fmt.Sprintf(`{"n":%d}`, i)), Metadata: []byte(`{ "m": 1 }`)}
	}
	return out
}

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// readAll is the whole product log.
func readAll(t *testing.T, s *esdb.Store) []eventstore.RecordedEvent {
	t.Helper()
	evs, err := s.ReadAll(ctxT(t), eventstore.Start, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// The listener closed and reopened while the process runs, then the process
// killed with SIGKILL and started again on its data file: clients see the
// node go away and come back on the same address, with every acknowledged
// event, at the same positions.
func TestProcessKeepsItsData(t *testing.T) {
	data := filepath.Join(t.TempDir(), "node", "log")
	p := startDouble(t, "-addr", "127.0.0.1:0", "-data", data, "-control", "127.0.0.1:0")
	s := open(t, p.url)
	ctx := ctxT(t)
	if _, err := s.Append(ctx, "partner-1", eventstore.NoStream(), testEvents(3)...); err != nil {
		t.Fatal(err)
	}
	before := readAll(t, s)

	p.post(t, "/stop")
	if st := p.status(t); st.Listening {
		t.Fatalf("status after /stop: %+v", st)
	}
	if _, err := s.ReadStream(ctx, "partner-1", eventstore.Forwards, 0, 10); !errors.Is(err, eventstore.ErrUnavailable) {
		t.Fatalf("read with the listener closed: %v, want ErrUnavailable", err)
	}
	p.post(t, "/start")
	if st := p.status(t); !st.Listening || st.URL != p.url {
		t.Fatalf("status after /start: %+v, want listening at %s", st, p.url)
	}
	res, err := s.Append(ctx, "partner-1", eventstore.Exact(2), testEvents(1)...)
	if err != nil {
		t.Fatalf("append after the listener came back: %v", err)
	}
	before = append(before, readAll(t, s)[len(before):]...)
	if len(before) != 4 || before[3].Position != res.Position {
		t.Fatalf("after the reopen: %d events, last at %v; the append answered %v", len(before), before[len(before)-1].Position, res.Position)
	}

	p.kill(t)
	addr := strings.TrimSuffix(strings.TrimPrefix(p.url, "esdb://"), "?tls=false")
	p2 := startDouble(t, "-addr", addr, "-data", data)
	if p2.url != p.url {
		t.Fatalf("restarted at %s, want %s", p2.url, p.url)
	}
	after := readAll(t, s) // the same client, reconnected
	if len(after) != len(before) {
		t.Fatalf("after a restart: %d events, want %d", len(after), len(before))
	}
	for i := range after {
		a, b := after[i], before[i]
		if a.ID != b.ID || a.Position != b.Position || a.Stream != b.Stream || a.Revision != b.Revision ||
			string(a.Data) != string(b.Data) || string(a.Metadata) != string(b.Metadata) {
			t.Fatalf("event %d after a restart: %+v, want %+v", i, a, b)
		}
	}
	if _, err := s.Append(ctx, "partner-1", eventstore.Exact(3), testEvents(1)...); err != nil {
		t.Fatalf("append after the restart: %v", err)
	}
}

func TestControlOnLoopbackOnly(t *testing.T) {
	var stderr strings.Builder
	err := run(context.Background(), []string{"-addr", "127.0.0.1:0", "-control", "0.0.0.0:0"}, io.Discard, &stderr)
	if err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("run with a control port on every interface: %v", err)
	}
}
