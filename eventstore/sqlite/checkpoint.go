package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"
)

// restartBusyTimeout is how long a RESTART checkpoint waits for readers,
// holding the commits meanwhile.
const restartBusyTimeout = 250 * time.Millisecond

// DefaultCheckpointEvents is how many committed events the background
// checkpointer lets into the WAL before it copies them into the database
// file (see WithCheckpointEvents).
const DefaultCheckpointEvents = 2000

// DefaultWALRestartEvents is how many events the WAL may gather without
// starting over before the writer copies what is left itself (see
// WithWALRestartEvents).
const DefaultWALRestartEvents = 20_000

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

// WithWALRestartEvents sets how many events the WAL may gather without
// starting over (under a writer that never pauses, such as an import, or
// while a reader holds an old snapshot) before the writer, between two
// commits, copies the rest itself with a RESTART checkpoint, waiting up to
// restartBusyTimeout for readers, so that the WAL starts over instead of
// growing (default DefaultWALRestartEvents).
func WithWALRestartEvents(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.walRestartEvents = n
		}
	}
}

// checkpointer copies the WAL into the database file, most of it on its
// own connection, off the append path.
//
// With SQLite's automatic checkpoint, the commit that takes the WAL past
// 1,000 pages runs the checkpoint before it returns: it writes those pages
// into the database file and syncs the WAL and the file, so one append in
// a few hundred waited for a checkpoint of tens of milliseconds. The write
// connection runs with wal_autocheckpoint=0 instead, and:
//
//   - after every `every` committed events this goroutine runs a PASSIVE
//     checkpoint (it never blocks the writer or a reader), which copies
//     the frames committed up to its start;
//   - the WAL starts over from its beginning only when a write
//     transaction begins with every frame copied, and the writer adds
//     frames while the checkpoint runs. When few came meanwhile (at most
//     `every` events: a lone appender's case), the writer, between two
//     commits and after answering the first, copies them (its tail). Its
//     next commit then writes over the WAL in place, so that a commit's
//     one fdatasync does not also commit a new file size, and the WAL
//     stays the size of one checkpoint's events;
//   - when many came (a writer that never pauses, as an import), the
//     background checkpoint goes again at once, and the writer takes over
//     only once restartAt events have gathered without the WAL starting
//     over: then with a RESTART checkpoint, which also waits (briefly:
//     restartBusyTimeout) for readers on old snapshots to move on. Without
//     this the WAL of a 200,000-event generate grew to 253 MB; with the
//     tail after every checkpoint, an import copied every batch on the
//     writer's path and ran a fifth slower than with no checkpoint at all.
type checkpointer struct {
	db               *sql.DB
	every, restartAt int

	mu      sync.Mutex
	idle    *sync.Cond // on mu: signalled when a checkpoint ends
	pending int        // events committed since the last checkpoint was asked for
	behind  int        // events committed since the WAL was last copied whole
	since   int        // events committed since the background checkpoint last started
	// due is set when a checkpoint is asked for, running while it runs,
	// tailDue once it is done and the writer's part is left.
	due, running, tailDue bool

	poke chan struct{} // buffered (1): a checkpoint is due
	stop chan struct{}
	done chan struct{}

	// ran, tails and restarts count the checkpoints; complete says
	// whether the writer's last one copied every frame (for tests).
	ran, tails, restarts int
	complete             bool
}

func newCheckpointer(path string, o options) (*checkpointer, error) {
	db, err := sql.Open("sqlite", dsn(path, false, false, busyTimeout))
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

// committed is called by the writer after each commit that wrote n
// events, and after it has answered the commit's appends: it runs the
// writer's part of a finished checkpoint on conn (the write connection,
// idle between commits), then wakes the checkpointer when another is due.
func (c *checkpointer) committed(conn *sql.Conn, n int) {
	c.mu.Lock()
	c.pending += n
	c.behind += n
	c.since += n
	// The writer's part is worth it when it is small: when few events came
	// while the background checkpoint ran (a lone appender's case).
	// Otherwise (a bulk writer) the background goes again at once, with
	// what came meanwhile, and the writer takes over only once restartAt
	// events have gathered without the WAL starting over.
	restart := c.tailDue && c.behind >= c.restartAt
	tail := c.tailDue && (c.since <= c.every || restart)
	again := c.tailDue && !tail
	c.tailDue = false
	c.mu.Unlock()
	if tail {
		// The background checkpoint is idle: it only starts when poked,
		// below, by this goroutine.
		complete, err := c.tail(conn, restart)
		c.mu.Lock()
		c.tails++
		if restart {
			c.restarts++
		}
		c.complete = err == nil && complete
		if c.complete {
			c.behind = 0
		}
		c.mu.Unlock()
		// A failed checkpoint (the disk, a busy timeout of RESTART) only
		// leaves the WAL longer: the next one copies what this one did
		// not, and commits go on meanwhile.
	}
	c.mu.Lock()
	due := (again || c.pending >= c.every) && !c.due && !c.running
	if due {
		c.due, c.pending = true, 0
	}
	c.mu.Unlock()
	if due {
		select {
		case c.poke <- struct{}{}:
		default: // already woken
		}
	}
}

// tail runs the writer's checkpoint: PASSIVE, or RESTART with a short
// busy timeout, so that the commits it holds wait little for a reader that
// does not move on.
func (c *checkpointer) tail(conn *sql.Conn, restart bool) (bool, error) {
	if !restart {
		return checkpoint(conn, "PASSIVE")
	}
	if _, err := conn.ExecContext(context.Background(), fmt.Sprintf("PRAGMA busy_timeout = %d", restartBusyTimeout.Milliseconds())); err != nil {
		return false, fmt.Errorf("checkpoint (RESTART): %w", err)
	}
	defer conn.ExecContext(context.Background(), fmt.Sprintf("PRAGMA busy_timeout = %d", busyTimeout.Milliseconds()))
	return checkpoint(conn, "RESTART")
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
		c.due, c.running, c.since = false, true, 0
		c.mu.Unlock()
		_, _ = checkpoint(c.db, "PASSIVE") // what it left, the writer's part copies
		c.mu.Lock()
		c.ran++
		c.running = false
		c.tailDue = true
		c.idle.Broadcast()
		c.mu.Unlock()
	}
}

// querier is a *sql.DB or a *sql.Conn.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// checkpoint runs one checkpoint in mode and reports whether it copied
// every frame of the WAL.
func checkpoint(db querier, mode string) (bool, error) {
	var busy, log, copied int
	if err := db.QueryRowContext(context.Background(), "PRAGMA wal_checkpoint("+mode+")").Scan(&busy, &log, &copied); err != nil {
		return false, fmt.Errorf("checkpoint (%s): %w", mode, err)
	}
	return busy == 0 && log == copied, nil
}

// wait returns once no background checkpoint is asked for or running:
// the benchmark's raw syncs must not share the disk with one.
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
