package observability

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/partnercenter/multichannel/eventstore"
)

// DefaultWriteFailureHold is how long, at most, a failed write keeps the
// server not ready when no write follows it (see WriteHealth.Hold).
const DefaultWriteFailureHold = 30 * time.Second

// WriteHealth is an eventstore.Store that remembers whether the store
// takes writes: an append that fails because the store cannot take it
// (eventstore.ErrUnavailable: a full disk, a read-only file, a node away)
// marks it failing, and the next append the store answers (written, or
// refused for a wrong expected revision, which the store decided) clears
// the mark. A read alone cannot tell: a full disk still answers reads.
type WriteHealth struct {
	eventstore.Store
	// Hold bounds how long a failure is surfaced without a write after it
	// (DefaultWriteFailureHold when 0): a server that is not ready gets no
	// traffic, and so no write that could show the store has recovered;
	// past Hold it is ready again, and the next write decides.
	Hold time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time

	mu       sync.Mutex
	failedAt time.Time
	failure  error
}

var (
	_ eventstore.Store      = (*WriteHealth)(nil)
	_ eventstore.PageReader = (*WriteHealth)(nil)
)

// ReadAllInto implements eventstore.PageReader with the store's own, so
// that the wrapper does not hide it from the read models' catch-up (a
// rebuild of the log then allocates an array for every event's bytes). A
// store that is not one is read with ReadAll, whose events outlive the
// page anyway.
func (w *WriteHealth) ReadAllInto(ctx context.Context, after eventstore.Position, max int, p *eventstore.Page) error {
	if pr, ok := w.Store.(eventstore.PageReader); ok {
		return pr.ReadAllInto(ctx, after, max, p)
	}
	evs, err := w.Store.ReadAll(ctx, after, max)
	p.Events = evs
	return err
}

// Append implements eventstore.Store and records its outcome.
func (w *WriteHealth) Append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	res, err := w.Store.Append(ctx, stream, expected, events...)
	w.record(err)
	return res, err
}

func (w *WriteHealth) record(err error) {
	switch {
	case err == nil, errors.Is(err, eventstore.ErrWrongExpectedRevision):
		w.mu.Lock()
		w.failure = nil
		w.mu.Unlock()
	case errors.Is(err, eventstore.ErrUnavailable):
		w.mu.Lock()
		w.failure, w.failedAt = err, w.now()
		w.mu.Unlock()
	}
	// Anything else (the caller's deadline, a closed store) says nothing
	// about whether the store takes writes.
}

func (w *WriteHealth) now() time.Time {
	if w.Now != nil {
		return w.Now()
	}
	return time.Now()
}

// Failure returns the last append's failure while no append has succeeded
// since and it is younger than Hold, or nil.
func (w *WriteHealth) Failure() error {
	hold := w.Hold
	if hold <= 0 {
		hold = DefaultWriteFailureHold
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.failure == nil || w.now().Sub(w.failedAt) >= hold {
		return nil
	}
	return fmt.Errorf("the event store refused the last write %s ago: %w",
		w.now().Sub(w.failedAt).Round(time.Millisecond), w.failure)
}
