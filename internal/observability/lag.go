package observability

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/eventstore"
)

// Lag is how far the read models are behind the log.
type Lag struct {
	// Events not yet applied, counted up to the probe's limit; AtLeast is
	// true when there are more (Events is then the limit).
	Events  int
	AtLeast bool
	// Age of the oldest event not yet applied (0 when caught up): how
	// stale a read may be. Its recordedAt is the API's clock, which is
	// the clock the probe reads too.
	Age time.Duration
}

// LagProbe measures the read models' lag with one bounded read of the log
// after their checkpoint: nothing to read means caught up, which is the
// usual answer and costs one indexed lookup. It is the readiness check and
// feeds the lag gauges.
type LagProbe struct {
	// Store is the event store; Position returns the read models'
	// checkpoint (projections.Model.Position).
	Store    eventstore.Store
	Position func() eventstore.Position
	// Now is the API's clock (time.Now when nil).
	Now func() time.Time
	// MaxEvents and MaxAge are the readiness thresholds: more events than
	// MaxEvents not yet applied, or an oldest one older than MaxAge, is
	// not ready. Zero means DefaultMaxLagEvents, DefaultMaxLagAge.
	MaxEvents int
	MaxAge    time.Duration
	// Stopped, when set, returns why the read models stopped following the
	// log, or nil while they run.
	Stopped func() error
	// WriteFailure, when set, returns why the store does not take writes
	// (WriteHealth.Failure), or nil while it does.
	WriteFailure func() error
	// Applied, when set, is how many events the read models have applied,
	// and Total how many the log held at the start (ok false: not known,
	// as for EventStoreDB): what a rebuild's /readyz reports.
	Applied func() int
	Total   func() (n int64, ok bool)

	// RebuildInterval bounds how often a probe reads the log while the
	// read models rebuild (DefaultRebuildProbeInterval when zero).
	RebuildInterval time.Duration

	mu       sync.Mutex
	caughtUp bool                 // the models have reached the head once
	head     *eventstore.Position // the head as a probe saw it, before caughtUp
	// last is the lag the last read of a rebuild found, at lastAt.
	last   Lag
	lastAt time.Time
}

// DefaultRebuildProbeInterval is how often, at most, a probe reads the log
// during a rebuild. Until the models catch up, each read is a full
// MaxEvents+1 events, a megabyte or so: probed every 20 ms, as a start-up
// benchmark or an eager orchestrator may, that was a fifth of the events
// the rebuild itself read, and the allocations besides. In between, a
// probe answers from the last read, and from the head it saw, which is
// all a rebuild's answer needs.
const DefaultRebuildProbeInterval = 250 * time.Millisecond

// Readiness defaults: a second or so of traffic at the store's group-commit
// rates, and a staleness no user notices.
const (
	DefaultMaxLagEvents = 1000
	DefaultMaxLagAge    = 5 * time.Second
)

func (p *LagProbe) limits() (int, time.Duration) {
	n, age := p.MaxEvents, p.MaxAge
	if n <= 0 {
		n = DefaultMaxLagEvents
	}
	if age <= 0 {
		age = DefaultMaxLagAge
	}
	return n, age
}

// Measure reads at most MaxEvents+1 events after the checkpoint and returns
// the lag. An error means the store did not answer.
func (p *LagProbe) Measure(ctx context.Context) (Lag, error) {
	limit, _ := p.limits()
	pos := p.Position()
	if lag, ok := p.recent(pos); ok {
		return lag, nil
	}
	evs, err := p.Store.ReadAll(ctx, pos, limit+1)
	if err != nil {
		return Lag{}, fmt.Errorf("read the log after %s: %w", pos, err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case len(evs) == 0:
		p.caughtUp = true
	case !p.caughtUp && len(evs) <= limit:
		h := evs[len(evs)-1].Position
		p.head = &h
	}
	lag := Lag{Events: min(len(evs), limit), AtLeast: len(evs) > limit}
	if len(evs) > 0 {
		now := time.Now
		if p.Now != nil {
			now = p.Now
		}
		if md, err := domain.DecodeMetadata(evs[0].Metadata); err == nil && !md.RecordedAt.IsZero() {
			lag.Age = max(now().Sub(md.RecordedAt), 0)
		}
	}
	p.last, p.lastAt = lag, time.Now()
	return lag, nil
}

// recent is the last read's lag, while the models rebuild and that read is
// younger than RebuildInterval. A model that has passed the head an
// earlier read saw has caught up, even if traffic keeps the lag above
// zero: that ends the rebuild, and the probe reads.
func (p *LagProbe) recent(pos eventstore.Position) (Lag, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.caughtUp && p.head != nil && !pos.Less(*p.head) {
		p.caughtUp = true
	}
	every := p.RebuildInterval
	if every <= 0 {
		every = DefaultRebuildProbeInterval
	}
	if p.caughtUp || p.lastAt.IsZero() || time.Since(p.lastAt) >= every {
		return Lag{}, false
	}
	return p.last, true
}

// Ready is the readiness check (/readyz): nil when the read models follow
// the log, the store answers and takes writes, the models have caught up
// once since the start (a rebuild is not ready), and their lag is within
// the thresholds.
func (p *LagProbe) Ready(ctx context.Context) error {
	if p.Stopped != nil {
		if err := p.Stopped(); err != nil {
			return fmt.Errorf("read models stopped: %w", err)
		}
	}
	if p.WriteFailure != nil {
		if err := p.WriteFailure(); err != nil {
			return err
		}
	}
	lag, err := p.Measure(ctx)
	if err != nil {
		return fmt.Errorf("event store: %w", err)
	}
	maxEvents, maxAge := p.limits()
	p.mu.Lock()
	caughtUp := p.caughtUp
	p.mu.Unlock()
	behind := fmt.Sprintf("%d", lag.Events)
	if lag.AtLeast {
		behind = "more than " + behind
	}
	switch {
	case !caughtUp:
		return p.rebuilding(behind)
	case lag.AtLeast || lag.Events > maxEvents:
		return fmt.Errorf("read models %s events behind (limit %d)", behind, maxEvents)
	case lag.Age > maxAge:
		return fmt.Errorf("read models %s behind (limit %s)", lag.Age.Round(time.Millisecond), maxAge)
	}
	return nil
}

// CaughtUp reports whether the read models have reached the log's head
// once since the start (as a probe saw it): the end of the rebuild.
func (p *LagProbe) CaughtUp() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.caughtUp
}

// rebuilding is the readiness error of a rebuild: how many events are
// applied of how many, which says how far it is; not the lag's age, which
// during a rebuild is the age of the log, not a staleness.
func (p *LagProbe) rebuilding(behind string) error {
	if p.Applied == nil {
		return fmt.Errorf("rebuilding read models: %s events to apply", behind)
	}
	applied := p.Applied()
	if p.Total != nil {
		if total, ok := p.Total(); ok && total > 0 {
			if int64(applied) > total {
				// The log grew during the rebuild.
				return fmt.Errorf("rebuilding read models: %d events applied of more than %d, %s to go", applied, total, behind)
			}
			return fmt.Errorf("rebuilding read models: %d of %d events applied (%.0f%%)", applied, total, 100*float64(applied)/float64(total))
		}
	}
	return fmt.Errorf("rebuilding read models: %d events applied, %s to go", applied, behind)
}

// lagCollector measures the lag once per scrape for both gauges.
type lagCollector struct {
	probe   *LagProbe
	timeout time.Duration
	events  *prometheus.Desc
	age     *prometheus.Desc
}

// WatchLag registers the projection lag gauges, measured by probe at each
// scrape (bounded by a 2 s timeout; a failed measure reports nothing).
func (m *Metrics) WatchLag(probe *LagProbe) {
	if m == nil {
		return
	}
	m.reg.MustRegister(&lagCollector{
		probe:   probe,
		timeout: 2 * time.Second,
		events: prometheus.NewDesc(namespace+"_projection_lag_events",
			"Events of the log the read models have not applied yet (counted up to the readiness limit + 1).", nil, nil),
		age: prometheus.NewDesc(namespace+"_projection_lag_seconds",
			"Age of the oldest event the read models have not applied yet (0 when caught up).", nil, nil),
	})
}

func (c *lagCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.events
	ch <- c.age
}

func (c *lagCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	lag, err := c.probe.Measure(ctx)
	if err != nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(c.events, prometheus.GaugeValue, float64(lag.Events))
	ch <- prometheus.MustNewConstMetric(c.age, prometheus.GaugeValue, lag.Age.Seconds())
}
