package command_test

import (
	"context"
	"errors"
	"sync"

	"github.com/partnercenter/multichannel/eventstore"
)

// memStore is a small in-memory eventstore.Store with the interface's
// semantics (expected revisions, atomic appends, one global log).
type memStore struct {
	mu      sync.Mutex
	streams map[string][]eventstore.RecordedEvent
	log     []eventstore.RecordedEvent
	changed chan struct{} // closed and replaced on every append
}

var _ eventstore.Store = (*memStore)(nil)

func newMemStore() *memStore {
	return &memStore{streams: map[string][]eventstore.RecordedEvent{}, changed: make(chan struct{})}
}

func (m *memStore) Append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	if err := ctx.Err(); err != nil {
		return eventstore.AppendResult{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.streams[stream]
	last, exists := uint64(len(s))-1, len(s) > 0
	if !expected.Matches(last, exists) {
		return eventstore.AppendResult{}, &eventstore.WrongExpectedRevisionError{Stream: stream, Expected: expected, Actual: last, ActualExists: exists}
	}
	for _, e := range events {
		pos := uint64(len(m.log) + 1)
		re := eventstore.RecordedEvent{
			ID: e.ID, Stream: stream, Revision: uint64(len(s)), Position: eventstore.Position{Commit: pos, Prepare: pos},
			Type: e.Type, Data: append([]byte(nil), e.Data...), Metadata: append([]byte(nil), e.Metadata...),
		}
		s = append(s, re)
		m.log = append(m.log, re)
	}
	m.streams[stream] = s
	close(m.changed)
	m.changed = make(chan struct{})
	return eventstore.AppendResult{NextRevision: uint64(len(s)) - 1, Position: m.log[len(m.log)-1].Position}, nil
}

func (m *memStore) ReadStream(ctx context.Context, stream string, dir eventstore.Direction, from uint64, max int) ([]eventstore.RecordedEvent, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.streams[stream]
	if len(s) == 0 {
		return nil, eventstore.ErrStreamNotFound
	}
	var out []eventstore.RecordedEvent
	if dir == eventstore.Forwards {
		for i := from; i < uint64(len(s)) && len(out) < max; i++ {
			out = append(out, s[i])
		}
		return out, nil
	}
	i := min(from, uint64(len(s))-1)
	for ; len(out) < max; i-- {
		out = append(out, s[i])
		if i == 0 {
			break
		}
	}
	return out, nil
}

func (m *memStore) ReadAll(ctx context.Context, after eventstore.Position, max int) ([]eventstore.RecordedEvent, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []eventstore.RecordedEvent
	for _, e := range m.log {
		if after.Less(e.Position) && len(out) < max {
			out = append(out, e)
		}
	}
	return out, nil
}

func (m *memStore) SubscribeAll(ctx context.Context, after eventstore.Position, fn func(eventstore.RecordedEvent) error) error {
	for {
		m.mu.Lock()
		changed := m.changed
		m.mu.Unlock()
		evs, _ := m.ReadAll(ctx, after, 1<<30)
		for _, e := range evs {
			if err := fn(e); err != nil {
				return err
			}
			after = e.Position
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		}
	}
}

func (m *memStore) Close() error { return nil }

// all returns a copy of the global log.
func (m *memStore) all() []eventstore.RecordedEvent {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]eventstore.RecordedEvent(nil), m.log...)
}

func (m *memStore) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.log)
}

// faultyStore injects failures into a store's appends.
type faultyStore struct {
	eventstore.Store
	mu sync.Mutex
	// conflicts is how many appends still fail with a wrong expected
	// revision (without writing).
	conflicts int
	// unavailable makes every call fail as an unreachable store.
	unavailable bool
}

func (f *faultyStore) Append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	f.mu.Lock()
	inject, down := f.conflicts > 0, f.unavailable
	if inject {
		f.conflicts--
	}
	f.mu.Unlock()
	if down {
		return eventstore.AppendResult{}, errUnavailable
	}
	if inject {
		return eventstore.AppendResult{}, &eventstore.WrongExpectedRevisionError{Stream: stream, Expected: expected, Actual: 99, ActualExists: true}
	}
	return f.Store.Append(ctx, stream, expected, events...)
}

func (f *faultyStore) ReadStream(ctx context.Context, stream string, dir eventstore.Direction, from uint64, max int) ([]eventstore.RecordedEvent, error) {
	f.mu.Lock()
	down := f.unavailable
	f.mu.Unlock()
	if down {
		return nil, errUnavailable
	}
	return f.Store.ReadStream(ctx, stream, dir, from, max)
}

var errUnavailable = errors.Join(eventstore.ErrUnavailable, errors.New("dial tcp 127.0.0.1:2113: connection refused"))
