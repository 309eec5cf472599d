// Package eventstoretest is the conformance suite every eventstore.Store
// implementation runs: the embedded SQLite store on a fresh file, and the
// EventStoreDB adapter against a test double or a real, shared server.
//
// Because a shared server's global log holds other data, every test writes
// to fresh streams named <category>-<uuid> and, when it reads the global
// log, looks only at the events of its own streams (while still checking
// that every position it sees strictly increases).
package eventstoretest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/partnercenter/multichannel/eventstore"
)

// Run runs the conformance suite. newStore makes a fresh, empty backing
// store for one subtest and returns a function that opens a new handle on
// that same backing store; the suite closes every handle it opens.
func Run(t *testing.T, newStore func(t *testing.T) func() (eventstore.Store, error)) {
	t.Helper()
	cases := []struct {
		name string
		fn   func(t *testing.T, open func() (eventstore.Store, error))
	}{
		{"AppendAndReadStream", testAppendAndReadStream},
		{"ReadStreamDirections", testReadStreamDirections},
		{"ReadStreamNotFound", testReadStreamNotFound},
		{"ExpectedRevision", testExpectedRevision},
		{"ConcurrentExactAppends", testConcurrentExactAppends},
		{"IdempotentRetry", testIdempotentRetry},
		{"Durability", testDurability},
		{"ReadAll", testReadAll},
		{"PositionString", testPositionString},
		{"SubscribeAllCatchUpAndLive", testSubscribeAllCatchUpAndLive},
		{"SubscribeAllStops", testSubscribeAllStops},
		{"UseAfterClose", testUseAfterClose},
		// Optional: skipped, and says so, for a store that is not an
		// eventstore.BatchAppender.
		{"AppendBatch", testAppendBatch},
		{"AppendBatchConflict", testAppendBatchConflict},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.fn(t, newStore(t))
		})
	}
}

// openStore opens a handle and closes it when the test ends.
func openStore(t *testing.T, open func() (eventstore.Store, error)) eventstore.Store {
	t.Helper()
	s, err := open()
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	h := &handle{Store: s}
	t.Cleanup(func() { h.Close() })
	return h
}

// handle makes Close idempotent, so a test may close a store early and the
// cleanup still closes each handle exactly once.
type handle struct {
	eventstore.Store
	once sync.Once
	err  error
}

func (h *handle) Close() error {
	h.once.Do(func() { h.err = h.Store.Close() })
	return h.err
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// newStream names a fresh stream by the product's <category>-<uuid> rule.
func newStream() string { return "conformance-" + uuid.NewString() }

// newEvent makes an event with a time-ordered id and JSON payloads that
// identify it.
func newEvent(label string) eventstore.EventData {
	id := uuid.Must(uuid.NewV7())
	return eventstore.EventData{
		ID:       id,
		Type:     "ConformanceChecked",
		Data:     fmt.Appendf(nil, `{"label":%q,"id":%q}`, label, id),
		Metadata: fmt.Appendf(nil, `{"correlationId":%q}`, id),
	}
}

func newEvents(label string, n int) []eventstore.EventData {
	evs := make([]eventstore.EventData, n)
	for i := range evs {
		evs[i] = newEvent(fmt.Sprintf("%s-%d", label, i))
	}
	return evs
}

func mustAppend(t *testing.T, s eventstore.Store, stream string, exp eventstore.ExpectedRevision, evs ...eventstore.EventData) eventstore.AppendResult {
	t.Helper()
	res, err := s.Append(testCtx(t), stream, exp, evs...)
	if err != nil {
		t.Fatalf("append %d events to %s (expected %s): %v", len(evs), stream, exp, err)
	}
	return res
}

func mustReadStream(t *testing.T, s eventstore.Store, stream string, dir eventstore.Direction, from uint64, max int) []eventstore.RecordedEvent {
	t.Helper()
	evs, err := s.ReadStream(testCtx(t), stream, dir, from, max)
	if err != nil {
		t.Fatalf("read %s (dir %d, from %d, max %d): %v", stream, dir, from, max, err)
	}
	return evs
}

// checkEvent compares a recorded event with what was appended.
func checkEvent(t *testing.T, got eventstore.RecordedEvent, stream string, rev uint64, want eventstore.EventData) {
	t.Helper()
	if got.ID != want.ID || got.Stream != stream || got.Revision != rev || got.Type != want.Type ||
		!bytes.Equal(got.Data, want.Data) || !bytes.Equal(got.Metadata, want.Metadata) {
		t.Fatalf("recorded event = {id %s, stream %s, revision %d, type %s, data %s, metadata %s}\nwant {id %s, stream %s, revision %d, type %s, data %s, metadata %s}",
			got.ID, got.Stream, got.Revision, got.Type, got.Data, got.Metadata,
			want.ID, stream, rev, want.Type, want.Data, want.Metadata)
	}
}

// checkStream reads stream whole and compares it with want.
func checkStream(t *testing.T, s eventstore.Store, stream string, want []eventstore.EventData) []eventstore.RecordedEvent {
	t.Helper()
	got := mustReadStream(t, s, stream, eventstore.Forwards, 0, len(want)+10)
	if len(got) != len(want) {
		t.Fatalf("stream %s has %d events, want %d", stream, len(got), len(want))
	}
	for i := range got {
		checkEvent(t, got[i], stream, uint64(i), want[i])
		if i > 0 && !got[i-1].Position.Less(got[i].Position) {
			t.Fatalf("stream %s: position of revision %d (%s) is not after revision %d's (%s)", stream, i, got[i].Position, i-1, got[i-1].Position)
		}
	}
	return got
}

// wantWrongRevision checks err is a wrong expected revision with the given
// actual state.
func wantWrongRevision(t *testing.T, err error, stream string, exp eventstore.ExpectedRevision, actual uint64, exists bool) {
	t.Helper()
	if !errors.Is(err, eventstore.ErrWrongExpectedRevision) {
		t.Fatalf("append to %s expecting %s: err = %v, want ErrWrongExpectedRevision", stream, exp, err)
	}
	var werr *eventstore.WrongExpectedRevisionError
	if !errors.As(err, &werr) {
		t.Fatalf("append to %s expecting %s: err %v (%T) is not a *WrongExpectedRevisionError", stream, exp, err, err)
	}
	if werr.Stream != stream || werr.Expected != exp || werr.ActualExists != exists || (exists && werr.Actual != actual) {
		t.Fatalf("append to %s expecting %s: error = {stream %s, expected %s, actual %d, exists %v}, want actual %d, exists %v",
			stream, exp, werr.Stream, werr.Expected, werr.Actual, werr.ActualExists, actual, exists)
	}
}

// marker appends one event to a fresh stream and returns its position: every
// event appended after it is after that position in the global log.
func marker(t *testing.T, s eventstore.Store) eventstore.Position {
	t.Helper()
	return mustAppend(t, s, newStream(), eventstore.NoStream(), newEvent("marker")).Position
}

// readOwn pages through the global log after `after` with the given page
// size and returns the events of the given streams, checking that every
// position it sees strictly increases.
func readOwn(t *testing.T, s eventstore.Store, after eventstore.Position, page int, streams map[string]bool) []eventstore.RecordedEvent {
	t.Helper()
	var own []eventstore.RecordedEvent
	pos := after
	for {
		evs, err := s.ReadAll(testCtx(t), pos, page)
		if err != nil {
			t.Fatalf("read all after %s: %v", pos, err)
		}
		if len(evs) > page {
			t.Fatalf("read all after %s, max %d: got %d events", pos, page, len(evs))
		}
		for _, ev := range evs {
			if !pos.Less(ev.Position) {
				t.Fatalf("read all: position %s follows %s", ev.Position, pos)
			}
			pos = ev.Position
			if streams[ev.Stream] {
				own = append(own, ev)
			}
		}
		if len(evs) == 0 {
			return own
		}
	}
}
