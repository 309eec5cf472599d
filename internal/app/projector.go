package app

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/eventstore"
	"github.com/partnercenter/multichannel/internal/command"
	"github.com/partnercenter/multichannel/internal/observability"
	"github.com/partnercenter/multichannel/projections"
)

// projector keeps the read models current. projections.Run ends when the
// store fails; the projector then runs it again from the model's
// checkpoint (an event is applied once, so nothing is doubled or skipped),
// with backoff, for as long as the failure is transient: the store being
// unreachable (eventstore.ErrUnavailable), which is what a network store
// reports for a dropped connection or a node away. Meanwhile the API keeps
// answering reads from the models as they are, mutations fail or time out
// (they cannot be confirmed), and /readyz reports the failure.
//
// Any other error stops it, and with it the server: an event the model
// cannot apply (projections.ErrOutOfOrder, an unknown event type, a
// payload that does not decode) fails the same way on every try, so a
// retry would only hide a bug or a damaged log behind stale reads; a
// closed store will not come back. The process exits non-zero, after a
// graceful shutdown, for its supervisor to see.
type projector struct {
	store eventstore.Store
	model *projections.Model

	mu      sync.Mutex
	failing error // the last transient failure, nil once running again
	stopped error // the error that stopped it
}

// Backoff between runs of the projections after a transient failure.
const (
	projectionBackoff    = 50 * time.Millisecond
	projectionBackoffMax = 5 * time.Second
)

// run runs the projections until ctx ends (nil) or a failure that is not
// transient (returned).
func (p *projector) run(ctx context.Context) error {
	wait := projectionBackoff
	for {
		from := p.model.Position()
		err := projections.Run(ctx, p.store, p.model)
		if ctx.Err() != nil {
			return nil
		}
		if err == nil {
			err = errors.New("subscription ended without an error")
		}
		if !errors.Is(err, eventstore.ErrUnavailable) {
			p.set(nil, err)
			return err
		}
		if p.model.Position() != from {
			wait = projectionBackoff // it made progress: a new outage
		}
		p.set(err, nil)
		slog.Warn("read models: store unavailable; resubscribing from the checkpoint",
			"checkpoint", p.model.Position().String(), "retry_in", wait.String(), "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		wait = min(2*wait, projectionBackoffMax)
		// Cleared optimistically: the next failure sets it again.
		p.set(nil, nil)
	}
}

func (p *projector) set(failing, stopped error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failing, p.stopped = failing, stopped
}

// stoppedErr is the error that stopped the projections, nil if none did.
func (p *projector) stoppedErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stopped
}

// ready answers /readyz: not ready while the projections are stopped or
// retrying.
func (p *projector) ready() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.stopped != nil:
		return fmt.Errorf("projections stopped: %w", p.stopped)
	case p.failing != nil:
		return fmt.Errorf("projections retrying: %w", p.failing)
	}
	return nil
}

// expiries is what the sweep asks of the read models: the requests still
// recorded PENDING past their expiry (projections.Model answers it).
type expiries interface {
	DueExpiries(now time.Time) []uuid.UUID
}

// sweepExpiries records RelationshipExpired for requests past their expiry.
func sweepExpiries(ctx context.Context, every time.Duration, now func() time.Time, caughtUp func() bool, model expiries, commands *command.Handlers) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		// While the read models rebuild at start they know only part of
		// the log: a request they show as due may have been answered
		// later in it, and each expiry would wait out the catch-up
		// timeout. The decision is the stream's anyway; wait until ready.
		var due []uuid.UUID
		if caughtUp() {
			due = model.DueExpiries(now())
		}
		for _, id := range due {
			if err := commands.ExpireRelationship(ctx, id); err != nil && ctx.Err() == nil {
				slog.Warn("expiry sweep", "relationship", id.String(), "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// readyPoll is how often logWhenReady probes the read models' lag until
// they have caught up.
const readyPoll = 200 * time.Millisecond

// logWhenReady logs one line when the read models have caught up with the
// log for the first time (the end of the start-up rebuild), so an operator
// sees when the server became ready without polling /readyz.
func logWhenReady(ctx context.Context, probe *observability.LagProbe, model *projections.Model, started time.Time) {
	t := time.NewTicker(readyPoll)
	defer t.Stop()
	for {
		if _, err := probe.Measure(ctx); err == nil && probe.CaughtUp() {
			slog.Info("read models ready", "events", model.EventCount(), "position", model.Position().String(),
				"took", time.Since(started).Round(time.Millisecond).String())
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// logSizeAtStart counts the embedded log's events once, for a rebuild's
// /readyz ("N of M events applied"): its sequence numbers have no gaps, so
// the last one is the count, one lookup at the end of the table's B-tree,
// made here rather than in the background so that nothing opens the file
// after the app is closed. EventStoreDB's count is not known without
// reading $all: ok is false there, and when the lookup fails.
func logSizeAtStart(cfg Config) func() (int64, bool) {
	n, ok := int64(0), false
	if cfg.EventStoreURL == "" {
		n, ok = embeddedLogSize(cfg.EventsDB)
	}
	return func() (int64, bool) { return n, ok }
}

func embeddedLogSize(path string) (int64, bool) {
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?mode=ro")
	if err != nil {
		return 0, false
	}
	defer db.Close()
	var last sql.NullInt64
	if err := db.QueryRow(`SELECT max(seq) FROM events`).Scan(&last); err != nil {
		return 0, false
	}
	return last.Int64, true
}
