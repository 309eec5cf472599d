package projections_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/partnercenter/multichannel/eventstore"
	"github.com/partnercenter/multichannel/eventstore/sqlite"
)

// logStore is the embedded store on a temporary file: the real adapter,
// which passes the conformance suite, as internal/command's tests use it.
// all is the whole log as reload last read it.
type logStore struct {
	*sqlite.Store
	all []eventstore.RecordedEvent
}

func newLogStore(tb testing.TB) *logStore {
	tb.Helper()
	// No linger: the tests append one batch at a time.
	s, err := sqlite.Open(filepath.Join(tb.TempDir(), "events.db"), sqlite.WithLinger(0))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return &logStore{Store: s}
}

// reload reads the whole log into all.
func (s *logStore) reload(tb testing.TB) {
	tb.Helper()
	s.all = s.all[:0]
	after := eventstore.Start
	for {
		evs, err := s.ReadAll(context.Background(), after, 4096)
		if err != nil {
			tb.Fatal(err)
		}
		s.all = append(s.all, evs...)
		if len(evs) < 4096 {
			return
		}
		after = evs[len(evs)-1].Position
	}
}

// corpusLog serves a corpus of recorded events to a model's reads (the
// LogReader port, nothing more), for benchmarks that fold a corpus built
// in memory instead of appending it through a store.
type corpusLog map[string][]eventstore.RecordedEvent

func newCorpusLog(events []eventstore.RecordedEvent) corpusLog {
	l := make(corpusLog)
	for _, e := range events {
		l[e.Stream] = append(l[e.Stream], e)
	}
	return l
}

func (l corpusLog) ReadStream(_ context.Context, stream string, dir eventstore.Direction, from uint64, max int) ([]eventstore.RecordedEvent, error) {
	evs, ok := l[stream]
	if !ok {
		return nil, fmt.Errorf("%s: %w", stream, eventstore.ErrStreamNotFound)
	}
	if dir != eventstore.Forwards {
		return nil, fmt.Errorf("corpusLog reads forwards only")
	}
	if from >= uint64(len(evs)) {
		return nil, nil
	}
	return evs[from:min(uint64(len(evs)), from+uint64(max))], nil
}
