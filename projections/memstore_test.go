package projections_test

import (
	"context"
	"fmt"
	"sync"

	"github.com/partnercenter/multichannel/eventstore"
)

// memStore is a small in-memory eventstore.Store for these tests: one
// global log, streams as index lists, positions (n, n) from 1.
type memStore struct {
	mu      sync.Mutex
	all     []eventstore.RecordedEvent
	streams map[string][]int
	changed chan struct{} // closed and replaced on every append
	// gap makes the next append skip this many positions, to show that
	// positions need not be contiguous (as on EventStoreDB).
	gap uint64
	seq uint64
}

var _ eventstore.Store = (*memStore)(nil)

func newMemStore() *memStore {
	return &memStore{streams: make(map[string][]int), changed: make(chan struct{})}
}

func (s *memStore) Append(_ context.Context, stream string, expected eventstore.ExpectedRevision, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	idx := s.streams[stream]
	last, exists := uint64(len(idx))-1, len(idx) > 0
	if !expected.Matches(last, exists) {
		return eventstore.AppendResult{}, &eventstore.WrongExpectedRevisionError{Stream: stream, Expected: expected, Actual: last, ActualExists: exists}
	}
	var res eventstore.AppendResult
	for _, e := range events {
		s.seq += 1 + s.gap
		rev := uint64(len(s.streams[stream]))
		rec := eventstore.RecordedEvent{
			ID: e.ID, Stream: stream, Revision: rev,
			Position: eventstore.Position{Commit: s.seq, Prepare: s.seq},
			Type:     e.Type, Data: e.Data, Metadata: e.Metadata,
		}
		s.streams[stream] = append(s.streams[stream], len(s.all))
		s.all = append(s.all, rec)
		res = eventstore.AppendResult{NextRevision: rev, Position: rec.Position}
	}
	s.gap = 0
	close(s.changed)
	s.changed = make(chan struct{})
	return res, nil
}

func (s *memStore) ReadStream(_ context.Context, stream string, dir eventstore.Direction, from uint64, max int) ([]eventstore.RecordedEvent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	idx := s.streams[stream]
	if len(idx) == 0 {
		return nil, fmt.Errorf("%s: %w", stream, eventstore.ErrStreamNotFound)
	}
	var out []eventstore.RecordedEvent
	if dir == eventstore.Forwards {
		for r := from; r < uint64(len(idx)) && len(out) < max; r++ {
			out = append(out, s.all[idx[r]])
		}
		return out, nil
	}
	if from >= uint64(len(idx)) {
		from = uint64(len(idx)) - 1
	}
	for r := int64(from); r >= 0 && len(out) < max; r-- {
		out = append(out, s.all[idx[r]])
	}
	return out, nil
}

func (s *memStore) ReadAll(_ context.Context, after eventstore.Position, max int) ([]eventstore.RecordedEvent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []eventstore.RecordedEvent
	for _, e := range s.all {
		if after.Less(e.Position) && len(out) < max {
			out = append(out, e)
		}
	}
	return out, nil
}

func (s *memStore) SubscribeAll(ctx context.Context, after eventstore.Position, fn func(eventstore.RecordedEvent) error) error {
	for {
		s.mu.Lock()
		changed := s.changed
		s.mu.Unlock()
		batch, _ := s.ReadAll(ctx, after, 256)
		for _, e := range batch {
			if err := fn(e); err != nil {
				return err
			}
			after = e.Position
		}
		if len(batch) > 0 {
			continue
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		}
	}
}

func (s *memStore) Close() error { return nil }
