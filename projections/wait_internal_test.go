package projections

import (
	"context"
	"testing"
	"time"

	"github.com/partnercenter/multichannel/eventstore"
)

// The sweeper runs only while a wait has a deadline.
func TestSweeperStopsWhenNoWaitHasADeadline(t *testing.T) {
	m := New(nil)
	pos := eventstore.Position{Commit: 5, Prepare: 5}
	if err := m.WaitForWithin(context.Background(), pos, 5*time.Millisecond); err == nil {
		t.Fatal("a wait for an unapplied position succeeded")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		m.waitMu.Lock()
		sweeping, waiting := m.sweeping, len(m.waiters)
		m.waitMu.Unlock()
		if !sweeping && waiting == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("sweeping %v with %d waiters, 5s after the last wait ended", sweeping, waiting)
		}
		time.Sleep(time.Millisecond)
	}
}
