package sqlite

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/uuid"
	"github.com/partnercenter/multichannel/eventstore"
)

// A commit must not run a checkpoint before it returns: the write
// connection leaves checkpoints to the checkpointer.
func TestCommitRunsNoCheckpoint(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	pages, err := WriterPragma(s, "wal_autocheckpoint")
	if err != nil {
		t.Fatal(err)
	}
	if pages != 0 {
		t.Fatalf("the write connection checkpoints every %d pages of WAL on commit, want 0 (the checkpointer does it)", pages)
	}
}

func appendLone(t *testing.T, s *Store, n int) {
	t.Helper()
	for i := range n {
		ev := eventstore.EventData{ID: uuid.Must(uuid.NewV7()), Type: "Tested", Data: fmt.Appendf(nil, `{"i":%d}`, i), Metadata: []byte(`{}`)}
		if _, err := s.Append(context.Background(), "ckpt-"+uuid.NewString(), eventstore.NoStream(), ev); err != nil {
			t.Fatal(err)
		}
	}
}

func checkpoints(s *Store) (ran, tails, restarts int, complete bool) {
	s.ckpt.mu.Lock()
	defer s.ckpt.mu.Unlock()
	return s.ckpt.ran, s.ckpt.tails, s.ckpt.restarts, s.ckpt.complete
}

// settle lets the background checkpoint finish, then appends once, so
// that the writer runs its part after it.
func settle(t *testing.T, s *Store) {
	t.Helper()
	s.ckpt.wait()
	appendLone(t, s, 1)
	s.ckpt.wait()
}

// The checkpoints copy the WAL whole now and then while one appender
// writes without a pause, so the WAL starts over instead of growing: it
// stays the size of a few checkpoints' events.
func TestCheckpointerKeepsTheWALShort(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.db")
	s, err := Open(path, WithCheckpointEvents(50))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const n = 1500
	appendLone(t, s, n)
	settle(t, s)
	ran, tails, restarts, complete := checkpoints(s)
	if ran == 0 || tails == 0 || !complete || restarts != 0 {
		t.Fatalf("after %d events: %d checkpoints, %d by the writer (%d RESTART), last complete %t; want some, some, none, true", n, ran, tails, restarts, complete)
	}
	fi, err := os.Stat(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	// Each lone append writes at least one 4 KiB page to the WAL: one that
	// never started over would hold n pages or more.
	if fi.Size() > n*4096/4 {
		t.Fatalf("the WAL is %d bytes after %d lone appends: it did not start over", fi.Size(), n)
	}
}

// A reader that holds an old snapshot keeps a checkpoint from copying the
// frames after it; once walRestartEvents events are behind, the writer
// runs RESTART checkpoints, which give up while the reader stays, and one
// completes once it has gone.
func TestCheckpointerRestartsAWALAReaderHeld(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "events.db"), WithCheckpointEvents(10), WithWALRestartEvents(30))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	appendLone(t, s, 5)
	tx, err := s.rdb.Begin()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := tx.QueryRow("SELECT count(*) FROM events").Scan(&n); err != nil {
		t.Fatal(err)
	}
	appendLone(t, s, 60)
	settle(t, s)
	if _, _, restarts, complete := checkpoints(s); complete || restarts == 0 {
		t.Fatalf("with a reader on an old snapshot: last checkpoint complete %t after %d RESTART; want incomplete after some", complete, restarts)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	appendLone(t, s, 10)
	settle(t, s)
	if _, _, _, complete := checkpoints(s); !complete {
		t.Fatal("the reader has gone, and the last checkpoint is still incomplete")
	}
}
