// Package observability holds what operators watch the server by: the
// Prometheus metrics (Metrics, served at /metrics from a registry of its
// own, so that servers can run side by side in one process), one log line
// per GraphQL request (Middleware), the gqlgen extension that tells both
// which operation ran and how it ended (Extension), and the read models'
// lag behind the log that readiness and the metrics report (Lag).
//
// Everything here is optional and switched off by leaving it out: a nil
// *Metrics records nothing, and a nil logger logs nothing.
package observability

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// namespace prefixes every metric of the product.
const namespace = "multichannel"

// Metrics are the server's Prometheus instruments. Its methods may be
// called on a nil *Metrics, which records nothing (metrics switched off).
type Metrics struct {
	reg *prometheus.Registry

	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec

	gqlRequests *prometheus.CounterVec
	gqlDuration *prometheus.HistogramVec
	subscribers prometheus.Gauge

	appends       prometheus.Counter
	events        prometheus.Counter
	commitEvents  prometheus.Histogram
	commitLatency prometheus.Histogram
	commitErrors  prometheus.Counter

	ops *boundedNames

	// Resolved children of the vectors above, by their label values: a
	// vector's WithLabelValues hashes the values and takes a lock on each
	// call, twice per request and twice per operation. The label values
	// are bounded (routes, status codes, MaxOperationNames names times
	// types times codes), and so are these.
	httpChildren sync.Map // httpKey -> httpChild
	opChildren   sync.Map // opKey -> opChild
}

type httpKey struct {
	route  string
	status int
}

// routeGraphQL's requests are timed by operation (graphql_request_duration_seconds,
// which ObserveOperation records), so not a second time by route: one
// histogram less on every request's path.
const routeGraphQL = "graphql"

type httpChild struct {
	requests prometheus.Counter
	duration prometheus.Observer // nil for routeGraphQL
}

type opKey struct{ name, typ, code string }

type opChild struct {
	requests prometheus.Counter
	duration prometheus.Observer // nil for subscriptions
}

// latencyBuckets span a read served from memory (sub-millisecond) to a
// mutation that waits out a slow fsync or the catch-up timeout.
var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// MaxOperationNames bounds the distinct operation names the metrics label:
// names come from clients, and each is a time series in Prometheus, so a
// client inventing names must not be able to grow them without end. Names
// past the bound, and names longer than 64 bytes, are counted as "other".
const MaxOperationNames = 200

// NewMetrics returns the instruments, registered on a registry of their own
// with the Go runtime's and the process's collectors.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "http_requests_total",
			Help: "HTTP requests by route and status code.",
		}, []string{"route", "status"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "http_request_duration_seconds",
			Help:    "HTTP request latency by route, but for graphql, whose requests graphql_request_duration_seconds times by operation.",
			Buckets: latencyBuckets,
		}, []string{"route"}),
		gqlRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "graphql_requests_total",
			Help: "GraphQL operations by operation name, type and outcome (the first error's extensions.code, or OK).",
		}, []string{"operation", "type", "code"}),
		gqlDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "graphql_request_duration_seconds",
			Help:    "Latency of GraphQL queries and mutations by operation name, from the request's start to its response.",
			Buckets: latencyBuckets,
		}, []string{"operation", "type"}),
		subscribers: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "livefeed_subscribers",
			Help: "Live-feed subscriptions open now.",
		}),
		appends: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "store_appends_total",
			Help: "Appends the embedded store's writer answered (conflicts and idempotent retries included).",
		}),
		events: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "store_events_written_total",
			Help: "Events the embedded store committed.",
		}),
		commitEvents: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "store_commit_events",
			Help:    "Events per group commit (one transaction, one fsync).",
			Buckets: prometheus.ExponentialBuckets(1, 2, 12),
		}),
		commitLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "store_commit_duration_seconds",
			Help:    "Group commit latency, fsync included.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		}),
		commitErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "store_commit_failures_total",
			Help: "Group commits that failed as a whole (every append in them failed).",
		}),
		ops: &boundedNames{max: MaxOperationNames, seen: map[string]struct{}{}},
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.httpRequests, m.httpDuration, m.gqlRequests, m.gqlDuration, m.subscribers,
		m.appends, m.events, m.commitEvents, m.commitLatency, m.commitErrors,
	)
	return m
}

// Registry is the registry the instruments are on, for adding more.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in Prometheus's text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// ObserveHTTP records one HTTP request of route.
func (m *Metrics) ObserveHTTP(route string, status int, d time.Duration) {
	if m == nil {
		return
	}
	k := httpKey{route, status}
	c, ok := m.httpChildren.Load(k)
	if !ok {
		hc := httpChild{requests: m.httpRequests.WithLabelValues(route, strconv.Itoa(status))}
		if route != routeGraphQL {
			hc.duration = m.httpDuration.WithLabelValues(route)
		}
		c, _ = m.httpChildren.LoadOrStore(k, hc)
	}
	hc := c.(httpChild)
	hc.requests.Inc()
	if hc.duration != nil {
		hc.duration.Observe(d.Seconds())
	}
}

// ObserveOperation records one GraphQL operation: its name (bounded, see
// MaxOperationNames), its type (query, mutation, subscription; "unknown"
// when the document did not parse), its outcome code, and, for queries and
// mutations, its latency.
func (m *Metrics) ObserveOperation(name, typ, code string, d time.Duration) {
	if m == nil {
		return
	}
	// Keyed by the name as the client sent it, once admitted as a label
	// (or empty, always "anonymous"), so that the common case takes no
	// lock; a name refused as a label ("other") takes the slow path each
	// time, and adds nothing.
	k := opKey{name, typ, code}
	c, ok := m.opChildren.Load(k)
	if !ok {
		label := m.ops.label(name)
		lk := opKey{label, typ, code}
		if c, ok = m.opChildren.Load(lk); !ok {
			oc := opChild{requests: m.gqlRequests.WithLabelValues(lk.name, lk.typ, lk.code)}
			if typ != "subscription" {
				oc.duration = m.gqlDuration.WithLabelValues(lk.name, lk.typ)
			}
			c, _ = m.opChildren.LoadOrStore(lk, oc)
		}
		if name == "" {
			m.opChildren.Store(k, c)
		}
	}
	oc := c.(opChild)
	oc.requests.Inc()
	if oc.duration != nil {
		oc.duration.Observe(d.Seconds())
	}
}

// SubscriberStarted and SubscriberEnded move the live-feed gauge.
func (m *Metrics) SubscriberStarted() {
	if m != nil {
		m.subscribers.Inc()
	}
}

// SubscriberEnded: see SubscriberStarted.
func (m *Metrics) SubscriberEnded() {
	if m != nil {
		m.subscribers.Dec()
	}
}

// Commit describes one group commit of the embedded store: one
// transaction, one fsync. Its fields are the store's (sqlite.CommitStats),
// so that the wiring converts one into the other; observability knows no
// store adapter.
type Commit struct {
	// Appends is how many appends the batch answered; Events how many
	// events it wrote.
	Appends, Events int
	// Duration runs from the transaction's start to its commit, the fsync
	// included.
	Duration time.Duration
	// Err is the failure of the whole batch, if it failed.
	Err error
}

// ObserveCommit records one group commit of the embedded store.
func (m *Metrics) ObserveCommit(c Commit) {
	if m == nil {
		return
	}
	m.commitLatency.Observe(c.Duration.Seconds())
	if c.Err != nil {
		m.commitErrors.Inc()
		return
	}
	m.appends.Add(float64(c.Appends))
	m.events.Add(float64(c.Events))
	if c.Events > 0 {
		m.commitEvents.Observe(float64(c.Events))
	}
}

// boundedNames hands out label values for client-chosen names, at most max
// distinct ones.
type boundedNames struct {
	mu   sync.RWMutex
	max  int
	seen map[string]struct{}
}

func (b *boundedNames) label(name string) string {
	switch {
	case name == "":
		return "anonymous"
	case len(name) > 64 || !isName(name):
		return "other"
	}
	b.mu.RLock()
	_, ok := b.seen[name]
	b.mu.RUnlock()
	if ok {
		return name
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.seen[name]; ok {
		return name
	}
	if len(b.seen) >= b.max {
		return "other"
	}
	b.seen[name] = struct{}{}
	return name
}

// isName reports whether s is a GraphQL name ([_A-Za-z][_0-9A-Za-z]*). The
// name of a document that did not parse is whatever the client sent, and a
// label must at least be valid UTF-8.
func isName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return s != ""
}
