package eventstoretest

import (
	"errors"
	"testing"

	"github.com/partnercenter/multichannel/eventstore"
)

// batchAppender returns the store's BatchAppender, or skips the test.
func batchAppender(t *testing.T, s eventstore.Store) eventstore.BatchAppender {
	t.Helper()
	if h, ok := s.(*handle); ok {
		s = h.Store
	}
	ba, ok := s.(eventstore.BatchAppender)
	if !ok {
		t.Skipf("%T is not an eventstore.BatchAppender (optional)", s)
	}
	return ba
}

// A batch appends to several streams, one of them twice, in entry order;
// each entry's expected revision is checked against what the entries
// before it wrote; sending the same batch again is a retry that writes
// nothing and answers the same results.
func testAppendBatch(t *testing.T, open func() (eventstore.Store, error)) {
	s := openStore(t, open)
	ba := batchAppender(t, s)
	if res, err := ba.AppendBatch(testCtx(t), nil); err != nil || len(res) != 0 {
		t.Fatalf("an empty batch: %v, %v; want no results, no error", res, err)
	}
	existing := newStream()
	first := newEvent("existing-0")
	mustAppend(t, s, existing, eventstore.NoStream(), first)
	before := marker(t, s)

	a, b := newStream(), newStream()
	a1, a2, b1, e1 := newEvents("a", 2), newEvents("a-more", 1), newEvents("b", 1), newEvents("existing", 2)
	entries := []eventstore.StreamAppend{
		{Stream: a, Expected: eventstore.NoStream(), Events: a1},
		{Stream: b, Expected: eventstore.Any(), Events: b1},
		{Stream: a, Expected: eventstore.Exact(1), Events: a2},
		{Stream: existing, Expected: eventstore.Exact(0), Events: e1},
	}
	res, err := ba.AppendBatch(testCtx(t), entries)
	if err != nil {
		t.Fatalf("append batch: %v", err)
	}
	wantNext := []uint64{1, 0, 2, 2}
	if len(res) != len(entries) {
		t.Fatalf("append batch: %d results for %d entries", len(res), len(entries))
	}
	for i, r := range res {
		if r.NextRevision != wantNext[i] {
			t.Fatalf("entry %d: next revision %d, want %d", i, r.NextRevision, wantNext[i])
		}
		if i > 0 && !res[i-1].Position.Less(r.Position) {
			t.Fatalf("entry %d lands at %s, not after entry %d's %s", i, r.Position, i-1, res[i-1].Position)
		}
	}
	checkStream(t, s, a, append(append([]eventstore.EventData{}, a1...), a2...))
	checkStream(t, s, b, b1)
	checkStream(t, s, existing, append([]eventstore.EventData{first}, e1...))

	// The log holds the entries' events in entry order.
	own := readOwn(t, s, before, 100, map[string]bool{a: true, b: true, existing: true})
	var want []eventstore.EventData
	for _, e := range entries {
		want = append(want, e.Events...)
	}
	if len(own) != len(want) {
		t.Fatalf("the log has %d of the batch's events, want %d", len(own), len(want))
	}
	for i := range own {
		if own[i].ID != want[i].ID {
			t.Fatalf("log event %d is %s, want %s (entry order)", i, own[i].ID, want[i].ID)
		}
	}
	if last := own[len(own)-1].Position; last != res[len(res)-1].Position {
		t.Fatalf("the last entry answered position %s, the log has %s", res[len(res)-1].Position, last)
	}

	// The same batch again: a retry.
	again, err := ba.AppendBatch(testCtx(t), entries)
	if err != nil {
		t.Fatalf("the same batch again: %v, want a retry's success", err)
	}
	for i := range again {
		if again[i] != res[i] {
			t.Fatalf("retried entry %d: %+v, want the first answer %+v", i, again[i], res[i])
		}
	}
	if n := len(readOwn(t, s, before, 100, map[string]bool{a: true, b: true, existing: true})); n != len(want) {
		t.Fatalf("after the retry the log has %d of the batch's events, want %d", n, len(want))
	}
}

// A wrong expected revision in any entry fails the whole batch with that
// entry's typed conflict, and no entry is written.
func testAppendBatchConflict(t *testing.T, open func() (eventstore.Store, error)) {
	s := openStore(t, open)
	ba := batchAppender(t, s)
	existing := newStream()
	mustAppend(t, s, existing, eventstore.NoStream(), newEvent("existing-0"))
	before := marker(t, s)

	fresh, other := newStream(), newStream()
	entries := []eventstore.StreamAppend{
		{Stream: fresh, Expected: eventstore.NoStream(), Events: newEvents("fresh", 2)},
		{Stream: existing, Expected: eventstore.Exact(0), Events: newEvents("existing", 1)},
		{Stream: existing, Expected: eventstore.Exact(0), Events: newEvents("stale", 1)}, // the entry before moved it to 1
		{Stream: other, Expected: eventstore.NoStream(), Events: newEvents("other", 1)},
	}
	res, err := ba.AppendBatch(testCtx(t), entries)
	if res != nil {
		t.Fatalf("a failed batch answered results %v", res)
	}
	wantWrongRevision(t, err, existing, eventstore.Exact(0), 1, true)
	for _, stream := range []string{fresh, other} {
		if _, err := s.ReadStream(testCtx(t), stream, eventstore.Forwards, 0, 10); !errors.Is(err, eventstore.ErrStreamNotFound) {
			t.Fatalf("stream %s of a failed batch: %v, want ErrStreamNotFound", stream, err)
		}
	}
	if got := mustReadStream(t, s, existing, eventstore.Forwards, 0, 10); len(got) != 1 {
		t.Fatalf("stream %s has %d events after a failed batch, want 1", existing, len(got))
	}
	if own := readOwn(t, s, before, 100, map[string]bool{fresh: true, existing: true, other: true}); len(own) != 0 {
		t.Fatalf("a failed batch left %d events in the log", len(own))
	}
	// Nothing of it stuck: the same streams take the corrected batch.
	entries[2].Expected = eventstore.Exact(1)
	if _, err := ba.AppendBatch(testCtx(t), entries); err != nil {
		t.Fatalf("the corrected batch: %v", err)
	}
}
