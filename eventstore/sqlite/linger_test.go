package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/partnercenter/multichannel/eventstore"
	"github.com/partnercenter/multichannel/eventstore/sqlite"
)

// commitLog records the appends of each group commit.
type commitLog struct {
	mu      sync.Mutex
	appends []int
}

func (c *commitLog) ObserveCommit(s sqlite.CommitStats) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.appends = append(c.appends, s.Appends)
}

func (c *commitLog) count() (commits, appends int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.appends {
		appends += n
	}
	return len(c.appends), appends
}

// Concurrent appenders share commits (the writer lingers for them), and a
// lone appender afterwards is not held for the linger's whole length: the
// wait ends when no append follows within the gap.
func TestLingerGroupsConcurrentAppendsAndSparesALoneOne(t *testing.T) {
	log := &commitLog{}
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "events.db"), sqlite.WithLinger(time.Second), sqlite.WithObserver(log))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()

	const appenders, each = 64, 20
	var wg sync.WaitGroup
	errs := make(chan error, appenders)
	for a := range appenders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				stream := fmt.Sprintf("linger-%d-%d", a, i)
				if _, err := s.Append(ctx, stream, eventstore.NoStream(), event(stream)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	commits, appends := log.count()
	if appends != appenders*each || commits*2 > appends {
		t.Fatalf("%d appends in %d commits: want %d appends, at least 2 a commit on average", appends, commits, appenders*each)
	}

	for i := range 20 {
		start := time.Now()
		if _, err := s.Append(ctx, fmt.Sprintf("lone-%d", i), eventstore.NoStream(), event("lone")); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > 250*time.Millisecond {
			t.Fatalf("lone append %d after the burst took %v: held by the linger", i, d)
		}
	}
}
