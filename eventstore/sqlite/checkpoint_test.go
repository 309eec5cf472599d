package sqlite

import (
	"context"
	"fmt"
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
	var pages int
	if err := s.wdb.QueryRow("PRAGMA wal_autocheckpoint").Scan(&pages); err != nil {
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

func checkpoints(s *Store) (ran, restarts int, complete bool) {
	s.ckpt.mu.Lock()
	defer s.ckpt.mu.Unlock()
	return s.ckpt.ran, s.ckpt.restarts, s.ckpt.complete
}

// The checkpointer copies the WAL after every checkpointEvents events,
// and a checkpoint that copies every frame lets the WAL start over.
func TestCheckpointerCopiesTheWAL(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "events.db"), WithCheckpointEvents(20))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	appendLone(t, s, 100)
	s.ckpt.wait()
	ran, restarts, complete := checkpoints(s)
	if ran == 0 || !complete || restarts != 0 {
		t.Fatalf("after 100 events: %d checkpoints (%d RESTART), last complete %t; want some, none RESTART, complete", ran, restarts, complete)
	}
	// Every frame is in the file: a checkpoint has nothing left to copy.
	var busy, log, copied int
	if err := s.ckpt.db.QueryRow("PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &log, &copied); err != nil {
		t.Fatal(err)
	}
	if busy != 0 || log != copied {
		t.Fatalf("WAL after the checkpoints: busy %d, %d frames, %d copied", busy, log, copied)
	}
}

// A reader that holds an old snapshot keeps a checkpoint from copying the
// frames after it; once walRestartEvents events are behind, the
// checkpointer runs RESTART checkpoints, which give up while the reader
// stays, and complete once it has gone.
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
	appendLone(t, s, 50)
	s.ckpt.wait()
	if _, restarts, complete := checkpoints(s); complete || restarts == 0 {
		t.Fatalf("with a reader on an old snapshot: last checkpoint complete %t after %d RESTART; want incomplete after some", complete, restarts)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	appendLone(t, s, 10)
	s.ckpt.wait()
	if _, _, complete := checkpoints(s); !complete {
		t.Fatal("the reader has gone, and the last checkpoint is still incomplete")
	}
	s.ckpt.mu.Lock()
	behind := s.ckpt.behind
	s.ckpt.mu.Unlock()
	if behind != 0 {
		t.Fatalf("%d events behind after a complete checkpoint", behind)
	}
}
