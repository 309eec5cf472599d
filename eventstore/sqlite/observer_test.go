package sqlite

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/partnercenter/multichannel/eventstore"
)

type recorder struct {
	mu    sync.Mutex
	stats []CommitStats
}

func (r *recorder) ObserveCommit(c CommitStats) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stats = append(r.stats, c)
}

func (r *recorder) all() []CommitStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]CommitStats(nil), r.stats...)
}

// The observer sees each group commit once: how many appends it answered,
// how many events it wrote, how long it took, and a batch's failure.
func TestObserverSeesEachCommit(t *testing.T) {
	rec := &recorder{}
	s, err := Open(filepath.Join(t.TempDir(), "events.db"), WithObserver(rec))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	// Through the store: one append of two events is one commit.
	two := []eventstore.EventData{
		{ID: uuid.Must(uuid.NewV7()), Type: "A", Data: []byte(`{}`)},
		{ID: uuid.Must(uuid.NewV7()), Type: "B", Data: []byte(`{}`)},
	}
	if _, err := s.Append(context.Background(), "obs-1", eventstore.NoStream(), two...); err != nil {
		t.Fatal(err)
	}
	got := rec.all()
	if len(got) != 1 || got[0].Appends != 1 || got[0].Events != 2 || got[0].Err != nil || got[0].Duration <= 0 {
		t.Fatalf("after one append: %+v", got)
	}

	// A batch driven directly (its makeup is not left to timing): three
	// appends, one of them refused by its expected revision, write two
	// events in one commit.
	w, release := heldWriter(s)
	defer release()
	batch := []*appendRequest{
		request("obs-2", eventstore.NoStream(), "A"),
		request("obs-1", eventstore.Exact(1), "C"),
		request("obs-1", eventstore.NoStream(), "D"), // wrong expected revision
	}
	w.commit(batch)
	got = rec.all()
	if len(got) != 2 || got[1].Appends != 3 || got[1].Events != 2 || got[1].Err != nil {
		t.Fatalf("after a batch of three: %+v", got)
	}

	// A failed batch is reported with its error.
	if _, err := w.conn.ExecContext(context.Background(), `CREATE TRIGGER poison BEFORE INSERT ON events WHEN NEW.type = 'Poison' BEGIN SELECT RAISE(ABORT, 'poisoned'); END`); err != nil {
		t.Fatal(err)
	}
	w.commit([]*appendRequest{request("obs-3", eventstore.Any(), "Poison")})
	got = rec.all()
	if len(got) != 3 || got[2].Err == nil || errors.Is(got[2].Err, eventstore.ErrWrongExpectedRevision) {
		t.Fatalf("after a failed batch: %+v", got)
	}
}
