package sqlite

import (
	"database/sql"
	"fmt"
	"sync"
	"time"
)

// restartBusyTimeout is the checkpoint connection's busy timeout: how long
// a RESTART checkpoint waits for readers.
const restartBusyTimeout = 250 * time.Millisecond

// DefaultCheckpointEvents is how many committed events the background
// checkpointer lets into the WAL before it copies them into the database
// file (see WithCheckpointEvents).
const DefaultCheckpointEvents = 2000

// DefaultWALRestartEvents is how many events the WAL may gather without a
// complete checkpoint before the checkpointer waits for the readers to let
// it start the WAL over (see WithWALRestartEvents).
const DefaultWALRestartEvents = 100_000

// WithCheckpointEvents sets how many committed events the background
// checkpointer waits for before it copies the WAL into the database file
// (default DefaultCheckpointEvents). Fewer: a shorter WAL (less to recover
// after a crash, less for readers to search); more: fewer, larger
// checkpoints.
func WithCheckpointEvents(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.checkpointEvents = n
		}
	}
}

// WithWALRestartEvents sets how many events the WAL may gather without a
// complete checkpoint (a reader holds an old snapshot, so the checkpoint
// cannot copy every frame) before the checkpointer runs a RESTART
// checkpoint: it waits, up to the busy timeout, for the readers to move on,
// holding new commits meanwhile, so that the WAL starts over and stops
// growing (default DefaultWALRestartEvents).
func WithWALRestartEvents(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.walRestartEvents = n
		}
	}
}

// checkpointer copies the WAL into the database file on its own
// connection, off the append path.
//
// With SQLite's automatic checkpoint, the commit that takes the WAL past
// 1,000 pages runs the checkpoint before it returns: it writes those pages
// into the database file and syncs the WAL and the file, so one append in
// a few hundred waited for a checkpoint of tens of milliseconds, and a
// lone appender lost a third of its rate to them. The write connection
// runs with wal_autocheckpoint=0, and this goroutine checkpoints (PASSIVE:
// it never blocks the writer or a reader) after every checkpointEvents
// committed events. A checkpoint that copied every frame lets the next
// commit start the WAL over from its beginning, writing over the file in
// place, so a commit's one fdatasync does not also commit a new file size.
type checkpointer struct {
	db               *sql.DB
	every, restartAt int

	mu      sync.Mutex
	idle    *sync.Cond // on mu: signalled when a checkpoint ends
	pending int        // events committed since the last checkpoint
	behind  int        // events committed since the last complete checkpoint
	// due is set when a checkpoint is asked for, running while it runs.
	due, running bool

	poke chan struct{} // buffered (1): a checkpoint is due
	stop chan struct{}
	done chan struct{}

	// ran and restarts count the checkpoints run, complete says whether
	// the last one copied every frame (for tests).
	ran, restarts int
	complete      bool
}

func newCheckpointer(path string, o options) (*checkpointer, error) {
	// A RESTART checkpoint holds new commits while it waits for the
	// readers, so it waits briefly and tries again at the next one, rather
	// than for the store's busy timeout.
	db, err := sql.Open("sqlite", dsn(path, false, false, restartBusyTimeout))
	if err != nil {
		return nil, fmt.Errorf("open checkpoint connection: %w", err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	c := &checkpointer{
		db:        db,
		every:     o.checkpointEvents,
		restartAt: o.walRestartEvents,
		poke:      make(chan struct{}, 1),
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
	}
	c.idle = sync.NewCond(&c.mu)
	go c.run()
	return c, nil
}

// committed counts n events made durable in the WAL, and wakes the
// checkpointer when a checkpoint is due. It never blocks the writer.
func (c *checkpointer) committed(n int) {
	c.mu.Lock()
	c.pending += n
	due := c.pending >= c.every && !c.due
	if due {
		c.due = true
	}
	c.mu.Unlock()
	if due {
		select {
		case c.poke <- struct{}{}:
		default: // already woken
		}
	}
}

func (c *checkpointer) run() {
	defer close(c.done)
	for {
		select {
		case <-c.stop:
			return
		case <-c.poke:
		}
		c.mu.Lock()
		c.due, c.running = false, true
		n := c.pending
		c.pending = 0
		c.behind += n
		restart := c.behind >= c.restartAt
		c.mu.Unlock()
		mode := "PASSIVE"
		if restart {
			mode = "RESTART"
		}
		complete, err := c.checkpoint(mode)
		c.mu.Lock()
		c.ran++
		if restart {
			c.restarts++
		}
		c.complete = complete
		if err == nil && complete {
			c.behind = 0
		}
		c.running = false
		c.idle.Broadcast()
		c.mu.Unlock()
		// A failed checkpoint (the disk, a busy timeout of RESTART) only
		// leaves the WAL longer: the next one copies what this one did
		// not, and commits go on meanwhile.
	}
}

// checkpoint runs one checkpoint in mode and reports whether it copied
// every frame of the WAL.
func (c *checkpointer) checkpoint(mode string) (bool, error) {
	var busy, log, copied int
	if err := c.db.QueryRow("PRAGMA wal_checkpoint("+mode+")").Scan(&busy, &log, &copied); err != nil {
		return false, fmt.Errorf("checkpoint (%s): %w", mode, err)
	}
	return busy == 0 && log == copied, nil
}

// wait returns once no checkpoint is asked for or running: the
// benchmark's raw syncs must not share the disk with one.
func (c *checkpointer) wait() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.due || c.running {
		c.idle.Wait()
	}
}

// close stops the checkpointer and closes its connection. The writer has
// stopped, so nothing is committed after it.
func (c *checkpointer) close() error {
	close(c.stop)
	<-c.done
	return c.db.Close()
}
