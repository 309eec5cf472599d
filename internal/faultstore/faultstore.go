// Package faultstore wraps an eventstore.Store to inject the failures a
// production store shows, for tests: calls that fail (the node is away),
// calls that stall (the node hangs), and appends that reach the store but
// whose call fails (the acknowledgement is lost on the way back).
//
// Without a fault the wrapper passes every call through unchanged, so it
// passes the conformance suite. Faults are switched on and off while the
// wrapped store is in use:
//
//	fs := faultstore.New(store)
//	fs.Fail(faultstore.Append, faultstore.ErrInjected) // every append fails
//	fs.Stall(faultstore.Subscribe)                     // live delivery stops
//	fs.LoseAcks(1)                                     // the next append lands, then fails
//	fs.Heal()                                          // back to normal
//
// A failure switched on while a subscription runs ends that subscription
// with the error, as a dropped connection would; a stall holds its
// deliveries back until Heal or the subscription's context ends.
package faultstore

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/partnercenter/multichannel/eventstore"
)

// Op is a set of the store's operations a fault applies to.
type Op uint8

// The operations of eventstore.Store, and useful sets of them.
const (
	Append Op = 1 << iota
	ReadStream
	ReadAll
	Subscribe

	// Reads are the one-shot reads.
	Reads = ReadStream | ReadAll
	// Writes are appends.
	Writes = Append
	// All is every operation but Close.
	All = Append | ReadStream | ReadAll | Subscribe
)

var (
	// ErrInjected is the fault the tests usually inject: the store cannot
	// be reached. It wraps eventstore.ErrUnavailable, as a real adapter's
	// error does.
	ErrInjected = fmt.Errorf("faultstore: injected outage: %w", eventstore.ErrUnavailable)
	// ErrLostAck is what an append whose acknowledgement was lost returns:
	// the events were written, the caller cannot know it.
	ErrLostAck = fmt.Errorf("faultstore: append written, acknowledgement lost: %w", eventstore.ErrUnavailable)
)

// Stats counts what the wrapper did.
type Stats struct {
	Calls    int // calls of any operation, Close excluded
	Appends  int // appends that reached the wrapped store
	Failed   int // calls (or subscriptions) ended by an injected failure
	Stalled  int // calls (or deliveries) held by a stall
	LostAcks int // appends written whose call then failed
}

// Store is an eventstore.Store that injects faults into the calls it passes
// to the wrapped store. It is safe for concurrent use.
type Store struct {
	inner eventstore.Store

	mu       sync.Mutex
	failOps  Op
	failErr  error
	stallOps Op
	lostAcks int
	changed  chan struct{} // closed and replaced whenever the faults change
	stats    Stats
}

var _ eventstore.Store = (*Store)(nil)

// New wraps inner, with no fault switched on.
func New(inner eventstore.Store) *Store {
	return &Store{inner: inner, changed: make(chan struct{})}
}

// Inner returns the wrapped store.
func (s *Store) Inner() eventstore.Store { return s.inner }

// Fail makes every call of ops fail with err, before it reaches the wrapped
// store, until Heal; running subscriptions end with err. A nil err means
// ErrInjected.
func (s *Store) Fail(ops Op, err error) {
	if err == nil {
		err = ErrInjected
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failOps, s.failErr = ops, err
	s.notify()
}

// Stall makes every call of ops block, before it reaches the wrapped store,
// until Heal (then it proceeds) or its context ends (then it returns the
// context's error); running subscriptions hold their deliveries back.
func (s *Store) Stall(ops Op) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stallOps = ops
	s.notify()
}

// LoseAcks makes the next n appends that succeed in the wrapped store
// return ErrLostAck instead of their result.
func (s *Store) LoseAcks(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lostAcks = n
}

// Heal switches failures and stalls off; stalled calls proceed. Acks still
// to be lost stay pending.
func (s *Store) Heal() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failOps, s.failErr, s.stallOps = 0, nil, 0
	s.notify()
}

// Stats returns the counts so far.
func (s *Store) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// notify wakes every stalled call and subscription watcher; s.mu is held.
func (s *Store) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// gate applies the faults of op to one call: nil lets it through.
func (s *Store) gate(ctx context.Context, op Op, count bool) error {
	stalled := false
	for {
		s.mu.Lock()
		if count {
			s.stats.Calls++
			count = false
		}
		if s.failOps&op != 0 {
			err := s.failErr
			s.stats.Failed++
			s.mu.Unlock()
			return err
		}
		if s.stallOps&op == 0 {
			s.mu.Unlock()
			return nil
		}
		if !stalled {
			stalled = true
			s.stats.Stalled++
		}
		changed := s.changed
		s.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("faultstore: stalled call given up: %w", ctx.Err())
		}
	}
}

// Append implements eventstore.Store.
func (s *Store) Append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	if err := s.gate(ctx, Append, true); err != nil {
		return eventstore.AppendResult{}, err
	}
	res, err := s.inner.Append(ctx, stream, expected, events...)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.Appends++
	if err == nil && s.lostAcks > 0 {
		s.lostAcks--
		s.stats.LostAcks++
		return eventstore.AppendResult{}, ErrLostAck
	}
	return res, err
}

// ReadStream implements eventstore.Store.
func (s *Store) ReadStream(ctx context.Context, stream string, dir eventstore.Direction, from uint64, max int) ([]eventstore.RecordedEvent, error) {
	if err := s.gate(ctx, ReadStream, true); err != nil {
		return nil, err
	}
	return s.inner.ReadStream(ctx, stream, dir, from, max)
}

// ReadAll implements eventstore.Store.
func (s *Store) ReadAll(ctx context.Context, after eventstore.Position, max int) ([]eventstore.RecordedEvent, error) {
	if err := s.gate(ctx, ReadAll, true); err != nil {
		return nil, err
	}
	return s.inner.ReadAll(ctx, after, max)
}

// SubscribeAll implements eventstore.Store. A failure switched on while it
// runs ends it with that failure; a stall holds each delivery back.
func (s *Store) SubscribeAll(ctx context.Context, after eventstore.Position, fn func(eventstore.RecordedEvent) error) error {
	if err := s.gate(ctx, Subscribe, true); err != nil {
		return err
	}
	sub, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go s.watch(sub, cancel)
	err := s.inner.SubscribeAll(sub, after, func(e eventstore.RecordedEvent) error {
		if err := s.gate(sub, Subscribe, false); err != nil {
			return err
		}
		return fn(e)
	})
	if ctx.Err() == nil {
		// Not the caller's cancellation: if a fault ended the subscription,
		// report the fault rather than the cancellation it caused.
		if cause := context.Cause(sub); cause != nil && !errors.Is(cause, context.Canceled) {
			return cause
		}
	}
	return err
}

// watch ends a running subscription when a failure of Subscribe is
// switched on.
func (s *Store) watch(sub context.Context, cancel context.CancelCauseFunc) {
	for {
		s.mu.Lock()
		changed := s.changed
		var err error
		if s.failOps&Subscribe != 0 {
			err = s.failErr
			s.stats.Failed++
		}
		s.mu.Unlock()
		if err != nil {
			cancel(err)
			return
		}
		select {
		case <-changed:
		case <-sub.Done():
			return
		}
	}
}

// Close implements eventstore.Store; it is never faulted, so that a test
// always releases the wrapped store.
func (s *Store) Close() error { return s.inner.Close() }
