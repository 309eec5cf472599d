package esdb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/partnercenter/multichannel/eventstore"
	"github.com/partnercenter/multichannel/eventstore/esdb/esdbtest"
)

// quiet keeps the client's and the adapter's logs out of test output; the
// client's goroutines may still log after a test has ended.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// openOn opens the adapter on the double, with short backoffs. extra is
// appended to the connection string's query.
func openOn(t *testing.T, d *esdbtest.Server, extra string) *Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := Open(ctx, d.URL()+extra, WithLogger(quiet), WithRetry(4, 5*time.Millisecond, 40*time.Millisecond))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func testEvents(n int, typ string) []eventstore.EventData {
	out := make([]eventstore.EventData, n)
	for i := range out {
		out[i] = eventstore.EventData{
			ID:   uuid.Must(uuid.NewV7()),
			Type: typ,
			Data: []byte(fmt.Sprintf(`{"n":%d}`, i)),
			// Odd spacing and key order must survive: a hash chain covers
			// these exact bytes.
			Metadata: []byte(fmt.Sprintf(`{"z":1,  "a":"%d" }`, i)),
		}
	}
	return out
}

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestAppendReadRoundTrip(t *testing.T) {
	d := esdbtest.NewServer(t)
	s := openOn(t, d, "")
	ctx := ctxT(t)
	evs := testEvents(3, "PartnerEnrolled")

	res, err := s.Append(ctx, "partner-1", eventstore.NoStream(), evs...)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	if res.NextRevision != 2 {
		t.Fatalf("NextRevision = %d, want 2", res.NextRevision)
	}

	fwd, err := s.ReadStream(ctx, "partner-1", eventstore.Forwards, 0, 10)
	if err != nil {
		t.Fatalf("ReadStream: %v", err)
	}
	if len(fwd) != 3 {
		t.Fatalf("read %d events, want 3", len(fwd))
	}
	for i, e := range fwd {
		w := evs[i]
		if e.ID != w.ID || e.Type != w.Type || e.Stream != "partner-1" || e.Revision != uint64(i) ||
			!bytes.Equal(e.Data, w.Data) || !bytes.Equal(e.Metadata, w.Metadata) {
			t.Errorf("event %d = %+v, want %+v at revision %d", i, e, w, i)
		}
		if i > 0 && !fwd[i-1].Position.Less(e.Position) {
			t.Errorf("positions not increasing: %v then %v", fwd[i-1].Position, e.Position)
		}
	}
	// Several events in one append: as on a node, each event's commit
	// position is its prepare position, growing through the append, and the
	// answer is the last event's position.
	if res.Position != fwd[2].Position {
		t.Errorf("AppendResult.Position = %v, want the last event's %v", res.Position, fwd[2].Position)
	}
	for _, e := range fwd {
		if e.Position.Commit != e.Position.Prepare {
			t.Errorf("event %d at %v: an appended event's commit position is its prepare position", e.Revision, e.Position)
		}
	}

	back, err := s.ReadStream(ctx, "partner-1", eventstore.Backwards, eventstore.StreamEnd, 2)
	if err != nil {
		t.Fatalf("ReadStream backwards: %v", err)
	}
	if len(back) != 2 || back[0].Revision != 2 || back[1].Revision != 1 {
		t.Fatalf("backwards read = %+v, want revisions 2, 1", back)
	}
	from1, err := s.ReadStream(ctx, "partner-1", eventstore.Forwards, 1, 1)
	if err != nil || len(from1) != 1 || from1[0].Revision != 1 {
		t.Fatalf("forwards from 1, max 1 = %+v, %v", from1, err)
	}

	// A single-event append reports the event's position as the server gives it.
	one := testEvents(1, "PartnerEnrolled")
	res, err = s.Append(ctx, "partner-1", eventstore.Exact(2), one...)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	got, err := s.ReadStream(ctx, "partner-1", eventstore.Backwards, eventstore.StreamEnd, 1)
	if err != nil || len(got) != 1 || got[0].Position != res.Position || res.NextRevision != 3 {
		t.Fatalf("after single append: result %+v, last %+v, %v", res, got, err)
	}
}

func TestReadStreamNotFound(t *testing.T) {
	s := openOn(t, esdbtest.NewServer(t), "")
	_, err := s.ReadStream(ctxT(t), "customer-none", eventstore.Forwards, 0, 10)
	if !errors.Is(err, eventstore.ErrStreamNotFound) {
		t.Fatalf("err = %v, want ErrStreamNotFound", err)
	}
}

func TestExpectedRevisionConflicts(t *testing.T) {
	d := esdbtest.NewServer(t)
	s := openOn(t, d, "")
	ctx := ctxT(t)
	if _, err := s.Append(ctx, "subscription-1", eventstore.NoStream(), testEvents(2, "T")...); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name         string
		stream       string
		expected     eventstore.ExpectedRevision
		actual       uint64
		actualExists bool
	}{
		{"no stream on existing", "subscription-1", eventstore.NoStream(), 1, true},
		{"exact behind", "subscription-1", eventstore.Exact(0), 1, true},
		{"exact ahead", "subscription-1", eventstore.Exact(5), 1, true},
		{"exact on missing", "subscription-2", eventstore.Exact(0), 0, false},
		{"stream exists on missing", "subscription-2", eventstore.StreamExists(), 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := s.Append(ctx, c.stream, c.expected, testEvents(1, "T")...)
			var wer *eventstore.WrongExpectedRevisionError
			if !errors.As(err, &wer) || !errors.Is(err, eventstore.ErrWrongExpectedRevision) {
				t.Fatalf("err = %v, want *WrongExpectedRevisionError", err)
			}
			if wer.Stream != c.stream || wer.Expected != c.expected || wer.Actual != c.actual || wer.ActualExists != c.actualExists {
				t.Fatalf("error = %+v, want actual %d (exists %v)", wer, c.actual, c.actualExists)
			}
		})
	}
	// The matching expectations succeed, each mapped to its own kind.
	for _, exp := range []eventstore.ExpectedRevision{eventstore.Exact(1), eventstore.StreamExists(), eventstore.Any()} {
		if _, err := s.Append(ctx, "subscription-1", exp, testEvents(1, "T")...); err != nil {
			t.Fatalf("append with %v: %v", exp, err)
		}
	}
	if _, err := s.Append(ctx, "subscription-3", eventstore.Any(), testEvents(1, "T")...); err != nil {
		t.Fatalf("append with any to a new stream: %v", err)
	}
	evs, _ := s.ReadStream(ctx, "subscription-1", eventstore.Forwards, 0, 100)
	if len(evs) != 5 {
		t.Fatalf("stream has %d events, want 5", len(evs))
	}
}

func TestParseActualText(t *testing.T) {
	for _, c := range []struct {
		text           string
		actual         uint64
		exists, parsed bool
	}{
		{`wrong expected version: expecting '3' but got '7'`, 7, true, true},
		{`wrong expected version: expecting 'no_stream' but got '0'`, 0, true, true},
		{`wrong expected version: expecting '3' but got 'no_stream'`, 0, false, true},
		{`wrong expected version: expecting '3' but got '-1'`, 0, false, false},
		{`something else`, 0, false, false},
	} {
		a, e, ok := parseActualText(c.text)
		if a != c.actual || e != c.exists || ok != c.parsed {
			t.Errorf("parseActualText(%q) = %d, %v, %v", c.text, a, e, ok)
		}
	}
}

// The client's conflict error is parsed, not replaced by a read: pin that
// the v4 client's real error, through errors.As, carries what the server said.
func TestClientConflictErrorCarriesActualRevision(t *testing.T) {
	d := esdbtest.NewServer(t)
	cfg, err := esdb.ParseConnectionString(d.URL())
	if err != nil {
		t.Fatal(err)
	}
	cfg.Logger = esdb.NoopLogging()
	c, err := esdb.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := ctxT(t)
	ev := esdb.EventData{EventID: uuid.New(), EventType: "T", ContentType: esdb.ContentTypeJson, Data: []byte("{}")}
	_, err = c.AppendToStream(ctx, "partner-x", esdb.AppendToStreamOptions{ExpectedRevision: esdb.Revision(4)}, ev)
	if a, exists, ok := parseActualRevision(err); !ok || exists || a != 0 {
		t.Fatalf("on a missing stream: %d, %v, %v from %v", a, exists, ok, err)
	}
	if _, err := c.AppendToStream(ctx, "partner-x", esdb.AppendToStreamOptions{ExpectedRevision: esdb.NoStream{}}, ev); err != nil {
		t.Fatal(err)
	}
	ev.EventID = uuid.New()
	_, err = c.AppendToStream(ctx, "partner-x", esdb.AppendToStreamOptions{ExpectedRevision: esdb.NoStream{}}, ev)
	if a, exists, ok := parseActualRevision(err); !ok || !exists || a != 0 {
		t.Fatalf("on a stream at 0: %d, %v, %v from %v", a, exists, ok, err)
	}
}

// A retry answers what the first append did, whether the node names the
// retried events' position (current nodes) or not (older ones, where the
// adapter reads the last event back).
func TestIdempotentRetryWithExactRevision(t *testing.T) {
	for _, noPosition := range []bool{false, true} {
		t.Run(fmt.Sprintf("retry answered without a position %v", noPosition), func(t *testing.T) {
			d := esdbtest.NewServer(t)
			d.AnswerRetriesWithoutPosition(noPosition)
			s := openOn(t, d, "")
			ctx := ctxT(t)
			if _, err := s.Append(ctx, "relationship-1", eventstore.NoStream(), testEvents(1, "T")...); err != nil {
				t.Fatal(err)
			}
			evs := testEvents(2, "T")
			first, err := s.Append(ctx, "relationship-1", eventstore.Exact(0), evs...)
			if err != nil {
				t.Fatal(err)
			}
			again, err := s.Append(ctx, "relationship-1", eventstore.Exact(0), evs...)
			if err != nil {
				t.Fatalf("retry: %v", err)
			}
			if again != first {
				t.Fatalf("retry answered %+v, first append %+v", again, first)
			}
			got, _ := s.ReadStream(ctx, "relationship-1", eventstore.Forwards, 0, 100)
			if len(got) != 3 {
				t.Fatalf("stream has %d events after a retry, want 3", len(got))
			}
		})
	}
}

// A node's log also holds events whose commit position is above their
// prepare position and shared (explicit transactions): the adapter keeps
// both halves, so it reads, pages and subscribes through them exactly once.
func TestPositionsKeepBothHalves(t *testing.T) {
	d := esdbtest.NewServer(t)
	s := openOn(t, d, "")
	ctx := ctxT(t)
	before := testEvents(1, "T")
	if _, err := s.Append(ctx, "partner-0", eventstore.NoStream(), before...); err != nil {
		t.Fatal(err)
	}
	txn := testEvents(3, "T")
	var evs []esdbtest.Event
	for _, e := range txn {
		evs = append(evs, esdbtest.Event{ID: e.ID, Type: e.Type, Data: e.Data, Metadata: e.Metadata})
	}
	if err := d.AppendTransaction("partner-t", evs...); err != nil {
		t.Fatal(err)
	}
	after := testEvents(1, "T")
	if _, err := s.Append(ctx, "partner-1", eventstore.NoStream(), after...); err != nil {
		t.Fatal(err)
	}
	want := append(append(append([]eventstore.EventData(nil), before...), txn...), after...)

	got, err := s.ReadStream(ctx, "partner-t", eventstore.Forwards, 0, 10)
	if err != nil || len(got) != 3 {
		t.Fatalf("ReadStream: %d events, %v", len(got), err)
	}
	for i, e := range got {
		if e.Position.Commit <= e.Position.Prepare || e.Position.Commit != got[0].Position.Commit {
			t.Fatalf("event %d at %v: want the transaction's shared commit position above its prepare", i, e.Position)
		}
		if i > 0 && got[i-1].Position.Prepare >= e.Position.Prepare {
			t.Fatalf("prepare positions not growing: %v then %v", got[i-1].Position, e.Position)
		}
	}
	var paged []eventstore.RecordedEvent
	for after := eventstore.Start; ; {
		page, err := s.ReadAll(ctx, after, 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		paged = append(paged, page...)
		after = page[0].Position
	}
	checkExactlyOnce(t, paged, want)

	c := newCollector()
	runSubscriber(t, s, got[0].Position, c) // after the transaction's first event
	checkExactlyOnce(t, c.waitFor(t, 3), want[2:])
}

func TestAppendRetriesLostAcknowledgementOnlyWhenIdempotent(t *testing.T) {
	d := esdbtest.NewServer(t)
	s := openOn(t, d, "")
	ctx := ctxT(t)

	d.LoseAcks(1)
	res, err := s.Append(ctx, "customer-1", eventstore.NoStream(), testEvents(2, "T")...)
	if err != nil {
		t.Fatalf("append with a lost acknowledgement: %v", err)
	}
	if res.NextRevision != 1 {
		t.Fatalf("NextRevision = %d, want 1", res.NextRevision)
	}
	calls, _, _ := d.Counts()
	if calls != 2 {
		t.Fatalf("append calls = %d, want 2 (one retry)", calls)
	}
	got, _ := s.ReadStream(ctx, "customer-1", eventstore.Forwards, 0, 100)
	if len(got) != 2 {
		t.Fatalf("stream has %d events, want 2: the retry must not write twice", len(got))
	}

	// With Any the server does not promise idempotency: no retry, and the
	// caller learns the store was unavailable.
	d.LoseAcks(1)
	_, err = s.Append(ctx, "customer-1", eventstore.Any(), testEvents(1, "T")...)
	if !errors.Is(err, eventstore.ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	if calls2, _, _ := d.Counts(); calls2 != calls+1 {
		t.Fatalf("append calls = %d, want %d (no retry with Any)", calls2, calls+1)
	}
}

func TestReadAllSkipsSystemEventsAndStartsAfter(t *testing.T) {
	d := esdbtest.NewServer(t)
	s := openOn(t, d, "")
	ctx := ctxT(t)
	var want []eventstore.EventData
	for i := range 5 {
		evs := testEvents(i%3+1, "T")
		want = append(want, evs...)
		if _, err := s.Append(ctx, fmt.Sprintf("partner-%d", i), eventstore.NoStream(), evs...); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, n := d.Counts(); n <= len(want) {
		t.Fatalf("the double's log has %d records: it should hold projection links too", n)
	}

	all, err := s.ReadAll(ctx, eventstore.Start, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(want) {
		t.Fatalf("ReadAll returned %d events, want %d", len(all), len(want))
	}
	for i, e := range all {
		if e.ID != want[i].ID || strings.HasPrefix(e.Type, "$") {
			t.Fatalf("event %d = %s %s, want %s", i, e.ID, e.Type, want[i].ID)
		}
	}
	// Exclusive of `after`, in pages of any size.
	for _, max := range []int{1, 2, 3, 100} {
		var got []eventstore.RecordedEvent
		after := eventstore.Start
		for {
			page, err := s.ReadAll(ctx, after, max)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) > max {
				t.Fatalf("page of %d events, max %d", len(page), max)
			}
			if len(page) == 0 {
				break
			}
			got = append(got, page...)
			after = page[len(page)-1].Position
		}
		if len(got) != len(all) {
			t.Fatalf("paging by %d read %d events, want %d", max, len(got), len(all))
		}
		for i := range got {
			if got[i].ID != all[i].ID || got[i].Position != all[i].Position {
				t.Fatalf("paging by %d: event %d differs", max, i)
			}
		}
	}
}

// collector gathers what a subscriber receives.
type collector struct {
	mu   sync.Mutex
	got  []eventstore.RecordedEvent
	wake chan struct{}
}

func newCollector() *collector { return &collector{wake: make(chan struct{}, 1)} }

func (c *collector) fn(e eventstore.RecordedEvent) error {
	c.mu.Lock()
	c.got = append(c.got, e)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return nil
}

func (c *collector) waitFor(t *testing.T, n int) []eventstore.RecordedEvent {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		c.mu.Lock()
		got := append([]eventstore.RecordedEvent(nil), c.got...)
		c.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-c.wake:
		case <-deadline:
			t.Fatalf("received %d events, want %d", len(got), n)
		}
	}
}

// checkExactlyOnce fails unless got is want's ids, in order.
func checkExactlyOnce(t *testing.T, got []eventstore.RecordedEvent, want []eventstore.EventData) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("received %d events, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i].ID != want[i].ID {
			t.Fatalf("event %d is %s, want %s (lost, repeated or out of order)", i, got[i].ID, want[i].ID)
		}
		if i > 0 && !got[i-1].Position.Less(got[i].Position) {
			t.Fatalf("positions not increasing at %d", i)
		}
	}
}

func runSubscriber(t *testing.T, s *Store, after eventstore.Position, c *collector) (cancel func() error) {
	t.Helper()
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.SubscribeAll(ctx, after, c.fn) }()
	var once sync.Once
	var result error
	cancel = func() error {
		once.Do(func() {
			stop()
			select {
			case result = <-done:
			case <-time.After(10 * time.Second):
				result = errors.New("SubscribeAll did not return after cancel")
			}
		})
		return result
	}
	t.Cleanup(func() { cancel() })
	return cancel
}

func TestSubscribeAllResumesAfterDrops(t *testing.T) {
	d := esdbtest.NewServer(t)
	s := openOn(t, d, "")
	ctx := ctxT(t)
	var want []eventstore.EventData
	appendOne := func(i int) {
		t.Helper()
		evs := testEvents(2, "T")
		want = append(want, evs...)
		if _, err := s.Append(ctx, fmt.Sprintf("customer-%d", i), eventstore.NoStream(), evs...); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		appendOne(i)
	}
	// Drops in catch-up (after 3 events, then at once), then live (after 4).
	d.DropSubscriptions(3, 0, 4)
	c := newCollector()
	cancel := runSubscriber(t, s, eventstore.Start, c)
	c.waitFor(t, 3)
	for i := 5; i < 12; i++ {
		appendOne(i)
	}
	checkExactlyOnce(t, c.waitFor(t, len(want)), want)
	if err := cancel(); !errors.Is(err, context.Canceled) {
		t.Fatalf("SubscribeAll returned %v after cancel, want context.Canceled", err)
	}
	if _, subs, _ := d.Counts(); subs < 4 {
		t.Fatalf("%d subscriptions made, want at least 4 (three drops)", subs)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	checkExactlyOnce(t, c.got, want) // nothing more arrived late
}

func TestSubscribeAllStartsAfterPosition(t *testing.T) {
	d := esdbtest.NewServer(t)
	s := openOn(t, d, "")
	ctx := ctxT(t)
	evs := testEvents(4, "T")
	if _, err := s.Append(ctx, "partner-9", eventstore.NoStream(), evs...); err != nil {
		t.Fatal(err)
	}
	all, err := s.ReadAll(ctx, eventstore.Start, 10)
	if err != nil || len(all) != 4 {
		t.Fatalf("ReadAll: %v, %d events", err, len(all))
	}
	c := newCollector()
	runSubscriber(t, s, all[1].Position, c)
	checkExactlyOnce(t, c.waitFor(t, 2), evs[2:])
}

func TestSubscribeAllSurvivesNodeRestart(t *testing.T) {
	d := esdbtest.NewServer(t)
	// One discovery attempt: the client gives up at once while the node is
	// down and marks itself closed, which the adapter must get over.
	s := openOn(t, d, "&maxDiscoverAttempts=1&discoveryInterval=10")
	ctx := ctxT(t)
	var want []eventstore.EventData
	evs := testEvents(3, "T")
	want = append(want, evs...)
	if _, err := s.Append(ctx, "partner-1", eventstore.NoStream(), evs...); err != nil {
		t.Fatal(err)
	}
	c := newCollector()
	cancel := runSubscriber(t, s, eventstore.Start, c)
	c.waitFor(t, 3)

	d.Stop()
	_, err := s.ReadStream(ctx, "partner-1", eventstore.Forwards, 0, 10)
	if !errors.Is(err, eventstore.ErrUnavailable) {
		t.Fatalf("read while the node is down: %v, want ErrUnavailable", err)
	}
	if !strings.Contains(err.Error(), "unavailable") {
		t.Fatalf("error %q does not say the store is unavailable", err)
	}
	time.Sleep(50 * time.Millisecond) // let the subscription fail a few times

	if _, err := s.ReadStream(ctx, "partner-1", eventstore.Forwards, 0, 10); !errors.Is(err, eventstore.ErrUnavailable) {
		t.Fatalf("second read while the node is down: %v, want ErrUnavailable", err)
	}
	d.Restart(t)

	evs = testEvents(3, "T")
	want = append(want, evs...)
	if _, err := s.Append(ctx, "partner-1", eventstore.Exact(2), evs...); err != nil {
		t.Fatalf("append after the node came back: %v", err)
	}
	// The pooled client that gave up while the node was down is replaced
	// without spending the single try an append with Any gets.
	evs = testEvents(1, "T")
	want = append(want, evs...)
	if _, err := s.Append(ctx, "partner-2", eventstore.Any(), evs...); err != nil {
		t.Fatalf("append with Any after the node came back: %v", err)
	}
	checkExactlyOnce(t, c.waitFor(t, len(want)), want)
	if err := cancel(); !errors.Is(err, context.Canceled) {
		t.Fatalf("SubscribeAll returned %v, want context.Canceled", err)
	}
}

func TestSubscribeAllEnds(t *testing.T) {
	d := esdbtest.NewServer(t)
	s := openOn(t, d, "")
	ctx := ctxT(t)
	if _, err := s.Append(ctx, "partner-1", eventstore.NoStream(), testEvents(2, "T")...); err != nil {
		t.Fatal(err)
	}

	t.Run("fn's error is returned as is", func(t *testing.T) {
		stop := errors.New("stop here")
		err := s.SubscribeAll(ctx, eventstore.Start, func(eventstore.RecordedEvent) error { return stop })
		if err != stop {
			t.Fatalf("err = %v, want fn's own error", err)
		}
	})
	t.Run("Close ends it with ErrClosed", func(t *testing.T) {
		s2 := openOn(t, d, "")
		done := make(chan error, 1)
		started := make(chan struct{}, 1)
		go func() {
			done <- s2.SubscribeAll(ctx, eventstore.Start, func(eventstore.RecordedEvent) error {
				select {
				case started <- struct{}{}:
				default:
				}
				return nil
			})
		}()
		<-started
		s2.Close()
		select {
		case err := <-done:
			if !errors.Is(err, eventstore.ErrClosed) {
				t.Fatalf("err = %v, want ErrClosed", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("SubscribeAll did not return after Close")
		}
		if _, err := s2.ReadAll(ctx, eventstore.Start, 1); !errors.Is(err, eventstore.ErrClosed) {
			t.Fatalf("ReadAll after Close: %v, want ErrClosed", err)
		}
	})
}

func TestOpenUnavailable(t *testing.T) {
	d := esdbtest.NewServer(t)
	url := d.URL()
	d.Stop()
	ctx := ctxT(t)
	_, err := Open(ctx, url+"&maxDiscoverAttempts=1", WithLogger(quiet), WithRetry(2, time.Millisecond, time.Millisecond))
	if !errors.Is(err, eventstore.ErrUnavailable) {
		t.Fatalf("Open on a stopped node: %v, want ErrUnavailable", err)
	}
	_, err = Open(ctx, "esdb://user:secret@[bad", WithLogger(quiet))
	if err == nil || strings.Contains(err.Error(), "secret") {
		t.Fatalf("bad connection string: %v (must fail without echoing the password)", err)
	}
}

// A subscription's drop error is a bare gRPC status: classify those too.
func TestTransientStatusCodes(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{status.Error(codes.Unavailable, "gone"), true},
		{fmt.Errorf("wrapped: %w", status.Error(codes.Unavailable, "gone")), true},
		{status.Error(codes.DeadlineExceeded, "slow"), true},
		{status.Error(codes.PermissionDenied, "no"), false},
		{errors.New("plain"), false},
	} {
		if got := transient(c.err); got != c.want {
			t.Errorf("transient(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
