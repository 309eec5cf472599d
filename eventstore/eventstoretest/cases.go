package eventstoretest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/partnercenter/multichannel/eventstore"
)

func testAppendAndReadStream(t *testing.T, open func() (eventstore.Store, error)) {
	s := openStore(t, open)
	stream := newStream()
	first := newEvents("first", 3)
	res := mustAppend(t, s, stream, eventstore.NoStream(), first...)
	if res.NextRevision != 2 {
		t.Fatalf("first append: next revision = %d, want 2", res.NextRevision)
	}
	second := newEvents("second", 2)
	res2 := mustAppend(t, s, stream, eventstore.Exact(2), second...)
	if res2.NextRevision != 4 {
		t.Fatalf("second append: next revision = %d, want 4", res2.NextRevision)
	}
	if !res.Position.Less(res2.Position) {
		t.Fatalf("second append's position %s is not after the first's %s", res2.Position, res.Position)
	}
	got := checkStream(t, s, stream, append(first, second...))
	// An append's result names its last event.
	if got[2].Position != res.Position || got[4].Position != res2.Position {
		t.Fatalf("append results' positions %s, %s; recorded events' %s, %s", res.Position, res2.Position, got[2].Position, got[4].Position)
	}
	// An event without metadata reads back as empty.
	bare := newEvent("bare")
	bare.Metadata = nil
	mustAppend(t, s, stream, eventstore.Exact(4), bare)
	last := mustReadStream(t, s, stream, eventstore.Backwards, eventstore.StreamEnd, 1)
	checkEvent(t, last[0], stream, 5, bare)
}

func testReadStreamDirections(t *testing.T, open func() (eventstore.Store, error)) {
	s := openStore(t, open)
	stream := newStream()
	want := newEvents("dir", 10)
	mustAppend(t, s, stream, eventstore.NoStream(), want[:4]...)
	mustAppend(t, s, stream, eventstore.Exact(3), want[4:7]...)
	mustAppend(t, s, stream, eventstore.StreamExists(), want[7:]...)
	// Another stream's events in between must not show.
	mustAppend(t, s, newStream(), eventstore.Any(), newEvents("other", 2)...)

	check := func(dir eventstore.Direction, from uint64, max int, revs ...uint64) {
		t.Helper()
		got := mustReadStream(t, s, stream, dir, from, max)
		if len(got) != len(revs) {
			t.Fatalf("read dir %d from %d max %d: %d events, want %d", dir, from, max, len(got), len(revs))
		}
		for i, rev := range revs {
			checkEvent(t, got[i], stream, rev, want[rev])
		}
	}
	check(eventstore.Forwards, 0, 100, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9)
	check(eventstore.Forwards, 3, 4, 3, 4, 5, 6)
	check(eventstore.Forwards, 8, 5, 8, 9)
	check(eventstore.Forwards, 0, 1, 0)
	check(eventstore.Backwards, eventstore.StreamEnd, 3, 9, 8, 7)
	check(eventstore.Backwards, eventstore.StreamEnd, 100, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0)
	check(eventstore.Backwards, 5, 10, 5, 4, 3, 2, 1, 0)
	check(eventstore.Backwards, 2, 2, 2, 1)
	check(eventstore.Backwards, 0, 5, 0)
	// Past the end of a stream that exists is empty, not an error.
	check(eventstore.Forwards, 10, 5)
	check(eventstore.Forwards, 1000, 5)
}

func testReadStreamNotFound(t *testing.T, open func() (eventstore.Store, error)) {
	s := openStore(t, open)
	stream := newStream()
	for _, dir := range []eventstore.Direction{eventstore.Forwards, eventstore.Backwards} {
		from := uint64(0)
		if dir == eventstore.Backwards {
			from = eventstore.StreamEnd
		}
		evs, err := s.ReadStream(testCtx(t), stream, dir, from, 10)
		if !errors.Is(err, eventstore.ErrStreamNotFound) {
			t.Fatalf("read missing stream (dir %d): %d events, err = %v, want ErrStreamNotFound", dir, len(evs), err)
		}
	}
	// A failed append does not create the stream.
	_, err := s.Append(testCtx(t), stream, eventstore.Exact(0), newEvent("nope"))
	wantWrongRevision(t, err, stream, eventstore.Exact(0), 0, false)
	if _, err := s.ReadStream(testCtx(t), stream, eventstore.Forwards, 0, 10); !errors.Is(err, eventstore.ErrStreamNotFound) {
		t.Fatalf("read stream after a failed append: err = %v, want ErrStreamNotFound", err)
	}
}

func testExpectedRevision(t *testing.T, open func() (eventstore.Store, error)) {
	s := openStore(t, open)
	ctx := testCtx(t)

	// Against a stream that does not exist.
	missing := newStream()
	for _, exp := range []eventstore.ExpectedRevision{eventstore.StreamExists(), eventstore.Exact(0), eventstore.Exact(5)} {
		_, err := s.Append(ctx, missing, exp, newEvent("fail"))
		wantWrongRevision(t, err, missing, exp, 0, false)
	}
	for _, exp := range []eventstore.ExpectedRevision{eventstore.NoStream(), eventstore.Any()} {
		stream := newStream()
		ev := newEvent("create")
		res := mustAppend(t, s, stream, exp, ev)
		if res.NextRevision != 0 {
			t.Fatalf("create %s with %s: next revision %d, want 0", stream, exp, res.NextRevision)
		}
		checkStream(t, s, stream, []eventstore.EventData{ev})
	}

	// Against a stream whose last revision is 2.
	stream := newStream()
	want := newEvents("exp", 3)
	mustAppend(t, s, stream, eventstore.NoStream(), want...)
	for _, exp := range []eventstore.ExpectedRevision{eventstore.NoStream(), eventstore.Exact(0), eventstore.Exact(1), eventstore.Exact(3), eventstore.Exact(math.MaxInt64)} {
		_, err := s.Append(ctx, stream, exp, newEvent("fail"))
		wantWrongRevision(t, err, stream, exp, 2, true)
	}
	checkStream(t, s, stream, want) // the failures wrote nothing
	for i, exp := range []eventstore.ExpectedRevision{eventstore.Exact(2), eventstore.StreamExists(), eventstore.Any()} {
		ev := newEvent("ok")
		res := mustAppend(t, s, stream, exp, ev)
		if res.NextRevision != uint64(3+i) {
			t.Fatalf("append with %s: next revision %d, want %d", exp, res.NextRevision, 3+i)
		}
		want = append(want, ev)
	}
	checkStream(t, s, stream, want)
}

func testConcurrentExactAppends(t *testing.T, open func() (eventstore.Store, error)) {
	s := openStore(t, open)
	ctx := testCtx(t)
	stream := newStream()
	const writers, winsEach = 50, 2

	type win struct {
		rev uint64
		ev  eventstore.EventData
	}
	var (
		mu   sync.Mutex
		wins []win
		wg   sync.WaitGroup
		fail = make(chan error, writers)
	)
	start := make(chan struct{})
	for w := range writers {
		wg.Go(func() {
			<-start
			exp := eventstore.NoStream()
			for won := 0; won < winsEach; {
				ev := newEvent(fmt.Sprintf("writer-%d", w))
				res, err := s.Append(ctx, stream, exp, ev)
				var werr *eventstore.WrongExpectedRevisionError
				switch {
				case err == nil:
					mu.Lock()
					wins = append(wins, win{res.NextRevision, ev})
					mu.Unlock()
					won++
					exp = eventstore.Exact(res.NextRevision)
				case errors.As(err, &werr) && werr.ActualExists:
					exp = eventstore.Exact(werr.Actual) // lost: try again at the new head
				default:
					fail <- fmt.Errorf("writer %d, append expecting %s: %w", w, exp, err)
					return
				}
			}
		})
	}
	close(start)
	wg.Wait()
	close(fail)
	for err := range fail {
		t.Fatal(err)
	}

	// Each revision was won by exactly one append, and the stream is exactly
	// the winners' events: no gap, no duplicate.
	const total = writers * winsEach
	byRev := make([]eventstore.EventData, total)
	seen := make([]bool, total)
	for _, w := range wins {
		if w.rev >= total || seen[w.rev] {
			t.Fatalf("revision %d won twice or out of range (%d appends won)", w.rev, len(wins))
		}
		seen[w.rev] = true
		byRev[w.rev] = w.ev
	}
	if len(wins) != total {
		t.Fatalf("%d appends won, want %d", len(wins), total)
	}
	checkStream(t, s, stream, byRev)
}

func testIdempotentRetry(t *testing.T, open func() (eventstore.Store, error)) {
	s := openStore(t, open)
	ctx := testCtx(t)
	stream := newStream()

	// The first append, retried with NoStream.
	first := newEvents("first", 2)
	res1 := mustAppend(t, s, stream, eventstore.NoStream(), first...)
	again := mustAppend(t, s, stream, eventstore.NoStream(), first...)
	if again != res1 {
		t.Fatalf("retry of the first append = %+v, want the original %+v", again, res1)
	}
	checkStream(t, s, stream, first)

	// A later append, retried with the same exact revision.
	second := newEvents("second", 3)
	res2 := mustAppend(t, s, stream, eventstore.Exact(1), second...)
	again = mustAppend(t, s, stream, eventstore.Exact(1), second...)
	if again != res2 {
		t.Fatalf("retry of the second append = %+v, want the original %+v", again, res2)
	}
	all := append(append([]eventstore.EventData{}, first...), second...)
	checkStream(t, s, stream, all)

	// A retry of the first append after the stream has moved on is still a
	// retry: the events at revisions 0 and 1 carry its ids.
	again = mustAppend(t, s, stream, eventstore.NoStream(), first...)
	if again != res1 {
		t.Fatalf("late retry of the first append = %+v, want the original %+v", again, res1)
	}

	// Different ids at the same expected revision are a conflict, not a retry,
	// and so is a retry whose ids match only in part.
	_, err := s.Append(ctx, stream, eventstore.Exact(1), newEvents("other", 3)...)
	wantWrongRevision(t, err, stream, eventstore.Exact(1), 4, true)
	partial := append(append([]eventstore.EventData{}, second[:2]...), newEvent("different"))
	_, err = s.Append(ctx, stream, eventstore.Exact(1), partial...)
	wantWrongRevision(t, err, stream, eventstore.Exact(1), 4, true)
	checkStream(t, s, stream, all)
}

func testDurability(t *testing.T, open func() (eventstore.Store, error)) {
	stream := newStream()
	want := newEvents("durable", 5)

	s1 := openStore(t, open)
	mustAppend(t, s1, stream, eventstore.NoStream(), want[:3]...)
	res := mustAppend(t, s1, stream, eventstore.Exact(2), want[3:]...)
	if err := s1.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}

	s2 := openStore(t, open)
	got := checkStream(t, s2, stream, want)
	if got[4].Position != res.Position {
		t.Fatalf("after reopen, last event at %s, the append said %s", got[4].Position, res.Position)
	}
	// The reopened store knows the stream's head.
	_, err := s2.Append(testCtx(t), stream, eventstore.NoStream(), newEvent("late"))
	wantWrongRevision(t, err, stream, eventstore.NoStream(), 4, true)
	more := newEvent("more")
	res2 := mustAppend(t, s2, stream, eventstore.Exact(4), more)
	if !res.Position.Less(res2.Position) {
		t.Fatalf("append after reopen at %s, not after %s", res2.Position, res.Position)
	}
	if err := s2.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	s3 := openStore(t, open)
	checkStream(t, s3, stream, append(want, more))
}

func testReadAll(t *testing.T, open func() (eventstore.Store, error)) {
	s := openStore(t, open)
	before := marker(t, s)

	// Two streams written in turns, so the log interleaves them.
	a, b := newStream(), newStream()
	streams := map[string]bool{a: true, b: true}
	type appended struct {
		stream string
		rev    uint64
		ev     eventstore.EventData
	}
	var log []appended
	next := map[string]uint64{}
	for i := range 6 {
		stream := a
		if i%2 == 1 {
			stream = b
		}
		evs := newEvents(fmt.Sprintf("all-%d", i), 1+i%3)
		exp := eventstore.NoStream()
		if next[stream] > 0 {
			exp = eventstore.Exact(next[stream] - 1)
		}
		mustAppend(t, s, stream, exp, evs...)
		for _, ev := range evs {
			log = append(log, appended{stream, next[stream], ev})
			next[stream]++
		}
	}

	whole := readOwn(t, s, before, 1000, streams)
	if len(whole) != len(log) {
		t.Fatalf("read all found %d of the test's events, want %d", len(whole), len(log))
	}
	for i, w := range log {
		checkEvent(t, whole[i], w.stream, w.rev, w.ev)
	}
	// Paging with any page size gives the same events.
	for _, page := range []int{1, 2, 3, 7} {
		paged := readOwn(t, s, before, page, streams)
		if len(paged) != len(whole) {
			t.Fatalf("paging by %d found %d events, want %d", page, len(paged), len(whole))
		}
		for i := range paged {
			if paged[i].ID != whole[i].ID || paged[i].Position != whole[i].Position {
				t.Fatalf("paging by %d: event %d is %s at %s, want %s at %s", page, i, paged[i].ID, paged[i].Position, whole[i].ID, whole[i].Position)
			}
		}
	}
	// `after` is exclusive: reading after an event's position starts with
	// the next one of ours.
	for i := 0; i+1 < len(whole); i++ {
		got := readOwn(t, s, whole[i].Position, 1000, streams)
		if len(got) != len(whole)-i-1 || got[0].ID != whole[i+1].ID {
			t.Fatalf("read all after event %d's position %s: %d events starting with %s, want %d starting with %s",
				i, whole[i].Position, len(got), got[0].ID, len(whole)-i-1, whole[i+1].ID)
		}
	}
	// Reading after the last event finds none of ours.
	if got := readOwn(t, s, whole[len(whole)-1].Position, 10, streams); len(got) != 0 {
		t.Fatalf("read all after the last event: %d of ours, want 0", len(got))
	}
	// Stream reads and the global log agree on positions.
	for _, ev := range mustReadStream(t, s, a, eventstore.Forwards, 0, 100) {
		found := false
		for _, w := range whole {
			if w.ID == ev.ID {
				found = w.Position == ev.Position
			}
		}
		if !found {
			t.Fatalf("event %s of %s: stream read position %s differs from the global log's", ev.ID, a, ev.Position)
		}
	}
}

func testPositionString(t *testing.T, open func() (eventstore.Store, error)) {
	s := openStore(t, open)
	stream := newStream()
	var positions []eventstore.Position
	for i := range 3 {
		res := mustAppend(t, s, stream, eventstore.Any(), newEvent(fmt.Sprint(i)))
		positions = append(positions, res.Position)
	}
	positions = append(positions, eventstore.Start,
		eventstore.Position{Commit: math.MaxUint64, Prepare: math.MaxUint64},
		eventstore.Position{Commit: 12345, Prepare: 678})
	for _, p := range positions {
		got, err := eventstore.ParsePosition(p.String())
		if err != nil || got != p {
			t.Fatalf("ParsePosition(%q) = %v, %v; want %v", p.String(), got, err, p)
		}
	}
	for _, bad := range []string{"", "12", "x-1", "1-", "-1", "1-2-3", "10000000000000000-0"} {
		if _, err := eventstore.ParsePosition(bad); !errors.Is(err, eventstore.ErrBadPosition) {
			t.Fatalf("ParsePosition(%q): err = %v, want ErrBadPosition", bad, err)
		}
	}
}

func testSubscribeAllCatchUpAndLive(t *testing.T, open func() (eventstore.Store, error)) {
	s := openStore(t, open)
	ctx := testCtx(t)
	before := marker(t, s)

	const writers, appendsEach, perAppend = 8, 10, 2
	streams := make([]string, writers)
	own := map[string]bool{}
	for i := range streams {
		streams[i] = newStream()
		own[streams[i]] = true
	}
	const total = writers * appendsEach * perAppend

	// The writers append half their events, the subscriber starts, and the
	// writers go on: the subscriber crosses from catch-up to live while
	// appends land.
	half := make(chan struct{})
	goOn := make(chan struct{})
	var halfDone sync.WaitGroup
	halfDone.Add(writers)
	var wg sync.WaitGroup
	errs := make(chan error, writers+1)
	for w, stream := range streams {
		wg.Go(func() {
			exp := eventstore.NoStream()
			for i := range appendsEach {
				if i == appendsEach/2 {
					halfDone.Done()
					<-goOn
				}
				res, err := s.Append(ctx, stream, exp, newEvents(fmt.Sprintf("w%d-%d", w, i), perAppend)...)
				if err != nil {
					errs <- fmt.Errorf("writer %d: %w", w, err)
					if i < appendsEach/2 {
						halfDone.Done()
					}
					return
				}
				exp = eventstore.Exact(res.NextRevision)
			}
		})
	}
	go func() { halfDone.Wait(); close(half) }()

	subCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var got []eventstore.RecordedEvent
	seen := map[[16]byte]bool{}
	subDone := make(chan error, 1)
	<-half
	go func() {
		last := before
		subDone <- s.SubscribeAll(subCtx, before, func(ev eventstore.RecordedEvent) error {
			if !last.Less(ev.Position) {
				return fmt.Errorf("subscription delivered position %s after %s", ev.Position, last)
			}
			last = ev.Position
			if !own[ev.Stream] {
				return nil
			}
			if seen[ev.ID] {
				return fmt.Errorf("subscription delivered event %s twice", ev.ID)
			}
			seen[ev.ID] = true
			got = append(got, ev)
			if len(got) == total {
				cancel()
			}
			return nil
		})
	}()
	close(goOn)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	select {
	case err := <-subDone:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("subscription ended with %v after %d of %d events", err, len(got), total)
		}
	case <-time.After(20 * time.Second):
		cancel()
		<-subDone
		t.Fatalf("subscription saw %d of %d events", len(got), total)
	}
	if ctx.Err() != nil {
		t.Fatalf("test context ended: %v", ctx.Err())
	}

	// Every event exactly once (checked above), and in log order: the same
	// sequence the global log reads.
	log := readOwn(t, s, before, 500, own)
	if len(got) != total || len(log) != total {
		t.Fatalf("subscription saw %d events, the log has %d, want %d", len(got), len(log), total)
	}
	nextRev := map[string]uint64{}
	for i := range got {
		if got[i].ID != log[i].ID || got[i].Position != log[i].Position {
			t.Fatalf("subscription event %d is %s at %s, the log has %s at %s", i, got[i].ID, got[i].Position, log[i].ID, log[i].Position)
		}
		if got[i].Revision != nextRev[got[i].Stream] {
			t.Fatalf("subscription: %s revision %d, want %d", got[i].Stream, got[i].Revision, nextRev[got[i].Stream])
		}
		nextRev[got[i].Stream]++
	}
}

func testSubscribeAllStops(t *testing.T, open func() (eventstore.Store, error)) {
	s := openStore(t, open)
	ctx := testCtx(t)
	before := marker(t, s)
	mustAppend(t, s, newStream(), eventstore.NoStream(), newEvent("stop"))

	// The callback's error comes back as is.
	errStop := errors.New("stop here")
	calls := 0
	err := s.SubscribeAll(ctx, before, func(eventstore.RecordedEvent) error {
		calls++
		return errStop
	})
	if err != errStop || calls != 1 {
		t.Fatalf("SubscribeAll = %v after %d calls, want the callback's error after 1", err, calls)
	}

	// Cancelling the context ends a subscription waiting for new events.
	live := mustAppend(t, s, newStream(), eventstore.NoStream(), newEvent("live")).Position
	subCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- s.SubscribeAll(subCtx, live, func(eventstore.RecordedEvent) error { return nil })
	}()
	time.Sleep(50 * time.Millisecond) // let it reach the live wait; the check holds either way
	cancel()
	select {
	case err := <-done:
		if err != context.Canceled {
			t.Fatalf("cancelled SubscribeAll = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("SubscribeAll did not return after its context was cancelled")
	}

	// A context that is already done ends it at once.
	doneCtx, cancelNow := context.WithCancel(ctx)
	cancelNow()
	if err := s.SubscribeAll(doneCtx, before, func(eventstore.RecordedEvent) error { return nil }); err != context.Canceled {
		t.Fatalf("SubscribeAll with a cancelled context = %v, want context.Canceled", err)
	}
}

func testUseAfterClose(t *testing.T, open func() (eventstore.Store, error)) {
	s := openStore(t, open)
	stream := newStream()
	mustAppend(t, s, stream, eventstore.NoStream(), newEvent("before close"))
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	ctx := testCtx(t)
	if _, err := s.Append(ctx, stream, eventstore.Any(), newEvent("after close")); !errors.Is(err, eventstore.ErrClosed) {
		t.Fatalf("append after close: err = %v, want ErrClosed", err)
	}
	if _, err := s.ReadStream(ctx, stream, eventstore.Forwards, 0, 10); !errors.Is(err, eventstore.ErrClosed) {
		t.Fatalf("read stream after close: err = %v, want ErrClosed", err)
	}
	if _, err := s.ReadAll(ctx, eventstore.Start, 10); !errors.Is(err, eventstore.ErrClosed) {
		t.Fatalf("read all after close: err = %v, want ErrClosed", err)
	}
}
