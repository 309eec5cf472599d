package e2e

import (
	"context"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/eventstore"
	"github.com/partnercenter/multichannel/eventstore/esdb/esdbtest"
	"github.com/partnercenter/multichannel/eventstore/sqlite"
	"github.com/partnercenter/multichannel/internal/app"
	"github.com/partnercenter/multichannel/internal/faultstore"
)

// withFaults puts a fault injector between the server and its store.
func withFaults(fs **faultstore.Store) serverOption {
	return func(c *setup) {
		c.opts = append(c.opts, app.WithStoreWrapper(func(s eventstore.Store) eventstore.Store {
			*fs = faultstore.New(s)
			return *fs
		}))
	}
}

// readyz returns /readyz's status code.
func (ts *testServer) readyz() int {
	ts.t.Helper()
	resp, err := http.Get(ts.url + "/readyz")
	if err != nil {
		ts.t.Fatalf("GET /readyz: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// awaitCondition retries check until it returns true, for up to 10 s.
func awaitCondition(t *testing.T, what string, check func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !check() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// customerCount is how many customers the auditor sees.
func customerCount(auditor *user) int {
	var d struct{ Customers struct{ TotalCount int } }
	auditor.ok(&d, `{ customers(first: 0) { totalCount } }`, nil)
	return d.Customers.TotalCount
}

func onboardVars(id uuid.UUID) map[string]any {
	return map[string]any{"in": map[string]any{"id": id.String(), "name": "Customer " + id.String()[:8], "domain": "x" + id.String()[:8] + ".example.com", "cloud": "PUBLIC"}}
}

// The store goes away mid-run and comes back: mutations fail with
// UNAVAILABLE (HTTP 200, not INTERNAL), reads keep answering from the read
// models, /readyz says so, and the server recovers by itself: the
// projections resubscribe from their checkpoint, nothing acknowledged is
// lost and nothing is applied twice.
func TestStoreOutage(t *testing.T) {
	t.Parallel()
	var fs *faultstore.Store
	ts := startServer(t, withFaults(&fs))
	w := newWorld(t, ts)
	sub := w.record(w.c, "USAGE_BASED", "OPEN", nil, nil, "VMs")
	before := ts.eventCount(w.auditor)
	customers := customerCount(w.auditor)

	fs.Fail(faultstore.All, nil)
	for _, m := range []struct {
		query string
		vars  map[string]any
		as    *user
	}{
		{mOnboard, onboardVars(uuid.New()), w.aSales},
		{mCancel, map[string]any{"id": sub.ID}, w.cGA},
		{mRequest, map[string]any{"in": map[string]any{"customerId": w.c.String()}}, w.bGA},
	} {
		r := m.as.refused("UNAVAILABLE", m.query, m.vars)
		if r.status != http.StatusOK {
			t.Fatalf("HTTP %d for an outage, want 200 with a GraphQL error", r.status)
		}
		if msg := r.Errors[0].Message; strings.Contains(msg, "faultstore") || strings.Contains(msg, "injected") {
			t.Fatalf("the outage's internals leak to the client: %q", msg)
		}
	}
	// Reads answer from the read models.
	var d struct{ Subscription struct{ ID, Status string } }
	w.cGA.ok(&d, `query($id: ID!) { subscription(id: $id) { id status } }`, map[string]any{"id": sub.ID})
	if d.Subscription.Status != "ACTIVE" {
		t.Fatalf("subscription during the outage: %+v", d.Subscription)
	}
	if got := ts.eventCount(w.auditor); got != before {
		t.Fatalf("the log shows %d events during the outage, want %d", got, before)
	}
	awaitCondition(t, "/readyz reports the outage", func() bool { return ts.readyz() == http.StatusServiceUnavailable })

	fs.Heal()
	awaitCondition(t, "/readyz recovers", func() bool { return ts.readyz() == http.StatusOK })
	// The server recovered by itself: a mutation is acknowledged and, being
	// read-your-writes, already visible.
	id := uuid.New()
	w.aSales.ok(nil, mOnboard, onboardVars(id))
	var c struct{ Customer struct{ ID string } }
	w.aSales.ok(&c, `query($id: ID!) { customer(id: $id) { id } }`, map[string]any{"id": id.String()})
	if c.Customer.ID != id.String() {
		t.Fatalf("customer after recovery: %+v", c.Customer)
	}
	if got := customerCount(w.auditor); got != customers+1 {
		t.Fatalf("%d customers after recovery, want %d", got, customers+1)
	}
	if got := ts.eventCount(w.auditor); got != before+1 {
		t.Fatalf("%d events after recovery, want %d (nothing lost, nothing doubled)", got, before+1)
	}
	if st := fs.Stats(); st.Failed == 0 {
		t.Fatalf("no fault was injected: %+v", st)
	}
}

// An append that reaches the store but whose call fails is retried with
// the same event ids and expected revision: the mutation is acknowledged
// and its events are in the log once.
func TestLostAcknowledgement(t *testing.T) {
	t.Parallel()
	var fs *faultstore.Store
	ts := startServer(t, withFaults(&fs))
	w := newWorld(t, ts)
	before := ts.eventCount(w.auditor)
	fs.LoseAcks(1)
	id := uuid.New()
	w.aSales.ok(nil, mOnboard, onboardVars(id))
	if st := fs.Stats(); st.LostAcks != 1 {
		t.Fatalf("stats = %+v, want one lost acknowledgement", st)
	}
	var d struct {
		Events struct {
			TotalCount int
			Edges      []struct{ Node struct{ Type, Stream string } }
		}
	}
	w.auditor.ok(&d, `{ events(first: 100) { totalCount edges { node { type stream } } } }`, nil)
	if d.Events.TotalCount != before+1 {
		t.Fatalf("%d events after one onboarding, want %d", d.Events.TotalCount, before+1)
	}
	onboarded := 0
	for _, e := range d.Events.Edges {
		if e := e.Node; e.Type == domain.TypeCustomerOnboarded && e.Stream == domain.CustomerStream(id) {
			onboarded++
		}
	}
	if onboarded != 1 {
		t.Fatalf("CustomerOnboarded for %s appears %d times, want once", id, onboarded)
	}
}

// Stalls end with a clear error within their deadline, not a hung request:
// a stalled subscription at the catch-up timeout, a stalled append at the
// mutation's deadline. When the stall ends, the server carries on.
func TestStoreStalls(t *testing.T) {
	t.Parallel()
	var fs *faultstore.Store
	ts := startServer(t, withFaults(&fs), func(c *setup) {
		c.CatchUpTimeout = 300 * time.Millisecond
		c.MutationTimeout = 600 * time.Millisecond
	})
	w := newWorld(t, ts)

	t.Run("subscription", func(t *testing.T) {
		fs.Stall(faultstore.Subscribe)
		id := uuid.New()
		start := time.Now()
		r := w.aSales.do(mOnboard, onboardVars(id))
		took := time.Since(start)
		fs.Heal()
		if r.code() != "UNAVAILABLE" || took > 5*time.Second {
			t.Fatalf("mutation during a stalled subscription: code %q after %v (errors %+v)", r.code(), took, r.Errors)
		}
		// It was written, though not confirmed: once the stall ends the
		// read models show it.
		awaitCondition(t, "the stalled event becomes visible", func() bool {
			return w.aSales.do(`query($id: ID!) { customer(id: $id) { id } }`, map[string]any{"id": id.String()}).code() == ""
		})
	})

	t.Run("append", func(t *testing.T) { stalledAppendIsUnavailable(t, fs, w) })
}

// stalledAppendIsUnavailable stalls the store's appends under a mutation:
// it must end with UNAVAILABLE within seconds, and the next one, once the
// stall is over, succeed.
func stalledAppendIsUnavailable(t *testing.T, fs *faultstore.Store, w *world) {
	t.Helper()
	fs.Stall(faultstore.Append)
	start := time.Now()
	r := w.aSales.do(mOnboard, onboardVars(uuid.New()))
	took := time.Since(start)
	fs.Heal()
	if r.code() != "UNAVAILABLE" || took > 5*time.Second {
		t.Fatalf("mutation during a stalled append: code %q after %v (errors %+v)", r.code(), took, r.Errors)
	}
	w.aSales.ok(nil, mOnboard, onboardVars(uuid.New()))
}

// A log the read models cannot apply is a bug or damage, not an outage:
// the server does not retry it forever behind stale reads, it stops with
// the error.
func TestUnappliableLogStopsTheServer(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "events.db")
	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	bogus := eventstore.EventData{ID: uuid.Must(uuid.NewV7()), Type: "PartnerRenamedInTheFuture", Data: []byte(`{}`), Metadata: []byte(`{"schemaVersion":1}`)}
	if _, err := s.Append(context.Background(), domain.PartnerStream(uuid.New()), eventstore.NoStream(), bogus); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	cfg := app.Config{
		Env: "production", Addr: "127.0.0.1:0", EventsDB: path, JWTSecret: testSecret,
		ExpirySweep: time.Minute, CatchUpTimeout: time.Second, ShutdownTimeout: 5 * time.Second,
	}
	a, err := app.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		a.Close()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Serve(context.Background(), ln) }()
	select {
	case err := <-done:
		if !errors.Is(err, domain.ErrUnknownEventType) {
			t.Fatalf("serve: %v, want an unknown event type error", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the server kept running on a log it cannot apply")
	}
}

// The EventStoreDB node goes away and comes back (the protocol double, over
// a real gRPC connection): mutations fail with UNAVAILABLE within their
// deadline, reads keep answering, and once the node is back the server
// carries on by itself with nothing lost or doubled.
func TestEventStoreDBNodeAway(t *testing.T) {
	t.Parallel()
	node := esdbtest.NewServer(t)
	ts := startServer(t, withEventStore(node.URL()), func(c *setup) {
		c.MutationTimeout = 3 * time.Second
	})
	w := newWorld(t, ts)
	sub := w.record(w.c, "USAGE_BASED", "OPEN", nil, nil)
	before := ts.eventCount(w.auditor)

	node.Stop()
	start := time.Now()
	r := w.aSales.refused("UNAVAILABLE", mOnboard, onboardVars(uuid.New()))
	if took := time.Since(start); took > 10*time.Second || r.status != http.StatusOK {
		t.Fatalf("mutation with the node away: HTTP %d after %v", r.status, took)
	}
	var d struct{ Subscription struct{ ID, Status string } }
	w.cGA.ok(&d, `query($id: ID!) { subscription(id: $id) { id status } }`, map[string]any{"id": sub.ID})
	if d.Subscription.ID != sub.ID {
		t.Fatalf("read with the node away: %+v", d.Subscription)
	}

	node.Restart(t)
	id := uuid.New()
	awaitCondition(t, "a mutation succeeds once the node is back", func() bool {
		return w.aSales.do(mOnboard, onboardVars(id)).code() == ""
	})
	// The live subscription is back too: the next write is seen.
	w.record(id, "USAGE_BASED", "OPEN", nil, nil)
	if got := ts.eventCount(w.auditor); got != before+2 {
		t.Fatalf("%d events after the node came back, want %d", got, before+2)
	}
}

// The request deadline (-request-timeout) reaches the command handlers:
// a mutation whose append stalls ends with UNAVAILABLE at the request's
// deadline, though the mutation timeout is far later.
func TestRequestDeadlineEndsAStalledMutation(t *testing.T) {
	t.Parallel()
	var fs *faultstore.Store
	ts := startServer(t, withFaults(&fs), withOps(func(o *app.OpsConfig) { o.RequestTimeout = 400 * time.Millisecond }),
		func(c *setup) { c.MutationTimeout = time.Hour })
	stalledAppendIsUnavailable(t, fs, newWorld(t, ts))
}
