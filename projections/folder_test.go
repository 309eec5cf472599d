package projections_test

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/partnercenter/multichannel/eventstore"
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
