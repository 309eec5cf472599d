package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/eventstore"
	"github.com/partnercenter/multichannel/eventstore/sqlite"
	"github.com/partnercenter/multichannel/projections"
)

// The tests in this file and shutdown_test.go run the real server binary as
// a child process, so that it can be killed (SIGKILL) or signalled
// (SIGTERM) like in production.

// buildServer returns the server binary, compiled once per run of the
// tests (in TestMain's directory) and shared by every test that starts it.
func buildServer(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: the child-process tests build the server binary")
	}
	built.once.Do(func() {
		gobin, err := exec.LookPath("go")
		if err != nil {
			gobin = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		built.bin = filepath.Join(binDir, "server")
		// The module's root is this package's parent.
		cmd := exec.Command(gobin, "build", "-o", built.bin, "..")
		if out, err := cmd.CombinedOutput(); err != nil {
			built.err = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.bin
}

// built is the server binary of this run of the tests.
var built struct {
	once sync.Once
	bin  string
	err  error
}

// binDir holds the binary; TestMain removes it.
var binDir string

func TestMain(m *testing.M) {
	var err error
	if binDir, err = os.MkdirTemp("", "e2e-server-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(binDir)
	os.Exit(code)
}

// childServer is the server binary running as a child process.
type childServer struct {
	t    *testing.T
	cmd  *exec.Cmd
	url  string
	logs *syncBuffer
	done chan struct{} // closed when the process has exited
	err  error         // its exit status, once done
}

// syncBuffer collects the child's logs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// freeAddr returns a loopback address with a port free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startChild starts the binary in production mode on the store file db and
// waits until it answers /healthz.
func startChild(t *testing.T, bin, db string) *childServer {
	t.Helper()
	addr := freeAddr(t)
	cmd := exec.Command(bin)
	// A clean environment: an EVENTSTORE_URL of the caller's must not
	// point the child elsewhere.
	cmd.Env = []string{
		"APP_ENV=production",
		"JWT_SECRET=" + testSecret,
		"EVENTS_DB=" + db,
		"HTTP_ADDR=" + addr,
		// The load comes from one tenant: no per-tenant rate limit, and
		// no per-request log lines.
		"RATE_LIMIT=0",
		"REQUEST_LOG=false",
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + t.TempDir(),
	}
	c := &childServer{t: t, cmd: cmd, url: "http://" + addr, logs: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = c.logs, c.logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start server: %v", err)
	}
	go func() { c.err = cmd.Wait(); close(c.done) }()
	t.Cleanup(func() {
		select {
		case <-c.done:
		default:
			cmd.Process.Kill()
			<-c.done
		}
		if t.Failed() {
			t.Logf("server logs:\n%s", c.logs.String())
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case <-c.done:
			t.Fatalf("server exited at start-up: %v\n%s", c.err, c.logs.String())
		default:
		}
		if resp, err := http.Get(c.url + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return c
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not healthy within 20s\n%s", c.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// signal sends sig and, for SIGKILL, waits for the process to be gone.
func (c *childServer) signal(sig syscall.Signal) {
	c.t.Helper()
	if err := c.cmd.Process.Signal(sig); err != nil {
		c.t.Fatalf("signal %v: %v", sig, err)
	}
	if sig == syscall.SIGKILL {
		<-c.done
	}
}

// wait waits for the process to exit and returns its exit status.
func (c *childServer) wait(within time.Duration) error {
	c.t.Helper()
	select {
	case <-c.done:
		return c.err
	case <-time.After(within):
		c.t.Fatalf("server still running after %v", within)
		return nil
	}
}

// testServer lets the e2e helpers (ts.user, u.ok, ...) talk to the child.
func (c *childServer) testServer() *testServer {
	return &testServer{t: c.t, url: c.url, offset: new(atomic.Int64)}
}

// loadClient sends mutations on its own connections, without failing the
// test on transport errors: under a kill those are expected.
type loadClient struct {
	http *http.Client
	url  string
}

func newLoadClient(url string) *loadClient {
	return &loadClient{url: url, http: &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
}

// post sends one GraphQL request; err is a transport error (no answer).
func (l *loadClient) post(token, query string, vars map[string]any) (gqlResponse, error) {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, err := http.NewRequest(http.MethodPost, l.url+"/graphql", bytes.NewReader(body))
	if err != nil {
		return gqlResponse{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := l.http.Do(req)
	if err != nil {
		return gqlResponse{}, err
	}
	defer resp.Body.Close()
	var out gqlResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return gqlResponse{}, fmt.Errorf("HTTP %d, undecodable answer: %w", resp.StatusCode, err)
	}
	out.status = resp.StatusCode
	return out, nil
}

// recording is the outcome of the load: which offers were acknowledged,
// with the subscription id the server answered.
type recording struct {
	mu        sync.Mutex
	acked     map[string]string // offer -> subscription id
	answered  int               // requests with a GraphQL answer
	refused   map[string]int    // error code -> count
	transport int               // requests without an answer
	inFlight  int               // acknowledged, sent before the signal and answered after it
}

const mRecordOffer = `mutation($in: RecordExternalSubscriptionInput!) { recordExternalSubscription(input: $in) { id offer } }`

// runLoad has n clients record subscriptions with distinct offers for
// customer, as its Global admin, until stop is closed. signalled, once set,
// is when the server was signalled.
func runLoad(n int, url, token string, customer uuid.UUID, rec *recording, stop <-chan struct{}, signalled *atomic.Int64) *sync.WaitGroup {
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := newLoadClient(url)
			for k := 0; ; k++ {
				select {
				case <-stop:
					return
				default:
				}
				offer := fmt.Sprintf("offer-%02d-%05d", i, k)
				sent := time.Now().UnixNano()
				r, err := cl.post(token, mRecordOffer, map[string]any{"in": map[string]any{
					"customerId": customer.String(), "offer": offer, "billingModel": "USAGE_BASED", "channel": "OPEN", "quantity": 1,
				}})
				answeredAt := time.Now().UnixNano()
				rec.mu.Lock()
				switch {
				case err != nil:
					rec.transport++
				case len(r.Errors) > 0:
					rec.answered++
					rec.refused[r.code()]++
				default:
					rec.answered++
					var d struct{ RecordExternalSubscription struct{ ID, Offer string } }
					if json.Unmarshal(r.Data, &d) == nil && d.RecordExternalSubscription.Offer == offer {
						rec.acked[offer] = d.RecordExternalSubscription.ID
						if s := signalled.Load(); s != 0 && sent < s && answeredAt > s {
							rec.inFlight++
						}
					}
				}
				rec.mu.Unlock()
				if err != nil {
					// The server is gone: back off instead of spinning.
					time.Sleep(5 * time.Millisecond)
				}
			}
		}()
	}
	return &wg
}

func (r *recording) ackedCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.acked)
}

// servedSubscription is a subscription as the API serves it.
type servedSubscription struct{ ID, Offer, Status string }

// servedSubscriptions pages through customer's subscriptions as the auditor.
func servedSubscriptions(auditor *user, customer uuid.UUID) []servedSubscription {
	var all []servedSubscription
	var after *string
	for {
		var d struct {
			Subscriptions struct {
				Edges    []struct{ Node servedSubscription }
				PageInfo struct {
					HasNextPage bool
					EndCursor   *string
				}
			}
		}
		vars := map[string]any{"c": customer.String()}
		if after != nil {
			vars["after"] = *after
		}
		auditor.ok(&d, `query($c: ID!, $after: String) { subscriptions(filter: {customerId: $c}, first: 100, after: $after) {
			edges { node { id offer status } } pageInfo { hasNextPage endCursor } } }`, vars)
		for _, e := range d.Subscriptions.Edges {
			all = append(all, e.Node)
		}
		if !d.Subscriptions.PageInfo.HasNextPage {
			return all
		}
		after = d.Subscriptions.PageInfo.EndCursor
	}
}

// readLog reads the whole log of the store file, read-only (allowed while
// the server runs).
func readLog(t *testing.T, db string) []eventstore.RecordedEvent {
	t.Helper()
	s, err := sqlite.OpenReadOnly(db)
	if err != nil {
		t.Fatalf("open read-only: %v", err)
	}
	defer s.Close()
	var all []eventstore.RecordedEvent
	pos := eventstore.Start
	for {
		evs, err := s.ReadAll(context.Background(), pos, 1000)
		if err != nil {
			t.Fatalf("read the log: %v", err)
		}
		all = append(all, evs...)
		if len(evs) < 1000 {
			return all
		}
		pos = evs[len(evs)-1].Position
	}
}

// checkRecovered checks the restarted server against what the clients saw
// acknowledged and against a fresh fold of the log, and returns
// (lost, duplicated, recorded without acknowledgement).
func checkRecovered(t *testing.T, ts *testServer, db string, customer uuid.UUID, rec *recording) (lost, duplicated, unacked int) {
	t.Helper()
	auditor := ts.user(uuid.New(), domain.RoleAuditor)
	log := readLog(t, db)
	// The restarted server rebuilds its read models in the background:
	// wait until it has folded the whole log.
	awaitCondition(t, "the restarted server folds the log", func() bool { return ts.eventCount(auditor) == len(log) })

	served := servedSubscriptions(auditor, customer)
	byOffer := map[string][]string{}
	for _, s := range served {
		byOffer[s.Offer] = append(byOffer[s.Offer], s.ID)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for offer, id := range rec.acked {
		ids := byOffer[offer]
		switch {
		case len(ids) == 0:
			lost++
			t.Errorf("acknowledged %s (%s) is missing after the restart", offer, id)
		case ids[0] != id && len(ids) == 1:
			t.Errorf("acknowledged %s as %s, served as %s", offer, id, ids[0])
		}
	}
	for offer, ids := range byOffer {
		if len(ids) > 1 {
			duplicated++
			t.Errorf("%s recorded %d times: %v", offer, len(ids), ids)
		}
		if _, ok := rec.acked[offer]; !ok {
			unacked++
		}
	}

	// The served read models equal a fresh fold of the log.
	fresh := projections.New(time.Now)
	for _, e := range log {
		if err := fresh.Apply(e); err != nil {
			t.Fatalf("fresh fold: %v", err)
		}
	}
	actor := domain.Actor{UserID: "crash-check", TenantID: uuid.New(), Role: domain.RoleAuditor}
	var folded []servedSubscription
	for _, s := range fresh.CustomerSubscriptions(actor, customer) {
		folded = append(folded, servedSubscription{ID: s.ID.String(), Offer: s.Offer, Status: string(s.Status)})
	}
	key := func(s []servedSubscription) func(i, j int) bool {
		return func(i, j int) bool { return s[i].ID < s[j].ID }
	}
	sort.Slice(folded, key(folded))
	sort.Slice(served, key(served))
	if len(folded) != len(served) {
		t.Fatalf("served %d subscriptions, a fresh fold of the log has %d", len(served), len(folded))
	}
	for i := range folded {
		if folded[i] != served[i] {
			t.Fatalf("served %+v, the fresh fold has %+v", served[i], folded[i])
		}
	}
	if fp, sp := fresh.Position(), mustPosition(t, log); fp != sp {
		t.Fatalf("fresh fold at %s, log ends at %s", fp, sp)
	}
	return lost, duplicated, unacked
}

func mustPosition(t *testing.T, log []eventstore.RecordedEvent) eventstore.Position {
	t.Helper()
	if len(log) == 0 {
		t.Fatal("empty log")
	}
	return log[len(log)-1].Position
}

// setUpTenants enrolls a partner and onboards a customer through the API.
func setUpTenants(ts *testServer) (partner, customer uuid.UUID) {
	partner, customer = uuid.New(), uuid.New()
	ts.user(partner, domain.RoleGlobalAdmin).ok(nil, mEnroll, map[string]any{"in": map[string]any{"name": "Contoso CSP", "cloud": "PUBLIC"}})
	ts.user(partner, domain.RoleSalesAgent).ok(nil, mOnboard, onboardVars(customer))
	return partner, customer
}

// TestCrash kills the server (SIGKILL) under the load of 32 concurrent
// clients, restarts it on the same file, and checks that every
// acknowledged mutation is there, none twice, and that the read models
// rebuilt from the log equal a fresh fold of it.
func TestCrash(t *testing.T) {
	t.Parallel()
	bin := buildServer(t)
	db := filepath.Join(t.TempDir(), "events.db")
	child := startChild(t, bin, db)
	ts := child.testServer()
	_, customer := setUpTenants(ts)
	token := ts.user(customer, domain.RoleGlobalAdmin).token

	rec := &recording{acked: map[string]string{}, refused: map[string]int{}}
	stop := make(chan struct{})
	var killedAt atomic.Int64
	wg := runLoad(32, child.url, token, customer, rec, stop, &killedAt)
	// Let the load run until a thousand mutations are acknowledged (or 10 s).
	deadline := time.Now().Add(10 * time.Second)
	for rec.ackedCount() < 1000 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	killedAt.Store(time.Now().UnixNano())
	child.signal(syscall.SIGKILL)
	time.Sleep(50 * time.Millisecond) // let the clients see the connections go
	close(stop)
	wg.Wait()
	if rec.ackedCount() == 0 {
		t.Fatal("no mutation was acknowledged before the kill")
	}

	restarted := startChild(t, bin, db)
	rts := restarted.testServer()
	lost, duplicated, unacked := checkRecovered(t, rts, db, customer, rec)
	t.Logf("SIGKILL under 32 clients: acknowledged %d, lost %d, duplicated %d, recorded but not acknowledged %d, answered %d, refused %v, no answer %d",
		len(rec.acked), lost, duplicated, unacked, rec.answered, rec.refused, rec.transport)
	for code := range rec.refused {
		if code != "UNAVAILABLE" {
			t.Errorf("mutations refused with %s during the load: %v", code, rec.refused)
		}
	}

	restarted.signal(syscall.SIGTERM)
	if err := restarted.wait(20 * time.Second); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("restarted server exited %d after SIGTERM, want 0", ee.ExitCode())
		}
		t.Fatal(err)
	}
	if !strings.Contains(restarted.logs.String(), "stopped cleanly") {
		t.Fatalf("no clean stop in the logs:\n%s", restarted.logs.String())
	}
}
