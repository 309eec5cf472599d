package command_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/partnercenter/multichannel/eventstore"
	"github.com/partnercenter/multichannel/eventstore/sqlite"
)

// logStore is the embedded store on a temporary file (the real adapter,
// which passes the conformance suite), with the two questions the tests
// ask of the whole log.
type logStore struct{ *sqlite.Store }

func newLogStore(t testing.TB) *logStore {
	t.Helper()
	// No linger: the tests append one mutation at a time.
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "events.db"), sqlite.WithLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &logStore{s}
}

// all returns the whole log.
func (s *logStore) all() []eventstore.RecordedEvent {
	var out []eventstore.RecordedEvent
	after := eventstore.Start
	for {
		evs, err := s.ReadAll(context.Background(), after, 1000)
		if err != nil {
			panic(err)
		}
		out = append(out, evs...)
		if len(evs) < 1000 {
			return out
		}
		after = evs[len(evs)-1].Position
	}
}

// count is how many domain events the log holds: the Idempotency-Key
// claim streams' bookkeeping is left out.
func (s *logStore) count() int {
	n := 0
	for _, e := range s.all() {
		if !strings.HasPrefix(e.Stream, "idempotency-") {
			n++
		}
	}
	return n
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
	// Conflicts are injected into the mutations' own appends, not into
	// the Idempotency-Key claims.
	inject, down := f.conflicts > 0 && !strings.HasPrefix(stream, "idempotency-"), f.unavailable
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
