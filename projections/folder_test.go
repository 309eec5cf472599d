package projections_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/partnercenter/multichannel/eventstore"
	"github.com/partnercenter/multichannel/eventstore/eventstoretest"
	"github.com/partnercenter/multichannel/eventstore/sqlite"
	"github.com/partnercenter/multichannel/internal/audit"
	"github.com/partnercenter/multichannel/projections"
)

// TestFolderFoldsAsApply: a Folder, fed batches of any size (alone, so
// folded on the caller's goroutine, or many in flight on the workers),
// builds the model Apply builds one event at a time.
func TestFolderFoldsAsApply(t *testing.T) {
	st := newLogStore(t)
	if _, err := audit.Generate(t.Context(), st.Store, 3000, audit.GenerateOptions{Seed: 5}); err != nil {
		t.Fatal(err)
	}
	st.reload(t)
	one := projections.New(nil)
	for _, e := range st.all {
		if err := one.Apply(e); err != nil {
			t.Fatal(err)
		}
	}
	_, want := one.Digest()
	rng := rand.New(rand.NewPCG(1, 2))
	for _, maxBatch := range []int{1, 5, 300, 2000} {
		m := projections.New(nil)
		f := m.NewFolder()
		for rest := st.all; len(rest) > 0; {
			n := min(len(rest), 1+rng.IntN(maxBatch))
			if err := f.Fold(append([]eventstore.RecordedEvent(nil), rest[:n]...)); err != nil {
				t.Fatal(err)
			}
			rest = rest[n:]
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		if f.Applied() != int64(len(st.all)) {
			t.Fatalf("batches up to %d: applied %d of %d", maxBatch, f.Applied(), len(st.all))
		}
		if _, got := m.Digest(); got != want {
			t.Fatalf("batches up to %d: digest %s, Apply's %s", maxBatch, got, want)
		}
		// A redelivery changes nothing.
		f = m.NewFolder()
		if err := f.Fold(append([]eventstore.RecordedEvent(nil), st.all[len(st.all)/2:]...)); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		if _, got := m.Digest(); got != want {
			t.Fatal("a redelivered half of the log changed the model")
		}
	}
}

// TestFolderStopsAtTheFirstFailure: an event out of its stream's order
// stops the fold there: the events before it are applied, none after, and
// Fold or Close return the error.
func TestFolderStopsAtTheFirstFailure(t *testing.T) {
	st := newLogStore(t)
	if _, err := audit.Generate(t.Context(), st.Store, 3000, audit.GenerateOptions{Seed: 5}); err != nil {
		t.Fatal(err)
	}
	st.reload(t)
	events := append([]eventstore.RecordedEvent(nil), st.all...)
	bad := 2000
	for events[bad].Revision == 0 {
		bad++
	}
	events[bad].Revision += 5
	m := projections.New(nil)
	f := m.NewFolder()
	var err error
	for i := 0; i < len(events) && err == nil; i += 100 {
		err = f.Fold(events[i:min(i+100, len(events))])
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if !errors.Is(err, projections.ErrOutOfOrder) {
		t.Fatalf("err = %v, want ErrOutOfOrder", err)
	}
	if m.Position() != events[bad-1].Position || f.Applied() != int64(bad) {
		t.Fatalf("stopped at %s after %d events, want %s after %d", m.Position(), f.Applied(), events[bad-1].Position, bad)
	}
}

// spitefulPages is the embedded store, read through ReadAllInto by a
// reader that fills the memory handed back with garbage before it reads
// the next page into it: whatever the fold kept of a page it gave back
// would change under it.
type spitefulPages struct {
	*logStore
	reused atomic.Int64 // pages read into memory handed back
}

func (s *spitefulPages) ReadAllInto(ctx context.Context, after eventstore.Position, max int, p *eventstore.Page) error {
	evs, err := s.ReadAll(ctx, after, max)
	if err != nil {
		return err
	}
	if cap(p.Bytes) > 0 {
		s.reused.Add(1)
	}
	eventstoretest.SpitefulPage(p, evs)
	return nil
}

// TestRunFoldsPagesItGivesBack: Run on a store that reads the catch-up
// pages into memory handed back builds the model Apply builds, although
// the store scribbles over each page it gets back: nothing the fold keeps
// points into a page's bytes, and no page comes back before its events
// are applied.
func TestRunFoldsPagesItGivesBack(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.db")
	w, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	st := &logStore{Store: w}
	n := 24 * projections.CatchUpPage
	if _, err := audit.Generate(t.Context(), st.Store, int64(n), audit.GenerateOptions{Seed: 7}); err != nil {
		t.Fatal(err)
	}
	st.reload(t)
	w.Close()
	one := projections.New(nil)
	for _, e := range st.all {
		if err := one.Apply(e); err != nil {
			t.Fatal(err)
		}
	}
	_, want := one.Digest()
	// Reopened, the store has no recent commits to answer the reads from.
	ro, err := sqlite.OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	store := &spitefulPages{logStore: &logStore{Store: ro}}
	m := projections.New(nil)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	waiting, stopWaiting := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- projections.Run(ctx, store, m)
		stopWaiting() // a fold that failed never gets there
	}()
	werr := m.WaitFor(waiting, st.all[len(st.all)-1].Position)
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v", err)
	}
	if werr != nil {
		t.Fatal(werr)
	}
	if store.reused.Load() == 0 {
		t.Fatal("no page was read into memory handed back")
	}
	if _, got := m.Digest(); got != want {
		t.Fatalf("digest %s, Apply's %s", got, want)
	}
}
