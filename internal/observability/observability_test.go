package observability_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/eventstore"
	gqlgraph "github.com/partnercenter/multichannel/graph"
	"github.com/partnercenter/multichannel/internal/auth"
	"github.com/partnercenter/multichannel/internal/observability"
)

// syncBuffer is a log sink safe for the server's goroutines (and the
// BufferedWriter's flusher).
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

func (s *syncBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(s.b.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

const secret = "observability-test-secret-of-32-bytes"

// start serves the GraphQL handler (with a resolver that has no read model:
// a resolver reaching it panics, answered INTERNAL) behind the same chain
// the server builds, with metrics at /metrics.
func start(t *testing.T, m *observability.Metrics, logger *slog.Logger) *httptest.Server {
	t.Helper()
	v := auth.NewHS256Verifier([]byte(secret))
	api := gqlgraph.NewServer(&gqlgraph.Resolver{}, gqlgraph.Options{
		Development: true, Verifier: v,
		Extensions: []graphql.HandlerExtension{observability.Extension{Metrics: m}},
	})
	noteCaller := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if a, ok := auth.CallerFrom(r.Context()); ok {
				observability.NoteCaller(r.Context(), a)
			}
			observability.NoteCorrelationID(r.Context(), "corr-1")
			next.ServeHTTP(w, r)
		})
	}
	mux := http.NewServeMux()
	mux.Handle("/graphql", observability.Middleware("graphql", m, logger)(attach(auth.Middleware(v)(noteCaller(api)))))
	mux.Handle("/limited", observability.Middleware("graphql", m, logger)(attach(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		observability.NoteRefusal(r.Context(), "RATE_LIMITED")
		w.WriteHeader(http.StatusTooManyRequests)
	}))))
	if m != nil {
		mux.Handle("/metrics", m.Handler())
	}
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	return ts
}

// attach puts the observation record in the context, as the API's first
// layer does.
func attach(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(observability.Attach(r.Context(), w)))
	})
}

func token(t *testing.T, a domain.Actor) string {
	t.Helper()
	tok, err := auth.MintHS256([]byte(secret), a, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func post(t *testing.T, ts *httptest.Server, tok, body string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/graphql", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func scrape(t *testing.T, ts *httptest.Server) string {
	t.Helper()
	resp, err := http.Get(ts.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestMetricsAndRequestLog(t *testing.T) {
	t.Parallel()
	m := observability.NewMetrics()
	logs := &syncBuffer{}
	ts := start(t, m, slog.New(slog.NewJSONHandler(logs, nil)))
	caller := domain.Actor{UserID: "u1", TenantID: uuid.New(), Role: domain.RoleAdminAgent}
	tok := token(t, caller)

	post(t, ts, "", `{"query":"query Probe { __typename }","operationName":"Probe"}`)
	post(t, ts, "", `{"query":"query Probe { __typename }"}`)
	post(t, ts, "", `{"query":"query Who { viewer { userId } }"}`)  // UNAUTHENTICATED
	post(t, ts, tok, `{"query":"query Who { viewer { userId } }"}`) // panics: INTERNAL
	post(t, ts, "", `{"query":"query Broken { viewer { userId }"}`) // parse error
	post(t, ts, "", `{"query":"query Bad { nope }"}`)               // validation
	post(t, ts, "", `{"query":"query Bad { nope }","operationName":"\u00ff\u0000"}`)
	resp, err := http.Post(ts.URL+"/limited", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	text := scrape(t, ts)
	for _, want := range []string{
		`multichannel_graphql_requests_total{code="OK",operation="Probe",type="query"} 2`,
		`multichannel_graphql_requests_total{code="UNAUTHENTICATED",operation="Who",type="query"} 1`,
		`multichannel_graphql_requests_total{code="INTERNAL",operation="Who",type="query"} 1`,
		`multichannel_graphql_requests_total{code="GRAPHQL_PARSE_FAILED",operation="anonymous",type="unknown"} 1`,
		`multichannel_graphql_requests_total{code="GRAPHQL_VALIDATION_FAILED",operation="anonymous",type="unknown"} 1`,
		`multichannel_graphql_requests_total{code="GRAPHQL_VALIDATION_FAILED",operation="other",type="unknown"} 1`,
		`multichannel_graphql_requests_total{code="RATE_LIMITED",operation="anonymous",type="unknown"} 1`,
		`multichannel_graphql_request_duration_seconds_count{operation="Probe",type="query"} 2`,
		// Parse and validation failures too: 200 under application/json
		// (GraphQL over HTTP).
		`multichannel_http_requests_total{route="graphql",status="200"} 7`,
		`multichannel_http_requests_total{route="graphql",status="429"} 1`,
		`multichannel_livefeed_subscribers 0`,
		`go_goroutines`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if t.Failed() {
		t.Logf("metrics:\n%s", grep(text, "multichannel_"))
	}

	var requests []map[string]any
	for _, l := range logs.lines(t) {
		if l["msg"] == "request" {
			requests = append(requests, l)
		}
	}
	if len(requests) != 8 {
		t.Fatalf("%d request lines for 8 requests: %v", len(requests), requests)
	}
	who := requests[3]
	for k, want := range map[string]any{
		"operation": "Who", "type": "query", "code": "INTERNAL", "status": float64(200), "level": "WARN",
		"tenant": caller.TenantID.String(), "role": string(caller.Role), "correlation_id": "corr-1", "route": "graphql",
	} {
		if who[k] != want {
			t.Errorf("log line field %s = %v, want %v (line %v)", k, who[k], want, who)
		}
	}
	if _, ok := who["duration_ms"].(float64); !ok {
		t.Errorf("no duration in %v", who)
	}
	if requests[0]["code"] != "OK" || requests[0]["level"] != "INFO" || requests[0]["tenant"] != nil {
		t.Errorf("anonymous probe line: %v", requests[0])
	}
	if requests[7]["code"] != "RATE_LIMITED" || requests[7]["status"] != float64(429) {
		t.Errorf("refused line: %v", requests[7])
	}
}

// Operation names are chosen by clients: past MaxOperationNames distinct
// ones, they are all counted as "other", so the series stay bounded.
func TestOperationNamesAreBounded(t *testing.T) {
	t.Parallel()
	m := observability.NewMetrics()
	for i := range observability.MaxOperationNames + 50 {
		m.ObserveOperation(fmt.Sprintf("Op%d", i), "query", "OK", time.Millisecond)
	}
	m.ObserveOperation("Op0", "query", "OK", time.Millisecond)
	m.ObserveOperation(strings.Repeat("A", 65), "query", "OK", time.Millisecond)
	ts := httptest.NewServer(m.Handler())
	defer ts.Close()
	resp, err := http.Get(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	text := string(b)
	if n := strings.Count(text, "multichannel_graphql_requests_total{"); n != observability.MaxOperationNames+1 {
		t.Errorf("%d series, want %d", n, observability.MaxOperationNames+1)
	}
	for _, want := range []string{
		`multichannel_graphql_requests_total{code="OK",operation="other",type="query"} 51`,
		`multichannel_graphql_requests_total{code="OK",operation="Op0",type="query"} 2`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// Switched off, nothing is recorded and the handler is not wrapped.
func TestSwitchedOff(t *testing.T) {
	t.Parallel()
	h := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	if got := observability.Middleware("graphql", nil, nil)(h); fmt.Sprint(got) != fmt.Sprint(h) {
		t.Error("the middleware wraps with metrics and logs off")
	}
	var m *observability.Metrics // nil: every method is a no-op
	m.ObserveOperation("x", "query", "OK", 0)
	m.ObserveHTTP("graphql", 200, 0)
	m.SubscriberStarted()
	m.SubscriberEnded()
	m.ObserveCommit(observability.Commit{Events: 1})
	m.WatchLag(&observability.LagProbe{})
	ts := start(t, nil, nil)
	if code := post(t, ts, "", `{"query":"{ __typename }"}`); code != 200 {
		t.Errorf("HTTP %d", code)
	}
}

// fakeLog is a log whose ReadAll the lag probe reads.
type fakeLog struct {
	eventstore.Store
	mu     sync.Mutex
	events []eventstore.RecordedEvent
	err    error
	reads  int
}

func (f *fakeLog) append(at time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	md, _ := domain.EncodeMetadata(domain.Metadata{SchemaVersion: 1, RecordedAt: at})
	n := uint64(len(f.events) + 1)
	f.events = append(f.events, eventstore.RecordedEvent{Position: eventstore.Position{Commit: n, Prepare: n}, Metadata: md})
}

func (f *fakeLog) ReadAll(ctx context.Context, after eventstore.Position, max int) ([]eventstore.RecordedEvent, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	if f.err != nil {
		return nil, f.err
	}
	var out []eventstore.RecordedEvent
	for _, e := range f.events {
		if after.Less(e.Position) && len(out) < max {
			out = append(out, e)
		}
	}
	return out, nil
}

func TestReadiness(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	log := &fakeLog{}
	var pos eventstore.Position
	probe := &observability.LagProbe{
		Store: log, Position: func() eventstore.Position { return pos },
		Now: func() time.Time { return now }, MaxEvents: 10, MaxAge: 5 * time.Second,
	}
	ctx := context.Background()
	for range 5 {
		log.append(now.Add(-time.Second))
	}
	// A rebuild: not ready, however small the lag, until the models reach
	// the head a probe saw.
	if err := probe.Ready(ctx); err == nil || !strings.Contains(err.Error(), "rebuilding") {
		t.Fatalf("rebuilding: %v", err)
	}
	log.append(now)                                  // traffic goes on...
	pos = eventstore.Position{Commit: 5, Prepare: 5} // ...the models pass the head seen
	if err := probe.Ready(ctx); err != nil {
		t.Fatalf("caught up with one new event behind: %v", err)
	}
	lag, _ := probe.Measure(ctx)
	if lag.Events != 1 || lag.Age != 0 || lag.AtLeast {
		t.Fatalf("lag %+v", lag)
	}
	// Too many events behind.
	for range 12 {
		log.append(now)
	}
	if err := probe.Ready(ctx); err == nil || !strings.Contains(err.Error(), "more than 10 events") {
		t.Fatalf("13 events behind: %v", err)
	}
	// Too old.
	pos = eventstore.Position{Commit: 17, Prepare: 17}
	now = now.Add(6 * time.Second)
	if err := probe.Ready(ctx); err == nil || !strings.Contains(err.Error(), "6s behind") {
		t.Fatalf("6 s behind: %v", err)
	}
	pos = eventstore.Position{Commit: 18, Prepare: 18}
	if err := probe.Ready(ctx); err != nil {
		t.Fatalf("caught up: %v", err)
	}
	// The store does not answer.
	log.mu.Lock()
	log.err = eventstore.ErrUnavailable
	log.mu.Unlock()
	if err := probe.Ready(ctx); !errors.Is(err, eventstore.ErrUnavailable) {
		t.Fatalf("store down: %v", err)
	}
	log.mu.Lock()
	log.err = nil
	log.mu.Unlock()
	// The read models stopped.
	probe.Stopped = func() error { return errors.New("out of order") }
	if err := probe.Ready(ctx); err == nil || !strings.Contains(err.Error(), "stopped") {
		t.Fatalf("stopped: %v", err)
	}
}

// TestRebuildProbesReadTheLogAtMostEveryInterval: while the read models
// rebuild, however often /readyz is asked, the log is read once per
// RebuildInterval (each read is a page of MaxEvents+1 events); passing the
// head a read saw still ends the rebuild at once, and once caught up every
// probe reads.
func TestRebuildProbesReadTheLogAtMostEveryInterval(t *testing.T) {
	t.Parallel()
	log := &fakeLog{}
	for range 50 {
		log.append(time.Now())
	}
	var mu sync.Mutex
	pos := eventstore.Position{Commit: 1, Prepare: 1}
	probe := &observability.LagProbe{
		Store: log, MaxEvents: 100, RebuildInterval: time.Hour,
		Position: func() eventstore.Position { mu.Lock(); defer mu.Unlock(); return pos },
	}
	ctx := context.Background()
	for range 200 {
		if err := probe.Ready(ctx); err == nil || !strings.Contains(err.Error(), "rebuilding") {
			t.Fatalf("rebuilding: %v", err)
		}
	}
	log.mu.Lock()
	reads := log.reads
	log.mu.Unlock()
	if reads != 1 {
		t.Fatalf("200 probes of a rebuild read the log %d times, want 1", reads)
	}
	mu.Lock()
	pos = eventstore.Position{Commit: 50, Prepare: 50} // the head the read saw
	mu.Unlock()
	if err := probe.Ready(ctx); err != nil {
		t.Fatalf("past the head: %v", err)
	}
	for range 3 {
		probe.Ready(ctx)
	}
	log.mu.Lock()
	reads = log.reads
	log.mu.Unlock()
	if reads != 5 {
		t.Fatalf("caught up, 4 probes read the log %d times, want 4", reads-1)
	}
}

func TestEmptyLogIsReady(t *testing.T) {
	t.Parallel()
	probe := &observability.LagProbe{Store: &fakeLog{}, Position: func() eventstore.Position { return eventstore.Start }}
	if err := probe.Ready(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestLagGauges(t *testing.T) {
	t.Parallel()
	now := time.Now()
	log := &fakeLog{}
	log.append(now.Add(-3 * time.Second))
	log.append(now)
	m := observability.NewMetrics()
	m.WatchLag(&observability.LagProbe{Store: log, Position: func() eventstore.Position { return eventstore.Start }, Now: func() time.Time { return now }})
	ts := httptest.NewServer(m.Handler())
	defer ts.Close()
	resp, err := http.Get(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"multichannel_projection_lag_events 2", "multichannel_projection_lag_seconds 3"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func grep(text, prefix string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// BenchmarkRequest measures what metrics and the request log add to one
// small GraphQL request served in memory (no network): the figure a load
// test's on/off comparison should roughly show per request.
func BenchmarkRequest(b *testing.B) {
	v := auth.NewHS256Verifier([]byte(secret))
	for _, c := range []struct {
		name    string
		metrics bool
		log     bool
	}{{"off", false, false}, {"metrics", true, false}, {"metrics+log", true, true}} {
		b.Run(c.name, func(b *testing.B) {
			var m *observability.Metrics
			var exts []graphql.HandlerExtension
			if c.metrics {
				m = observability.NewMetrics()
			}
			var logger *slog.Logger
			if c.log {
				logger = slog.New(slog.NewJSONHandler(io.Discard, nil))
			}
			if m != nil || logger != nil {
				exts = append(exts, observability.Extension{Metrics: m})
			}
			api := gqlgraph.NewServer(&gqlgraph.Resolver{}, gqlgraph.Options{Development: true, Verifier: v, Extensions: exts})
			h := observability.Middleware("graphql", m, logger)(attach(api))
			body := []byte(`{"query":"query Probe { a: __typename b: __typename }","operationName":"Probe"}`)
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("HTTP %d", w.Code)
				}
			}
			b.ReportMetric(float64(time.Since(start).Microseconds())/float64(b.N), "µs/request")
		})
	}
}

// pagedLog is a fakeLog that is also an eventstore.PageReader.
type pagedLog struct {
	fakeLog
	pages int
}

func (f *pagedLog) ReadAllInto(ctx context.Context, after eventstore.Position, max int, p *eventstore.Page) error {
	f.pages++
	evs, err := f.ReadAll(ctx, after, max)
	p.Events = evs
	return err
}

// TestWriteHealthPassesPagesThrough: wrapped in WriteHealth, a store that
// reads pages into memory that comes back still does (the server's read
// models catch up through the wrapper), and one that does not is read
// with ReadAll.
func TestWriteHealthPassesPagesThrough(t *testing.T) {
	t.Parallel()
	paged := &pagedLog{}
	paged.append(time.Now())
	var store eventstore.Store = &observability.WriteHealth{Store: paged}
	pr, ok := store.(eventstore.PageReader)
	if !ok {
		t.Fatal("WriteHealth hides the store's PageReader")
	}
	var p eventstore.Page
	if err := pr.ReadAllInto(context.Background(), eventstore.Start, 10, &p); err != nil || len(p.Events) != 1 || paged.pages != 1 {
		t.Fatalf("paged read: %d events, %d pages, %v", len(p.Events), paged.pages, err)
	}
	plain := &fakeLog{}
	plain.append(time.Now())
	store = &observability.WriteHealth{Store: plain}
	pr = store.(eventstore.PageReader)
	if err := pr.ReadAllInto(context.Background(), eventstore.Start, 10, &p); err != nil || len(p.Events) != 1 || plain.reads != 1 {
		t.Fatalf("plain read: %d events, %d reads, %v", len(p.Events), plain.reads, err)
	}
}
