package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/google/uuid"
	"github.com/partnercenter/multichannel/eventstore"
	"github.com/partnercenter/multichannel/eventstore/eventstoretest"
	"github.com/partnercenter/multichannel/eventstore/sqlite"
)

func TestConformance(t *testing.T) {
	eventstoretest.Run(t, func(t *testing.T) func() (eventstore.Store, error) {
		path := filepath.Join(t.TempDir(), "nested", "dir", "events.db")
		return func() (eventstore.Store, error) { return sqlite.Open(path) }
	})
}

func openTemp(t *testing.T) (*sqlite.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "events.db")
	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func event(label string) eventstore.EventData {
	return eventstore.EventData{
		ID:       uuid.Must(uuid.NewV7()),
		Type:     "Tested",
		Data:     fmt.Appendf(nil, `{"label":%q}`, label),
		Metadata: []byte(`{}`),
	}
}

// lockHelperEnv makes the test binary, re-run as a child process, try to
// open the file named by it for writing and report the outcome on stdout.
const lockHelperEnv = "SQLITE_STORE_LOCK_HELPER_PATH"

func TestMain(m *testing.M) {
	if path := os.Getenv(crashHelperEnv); path != "" {
		appendUntilKilled(path)
	}
	if path := os.Getenv(lockHelperEnv); path != "" {
		s, err := sqlite.Open(path)
		switch {
		case errors.Is(err, eventstore.ErrLocked):
			fmt.Println("LOCKED:", err)
		case err != nil:
			fmt.Println("ERROR:", err)
		default:
			s.Close()
			fmt.Println("OPENED")
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func openInChild(t *testing.T, path string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), lockHelperEnv+"="+path)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child process: %v\n%s", err, out)
	}
	return strings.TrimSpace(string(out))
}

func TestSecondProcessCannotWrite(t *testing.T) {
	s, path := openTemp(t)
	if _, err := s.Append(t.Context(), "lock-"+uuid.NewString(), eventstore.NoStream(), event("held")); err != nil {
		t.Fatal(err)
	}
	out := openInChild(t, path)
	if !strings.HasPrefix(out, "LOCKED:") || !strings.Contains(out, "another writer") {
		t.Fatalf("second process opening a held store: %q, want a clear ErrLocked", out)
	}
	// Once the writer closes, another process may write.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if out := openInChild(t, path); out != "OPENED" {
		t.Fatalf("second process opening a released store: %q, want OPENED", out)
	}
}

func TestSecondOpenInProcessIsLocked(t *testing.T) {
	_, path := openTemp(t)
	s2, err := sqlite.Open(path)
	if err == nil {
		s2.Close()
		t.Fatal("second Open of a held store succeeded")
	}
	if !errors.Is(err, eventstore.ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
}

func TestReadOnlyWhileWriting(t *testing.T) {
	s, path := openTemp(t)
	ctx := t.Context()
	stream := "readonly-" + uuid.NewString()
	first := event("first")
	if _, err := s.Append(ctx, stream, eventstore.NoStream(), first); err != nil {
		t.Fatal(err)
	}

	ro, err := sqlite.OpenReadOnly(path, sqlite.WithPollInterval(10*time.Millisecond))
	if err != nil {
		t.Fatalf("open read-only while a writer holds the file: %v", err)
	}
	defer ro.Close()
	got, err := ro.ReadStream(ctx, stream, eventstore.Forwards, 0, 10)
	if err != nil || len(got) != 1 || got[0].ID != first.ID {
		t.Fatalf("read-only read: %v, %v", got, err)
	}
	if _, err := ro.Append(ctx, stream, eventstore.Any(), event("no")); !errors.Is(err, sqlite.ErrReadOnly) {
		t.Fatalf("append on a read-only store: %v, want ErrReadOnly", err)
	}

	// The reader sees later commits, through reads and a polling subscription.
	second := event("second")
	if _, err := s.Append(ctx, stream, eventstore.Exact(0), second); err != nil {
		t.Fatal(err)
	}
	all, err := ro.ReadAll(ctx, eventstore.Start, 10)
	if err != nil || len(all) != 2 || all[1].ID != second.ID {
		t.Fatalf("read-only read all: %v, %v", all, err)
	}
	third := event("third")
	var seen []uuid.UUID
	errDone := errors.New("done")
	go func() {
		time.Sleep(30 * time.Millisecond)
		s.Append(ctx, stream, eventstore.Exact(1), third)
	}()
	subCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err = ro.SubscribeAll(subCtx, all[1].Position, func(ev eventstore.RecordedEvent) error {
		seen = append(seen, ev.ID)
		return errDone
	})
	if err != errDone || len(seen) != 1 || seen[0] != third.ID {
		t.Fatalf("read-only subscription: %v, saw %v, want %s", err, seen, third.ID)
	}
}

func TestOpenReadOnlyMissingFile(t *testing.T) {
	_, err := sqlite.OpenReadOnly(filepath.Join(t.TempDir(), "none.db"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("OpenReadOnly of a missing file: %v, want ErrNotExist", err)
	}
}

func TestIdempotentRetryWithAny(t *testing.T) {
	s, _ := openTemp(t)
	ctx := t.Context()
	stream := "any-" + uuid.NewString()
	evs := []eventstore.EventData{event("a"), event("b")}
	res, err := s.Append(ctx, stream, eventstore.Any(), evs...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, stream, eventstore.Any(), event("c")); err != nil {
		t.Fatal(err)
	}
	again, err := s.Append(ctx, stream, eventstore.Any(), evs...)
	if err != nil || again != res {
		t.Fatalf("retry with Any = %+v, %v; want %+v", again, err, res)
	}
	got, err := s.ReadStream(ctx, stream, eventstore.Forwards, 0, 10)
	if err != nil || len(got) != 3 {
		t.Fatalf("stream after retry: %d events, %v; want 3", len(got), err)
	}
}

// A batch mixes appends that fail their expected revision with ones that
// succeed: the failures do not fail the others. The streams that exist were
// written before a reopen, so their heads are not cached and NoStream finds
// them through the unique index.
func TestBatchIsolatesWrongRevision(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.db")
	ctx := t.Context()
	const n = 300
	streams := make([]string, n)
	for i := range streams {
		streams[i] = fmt.Sprintf("batch-%s", uuid.NewString())
	}
	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := 2; i < n; i += 3 {
		if _, err := s.Append(ctx, streams[i], eventstore.NoStream(), event("existing")); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	s, err = sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			switch i % 3 {
			case 0: // creates a stream
				_, errs[i] = s.Append(ctx, streams[i], eventstore.NoStream(), event("new"), event("new"))
			case 1: // the stream does not exist
				_, errs[i] = s.Append(ctx, streams[i], eventstore.Exact(3), event("x"))
			case 2: // the stream exists
				_, errs[i] = s.Append(ctx, streams[i], eventstore.NoStream(), event("x"))
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if i%3 == 0 && err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		if i%3 != 0 && !errors.Is(err, eventstore.ErrWrongExpectedRevision) {
			t.Fatalf("append %d: %v, want ErrWrongExpectedRevision", i, err)
		}
		var werr *eventstore.WrongExpectedRevisionError
		if i%3 == 2 && (!errors.As(err, &werr) || !werr.ActualExists || werr.Actual != 0) {
			t.Fatalf("append %d to an existing stream: %v, want actual revision 0", i, err)
		}
	}
	all, err := s.ReadAll(ctx, eventstore.Start, 1000)
	if err != nil || len(all) != n/3+2*n/3 {
		t.Fatalf("log has %d events (%v), want %d", len(all), err, n/3+2*n/3)
	}
}

// A retry after a restart (no cached heads) is still recognised.
func TestRetryAfterReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.db")
	ctx := t.Context()
	stream := "retry-" + uuid.NewString()
	evs := []eventstore.EventData{event("a"), event("b")}
	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Append(ctx, stream, eventstore.NoStream(), evs...)
	if err != nil {
		t.Fatal(err)
	}
	more := event("c")
	res2, err := s.Append(ctx, stream, eventstore.Exact(1), more)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if again, err := s.Append(ctx, stream, eventstore.NoStream(), evs...); err != nil || again != res {
		t.Fatalf("NoStream retry after reopen = %+v, %v; want %+v", again, err, res)
	}
	if again, err := s.Append(ctx, stream, eventstore.Exact(1), more); err != nil || again != res2 {
		t.Fatalf("Exact retry after reopen = %+v, %v; want %+v", again, err, res2)
	}
	got, err := s.ReadStream(ctx, stream, eventstore.Forwards, 0, 10)
	if err != nil || len(got) != 3 {
		t.Fatalf("stream after retries: %d events, %v; want 3", len(got), err)
	}
}

// Close commits what is queued: every append that returned success is in
// the file when it is opened again.
func TestCloseKeepsAcknowledgedAppends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.db")
	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	var wg sync.WaitGroup
	var mu sync.Mutex
	acked := map[uuid.UUID]bool{}
	for range 32 {
		wg.Go(func() {
			for {
				ev := event("c")
				_, err := s.Append(ctx, "close-"+uuid.NewString(), eventstore.NoStream(), ev)
				if errors.Is(err, eventstore.ErrClosed) {
					return
				}
				if err != nil {
					t.Errorf("append: %v", err)
					return
				}
				mu.Lock()
				acked[ev.ID] = true
				mu.Unlock()
			}
		})
	}
	time.Sleep(100 * time.Millisecond)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	s2, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	all, err := s2.ReadAll(ctx, eventstore.Start, 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, ev := range all {
		if acked[ev.ID] {
			found++
		}
	}
	if found != len(acked) || len(acked) == 0 {
		t.Fatalf("%d acknowledged appends, %d of them in the reopened file (log has %d)", len(acked), found, len(all))
	}
}

// An append whose context is already done writes nothing.
func TestAppendCancelled(t *testing.T) {
	s, _ := openTemp(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	stream := "cancel-" + uuid.NewString()
	if _, err := s.Append(ctx, stream, eventstore.NoStream(), event("x")); !errors.Is(err, context.Canceled) {
		t.Fatalf("append with a cancelled context: %v", err)
	}
	if _, err := s.ReadStream(t.Context(), stream, eventstore.Forwards, 0, 1); !errors.Is(err, eventstore.ErrStreamNotFound) {
		t.Fatalf("read: %v, want ErrStreamNotFound", err)
	}
}

func TestSchemaVersion(t *testing.T) {
	_, path := openTemp(t)
	ro, err := sqlite.OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	ro.Close()
}

// TestReadPageKeepsEveryEventsBytes: every event of a page read at once,
// from the log and from a stream, keeps its own bytes once the rows behind
// it are gone, and an append to one event's bytes reaches no other. The
// stream scanner hands out the driver's blobs as they are (no copy), which
// holds only while the driver makes a new slice for every blob of every
// row; a read of the log copies each row out of SQLite's memory, the data
// and the metadata into one array (logread.go), whichever of them is
// empty. The log is read once more from a store opened afresh, whose reads
// no recent commits can answer.
func TestReadPageKeepsEveryEventsBytes(t *testing.T) {
	s, path := openTemp(t)
	ctx := t.Context()
	const n = 1500
	want := make([]eventstore.EventData, n)
	for i := range want {
		want[i] = eventstore.EventData{
			ID:       uuid.Must(uuid.NewV7()),
			Type:     "Tested",
			Data:     fmt.Appendf(nil, `{"i":%d,"pad":%q}`, i, strings.Repeat("x", i%97)),
			Metadata: fmt.Appendf(nil, `{"m":%d}`, i),
		}
	}
	want[n/2].Data, want[n/2].Metadata = []byte{}, []byte{}
	want[n/3].Metadata = []byte{}
	want[n/4].Data = []byte{}
	for i := 0; i < n; i += 100 {
		if _, err := s.Append(ctx, "bytes", eventstore.Any(), want[i:i+100]...); err != nil {
			t.Fatal(err)
		}
	}
	check := func(what string, got []eventstore.RecordedEvent) {
		t.Helper()
		if len(got) != n {
			t.Fatalf("%s: %d events, want %d", what, len(got), n)
		}
		for i := range got {
			got[i].Data = append(got[i].Data, '!') // must not reach event i+1
		}
		for i, ev := range got {
			if d := ev.Data[:len(ev.Data)-1]; string(d) != string(want[i].Data) || string(ev.Metadata) != string(want[i].Metadata) {
				t.Fatalf("%s: event %d holds %q %q, want %q %q", what, i, d, ev.Metadata, want[i].Data, want[i].Metadata)
			}
			if ev.Metadata == nil {
				t.Fatalf("%s: event %d: nil metadata", what, i)
			}
		}
	}
	all, err := s.ReadAll(ctx, eventstore.Start, n)
	if err != nil {
		t.Fatal(err)
	}
	check("ReadAll", all)
	stream, err := s.ReadStream(ctx, "bytes", eventstore.Forwards, 0, n)
	if err != nil {
		t.Fatal(err)
	}
	check("ReadStream", stream)
	ro, err := sqlite.OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if all, err = ro.ReadAll(ctx, eventstore.Start, n); err != nil {
		t.Fatal(err)
	}
	check("ReadAll of a store opened afresh", all)
}

// TestReadAllIntoReusesItsPage: reading the log page by page into one
// Page gives every event ReadAll gives, bytes and all, whichever of data
// and metadata is empty; the second page is read into the memory of the
// first, which is what spares a verification the allocations; and a
// page's events keep their bytes until the next read.
func TestReadAllIntoReusesItsPage(t *testing.T) {
	s, path := openTemp(t)
	ctx := t.Context()
	const n, page = 900, 200
	for i := 0; i < n; i += 100 {
		evs := make([]eventstore.EventData, 100)
		for j := range evs {
			k := i + j
			evs[j] = eventstore.EventData{
				ID: uuid.Must(uuid.NewV7()), Type: "Tested",
				Data:     fmt.Appendf(nil, `{"k":%d,"pad":%q}`, k, strings.Repeat("y", k%53)),
				Metadata: fmt.Appendf(nil, `{"m":%d}`, k),
			}
			switch k % 7 {
			case 1:
				evs[j].Data = []byte{}
			case 2:
				evs[j].Metadata = []byte{}
			case 3:
				evs[j].Data, evs[j].Metadata = []byte{}, []byte{}
			}
		}
		if _, err := s.Append(ctx, fmt.Sprintf("stream-%d", i%300), eventstore.Any(), evs...); err != nil {
			t.Fatal(err)
		}
	}
	want, err := s.ReadAll(ctx, eventstore.Start, n)
	if err != nil || len(want) != n {
		t.Fatalf("ReadAll: %d events, %v", len(want), err)
	}
	ro, err := sqlite.OpenReadOnly(path) // no recent commits to answer from
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	for _, st := range []*sqlite.Store{ro, s} {
		var p eventstore.Page
		var arrays []*byte
		pos, got := eventstore.Start, 0
		for {
			if err := st.ReadAllInto(ctx, pos, page, &p); err != nil {
				t.Fatal(err)
			}
			if len(p.Events) == 0 {
				break
			}
			for i, ev := range p.Events {
				w := want[got+i]
				if ev.ID != w.ID || ev.Stream != w.Stream || ev.Revision != w.Revision || ev.Position != w.Position ||
					ev.Type != w.Type || string(ev.Data) != string(w.Data) || string(ev.Metadata) != string(w.Metadata) {
					t.Fatalf("event %d: %+v, want %+v", got+i, ev, w)
				}
				if ev.Data == nil || ev.Metadata == nil {
					t.Fatalf("event %d: nil data or metadata", got+i)
				}
			}
			if cap(p.Bytes) > 0 {
				arrays = append(arrays, unsafe.SliceData(p.Bytes))
			}
			got += len(p.Events)
			pos = p.Events[len(p.Events)-1].Position
		}
		if got != n {
			t.Fatalf("%d events read, want %d", got, n)
		}
		if st == ro && (len(arrays) < 3 || arrays[len(arrays)-1] != arrays[len(arrays)-2]) {
			t.Fatalf("the pages were not read into the memory of the ones before")
		}
	}
}

// TestReadAtFindsEventsByPosition: ReadAt returns the event at each
// position asked, in the order asked (repeats and all), as ReadAll read
// them; a position that holds no event, or one this store never issues,
// is ErrEventNotFound.
func TestReadAtFindsEventsByPosition(t *testing.T) {
	s, _ := openTemp(t)
	ctx := t.Context()
	for i := range 30 {
		if _, err := s.Append(ctx, fmt.Sprintf("stream-%d", i%4), eventstore.Any(), event(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	all, err := s.ReadAll(ctx, eventstore.Start, 100)
	if err != nil || len(all) != 30 {
		t.Fatalf("ReadAll: %d, %v", len(all), err)
	}
	order := []int{29, 0, 7, 7, 13, 1}
	var positions []eventstore.Position
	for _, i := range order {
		positions = append(positions, all[i].Position)
	}
	got, err := s.ReadAt(ctx, positions)
	if err != nil {
		t.Fatal(err)
	}
	for k, i := range order {
		w := all[i]
		if g := got[k]; g.ID != w.ID || g.Stream != w.Stream || g.Revision != w.Revision || g.Position != w.Position ||
			g.Type != w.Type || string(g.Data) != string(w.Data) || string(g.Metadata) != string(w.Metadata) {
			t.Fatalf("position %s: %+v, want %+v", w.Position, g, w)
		}
	}
	if one, err := s.ReadAt(ctx, positions[:1]); err != nil || one[0].ID != all[29].ID {
		t.Fatalf("one position: %v", err)
	}
	for _, bad := range []eventstore.Position{{Commit: 31, Prepare: 31}, {Commit: 5, Prepare: 4}, {}} {
		if _, err := s.ReadAt(ctx, []eventstore.Position{all[0].Position, bad}); !errors.Is(err, eventstore.ErrEventNotFound) {
			t.Fatalf("ReadAt %s: %v, want ErrEventNotFound", bad, err)
		}
	}
}
