package projections

import (
	"context"
	"fmt"
	"time"

	"github.com/partnercenter/multichannel/eventstore"
)

// waiter is one call waiting for a position (read-your-writes).
type waiter struct {
	pos eventstore.Position
	ch  chan struct{} // closed when the wait ends
	// deadline is when WaitForWithin gives up (zero: never); expired is
	// set, under waitMu before ch is closed, when the sweeper ended it.
	deadline time.Time
	expired  bool
}

// sweepEvery is how often the sweeper looks for waits past their
// deadline: WaitForWithin's timeout ends up to this much late.
const sweepEvery = 20 * time.Millisecond

// WaitFor blocks until the model has applied the event at pos (for
// read-your-writes: pos is an append's result) or ctx ends, in which case
// the error wraps both ErrCatchUpTimeout and ctx's error.
func (m *Model) WaitFor(ctx context.Context, pos eventstore.Position) error {
	return m.WaitForWithin(ctx, pos, 0)
}

// WaitForWithin is WaitFor that also gives up after timeout (0: never),
// with an error that wraps ErrCatchUpTimeout and context.DeadlineExceeded.
//
// The timeout is not a context deadline: every mutation waits here, and a
// context deadline costs each of them a timer, a context and its
// registration with the parent. Waits with a timeout are ended instead by
// one sweeper goroutine, which runs while there are any and looks every
// sweepEvery, so a timeout fires up to that much late; a wait that ends
// on time (almost every one) costs nothing for it.
func (m *Model) WaitForWithin(ctx context.Context, pos eventstore.Position, timeout time.Duration) error {
	m.waitMu.Lock()
	// Checked under waitMu: Apply moves the checkpoint before it takes
	// waitMu to wake waiters, so either this check sees the new position
	// or the waiter is registered when Apply looks.
	if m.reached(pos) {
		m.waitMu.Unlock()
		return nil
	}
	w := &waiter{pos: pos, ch: make(chan struct{})}
	if timeout > 0 {
		w.deadline = time.Now().Add(timeout)
		if !m.sweeping {
			m.sweeping = true
			go m.sweep()
		}
	}
	m.waiters = append(m.waiters, w)
	m.waitMu.Unlock()

	select {
	case <-w.ch:
		// expired was set before ch was closed: no lock needed to read it.
		if w.expired {
			return fmt.Errorf("wait for position %s: %w: %w", pos, ErrCatchUpTimeout, context.DeadlineExceeded)
		}
		return nil
	case <-ctx.Done():
		m.waitMu.Lock()
		for i, o := range m.waiters {
			if o == w {
				m.waiters = append(m.waiters[:i], m.waiters[i+1:]...)
				break
			}
		}
		m.waitMu.Unlock()
		select {
		case <-w.ch: // applied (or expired) while we gave up
			if !w.expired {
				return nil
			}
		default:
		}
		return fmt.Errorf("wait for position %s: %w: %w", pos, ErrCatchUpTimeout, ctx.Err())
	}
}

// wake ends the waits for positions up to pos.
func (m *Model) wake(pos eventstore.Position) {
	m.waitMu.Lock()
	defer m.waitMu.Unlock()
	if len(m.waiters) == 0 {
		return
	}
	m.waiters = m.endWaits(func(w *waiter) bool { return !pos.Less(w.pos) }, false)
}

// endWaits closes the waits for which end is true, marking them expired
// or not, and returns the others (in m.waiters' array). It runs under
// waitMu.
func (m *Model) endWaits(end func(*waiter) bool, expired bool) []*waiter {
	kept := m.waiters[:0]
	for _, w := range m.waiters {
		if !end(w) {
			kept = append(kept, w)
			continue
		}
		w.expired = expired
		close(w.ch)
	}
	clear(m.waiters[len(kept):])
	return kept
}

// sweep ends the waits past their deadline, every sweepEvery, until no
// wait has a deadline.
func (m *Model) sweep() {
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	for range t.C {
		now := time.Now()
		m.waitMu.Lock()
		m.waiters = m.endWaits(func(w *waiter) bool { return !w.deadline.IsZero() && !now.Before(w.deadline) }, true)
		timed := false
		for _, w := range m.waiters {
			timed = timed || !w.deadline.IsZero()
		}
		if !timed {
			m.sweeping = false
			m.waitMu.Unlock()
			return
		}
		m.waitMu.Unlock()
	}
}
