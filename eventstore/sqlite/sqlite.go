// Package sqlite is the embedded event store: one SQLite file, written by one
// process, with EventStoreDB's semantics (see package eventstore).
//
// # Schema (PRAGMA user_version = 2)
//
//	CREATE TABLE events (
//	    seq      INTEGER PRIMARY KEY,  -- the global position: Commit = Prepare = seq
//	    stream   TEXT    NOT NULL,
//	    revision INTEGER NOT NULL,     -- 0, 1, 2, ... within stream, no gaps
//	    id       BLOB    NOT NULL,     -- the event id, 16 bytes
//	    type     TEXT    NOT NULL,
//	    data     BLOB    NOT NULL,
//	    metadata BLOB    NOT NULL,
//	    UNIQUE (stream, revision)
//	);
//
// seq is the rowid, so the global log is the table's own B-tree and reading
// it in order needs no index. UNIQUE(stream, revision) serves stream reads and
// makes a gap or a duplicate revision impossible even if the writer had a bug.
// It also serves idempotent retries with Any: the append's first event id is
// looked for among the stream's last AnyRetryWindow (1,000) revisions only,
// a best effort over recent events as in EventStoreDB. Version 1 also had
// CREATE INDEX events_id ON events (id) for that lookup, which cost every
// append a third WAL frame; Open drops it from a version-1 file.
//
// # Writing
//
// Every append goes through one writer that commits all the appends
// waiting for it in ONE transaction with one fsync (group commit), then
// answers each caller. The writer is a goroutine, except for a lone
// appender, which commits on its own goroutine while nothing else waits
// (append.go, direct). Each append is checked against its stream's head as of
// its place in the batch, so an append with a wrong expected revision fails
// alone; an error of SQLite itself fails the whole batch. AppendBatch
// (eventstore.BatchAppender: many streams, all or nothing, for import and
// generate) goes through the same writer and commits in a transaction of
// its own, so that its conflict undoes no other append. The file is opened
// in WAL mode with synchronous=FULL: an acknowledged append survives power
// loss. An exclusive flock on path+".lock" keeps a second writing process out
// (eventstore.ErrLocked); readers, OpenReadOnly included, are never blocked.
//
// # One sync per commit
//
// A commit costs one fdatasync of the WAL, and no commit runs a
// checkpoint: the write connection has wal_autocheckpoint=0, and a
// background checkpoint copies the WAL into the file after every
// CHECKPOINT_EVENTS events (checkpoint.go). Before, the commit that took the
// WAL past 1,000 pages ran the checkpoint itself, writing those pages and
// syncing the WAL and the file before its append was answered. The WAL is
// reused in place once a checkpoint has copied it whole, so in steady state
// a commit's sync does not also commit a new file size. A lone append of a
// ~430-byte event writes two WAL frames (the table's leaf and the
// UNIQUE(stream, revision) index's leaf: four pwrites) before its
// fdatasync; schema version 1 wrote a third, for the events_id index.
// BenchmarkAppend compares a lone appender with raw 4 KiB write+fdatasync
// rounds interleaved with its own, on a pre-written file (a growing one
// pays that second, size-committing flush), each round ending once the
// background checkpoint it made due is done:
//
//	go test -run '^$' -bench 'Append|RawFsync' -benchtime 2s -count 3 ./eventstore/sqlite/
//
// gave 0.52, 0.55 and 0.53 x-rawfsync for one appender (median 0.53;
// 4,545 to 4,801 events/s against 8,655 to 8,801 raw syncs/s) on a
// 2-core machine shared with other work; the same command just before,
// with events_id, gave 0.47, 0.48 and 0.50 (median 0.48; 2,484 to 2,881
// events/s against 5,143 to 6,007 raw syncs/s, the disk being slower
// then). Binding only the statements a transaction uses (append.go,
// batchTx) then gave 0.58, 0.60 and 0.57 (median 0.58; 3,556 to 3,966
// events/s against 6,172 to 7,002 raw syncs/s): more than its 3% of CPU
// would explain, so part of that step is the disk's rate moving between
// runs, which the ratio does not fully cancel. A CPU profile (before that last step) of the lone
// appender puts the writer goroutine's time at about 41% in fdatasync
// (the CPU the kernel spends in the sync), 18% in the WAL pwrites and 41% in SQLite's VM and
// B-tree, modernc's libc layer, database/sql and the writer's own
// bookkeeping; the insert's Exec is about an eighth of it and binding
// the prepared statements to each transaction about 3%. Since then a
// lone append commits on its caller's goroutine, and a transaction is
// BEGIN and COMMIT on a held connection rather than a *sql.Tx (whose
// goroutine woke a parked thread twice per commit): 0.66 to 0.72 (median
// 0.69) against 0.59 to 0.62 (median 0.60) for the binary before, two
// runs of -count 3 each, alternated. 5,000 lone appends then took 0.57 to
// 0.64 s of CPU instead of 0.76 to 0.77, and 0.5 futex calls each
// instead of 4.2 (strace -c).
// TestKilledWriterKeepsAcknowledgedAppends kills a writing process and
// finds every acknowledged append.
package sqlite

import (
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/partnercenter/multichannel/eventstore"
	msqlite "modernc.org/sqlite"
)

// schemaVersion is kept in PRAGMA user_version.
const schemaVersion = 2

const schema = `
CREATE TABLE IF NOT EXISTS events (
    seq      INTEGER PRIMARY KEY,
    stream   TEXT    NOT NULL,
    revision INTEGER NOT NULL,
    id       BLOB    NOT NULL,
    type     TEXT    NOT NULL,
    data     BLOB    NOT NULL,
    metadata BLOB    NOT NULL,
    UNIQUE (stream, revision)
);
PRAGMA user_version = 2;
`

// migrations bring a file of version i+1 to version i+2: migrations[0]
// takes a version-1 file to version 2.
var migrations = []string{
	// Any retries scan the stream's last revisions through
	// UNIQUE(stream, revision) instead (AnyRetryWindow).
	`DROP INDEX IF EXISTS events_id;
PRAGMA user_version = 2;`,
}

// busyTimeout is how long a connection waits for a lock (a reader for a
// checkpoint, the writer for a RESTART checkpoint) before SQLITE_BUSY.
const busyTimeout = 10 * time.Second

// ErrReadOnly is returned by Append on a store opened with OpenReadOnly.
var ErrReadOnly = errors.New("event store opened read-only")

// Store is the SQLite event store. It is safe for concurrent use.
type Store struct {
	path     string
	readOnly bool
	opts     options

	rdb   *sql.DB // readers: a small pool, each connection read-only
	reads readStmts
	logs  *logConns // readers of the global log (logread.go)

	// Writer side (nil on a read-only store).
	wdb    *sql.DB // exactly one connection, held by the writer (append.go)
	lock   *fileLock
	queue  chan *appendRequest
	mu     sync.RWMutex // guards closed against sends on queue
	closed bool
	done   chan struct{} // closed when the writer goroutine has exited
	w      *writer

	closeOnce sync.Once
	closeErr  error
	closedCh  chan struct{} // closed by Close: wakes subscribers

	notifyMu sync.Mutex
	notify   chan struct{} // closed and replaced after every commit

	// tail keeps the latest commits for subscribers (nil on a read-only
	// store, which others write).
	tail *tail

	// ckpt copies the WAL into the database file off the append path (nil
	// on a read-only store).
	ckpt *checkpointer
}

var _ eventstore.Store = (*Store)(nil)

type options struct {
	maxBatch         int
	lingerMax        time.Duration // 0: commit at once
	readConns        int
	pollInterval     time.Duration
	observer         Observer // nil: none
	checkpointEvents int
	walRestartEvents int
}

// Option configures Open and OpenReadOnly.
type Option func(*options)

// WithMaxBatch bounds how many appends one transaction commits (default 1024).
func WithMaxBatch(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.maxBatch = n
		}
	}
}

// DefaultLingerMax bounds how long the writer waits for more concurrent
// appends before a commit (see WithLinger).
const DefaultLingerMax = time.Millisecond

// WithLinger sets how long, at most, the writer waits for more appends
// to join a commit while appenders are concurrent; 0 commits at once.
// Longer makes bigger batches, fewer fsyncs and less CPU per append, at
// the price of that much latency.
func WithLinger(d time.Duration) Option {
	return func(o *options) {
		if d >= 0 {
			o.lingerMax = d
		}
	}
}

// WithReadConns sets the size of the reader connection pool (default 4).
func WithReadConns(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.readConns = n
		}
	}
}

// WithPollInterval sets how often SubscribeAll on a read-only store looks for
// new events, since another process's commits send it no notification
// (default 250ms).
func WithPollInterval(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.pollInterval = d
		}
	}
}

func buildOptions(opts []Option) options {
	o := options{
		maxBatch: 1024, readConns: 4, pollInterval: 250 * time.Millisecond, lingerMax: DefaultLingerMax,
		checkpointEvents: DefaultCheckpointEvents, walRestartEvents: DefaultWALRestartEvents,
	}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// dsn builds a modernc.org/sqlite data source name. busy_timeout lets a
// reader wait out a checkpoint instead of failing with SQLITE_BUSY.
//
// mmap maps the file for reading (up to 1 GiB): it saves a pread per page
// for a command-line reader that reads the log once and exits. The
// server's readers do not map it: every page the start-up fold touches
// would stay resident in the process for as long as it runs, once per
// connection (1.4 GB of file pages after a start on a 901 MB log, beside
// 670 MB of heap), where read through the page cache it is the kernel's
// to evict.
func dsn(path string, readOnly, mmap bool, busy time.Duration) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busy.Milliseconds()))
	if readOnly {
		q.Add("mode", "ro")
		q.Add("_pragma", "query_only(1)")
		if mmap {
			q.Add("_pragma", "mmap_size(1073741824)")
		}
	} else {
		q.Add("_pragma", "journal_mode(WAL)")
		// FULL: in WAL mode NORMAL does not sync on commit, so an
		// acknowledged append could vanish on power loss.
		q.Add("_pragma", "synchronous(FULL)")
		// The checkpointer copies the WAL into the file (checkpoint.go):
		// a commit never runs a checkpoint before it returns.
		q.Add("_pragma", "wal_autocheckpoint(0)")
	}
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}

// Open opens (creating it and its parent directories if needed) the store
// file at path for writing. It holds an exclusive lock on path+".lock" until
// Close: a second writer, in this process or another, gets an error wrapping
// eventstore.ErrLocked.
//
// Open switches SQLite's commit sync from fsync to fdatasync process-wide,
// as SQLite's own Linux builds do: the durability is the same (fdatasync
// writes the data and the size needed to read it back), without waiting for
// timestamp updates.
func Open(path string, opts ...Option) (*Store, error) {
	o := buildOptions(opts)
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("sqlite: create directory for %s: %w", path, err)
		}
	}
	lock, err := lockFile(path + ".lock")
	if err != nil {
		return nil, err
	}
	_, _ = msqlite.Fdatasync(true) // unavailable on some platforms: fsync then, same durability

	wdb, err := sql.Open("sqlite", dsn(path, false, false, busyTimeout))
	if err != nil {
		lock.release()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	wdb.SetMaxOpenConns(1)
	wdb.SetMaxIdleConns(1)
	wdb.SetConnMaxLifetime(0)
	wdb.SetConnMaxIdleTime(0)
	if err := migrate(wdb); err != nil {
		wdb.Close()
		lock.release()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	s := &Store{
		path:     path,
		opts:     o,
		wdb:      wdb,
		lock:     lock,
		queue:    make(chan *appendRequest, o.maxBatch),
		done:     make(chan struct{}),
		closedCh: make(chan struct{}),
		notify:   make(chan struct{}),
	}
	if err := s.openReaders(); err != nil {
		wdb.Close()
		lock.release()
		return nil, err
	}
	s.tail = &tail{}
	if err := wdb.QueryRow(`SELECT COALESCE(MAX(seq), 0) FROM events`).Scan(&s.tail.base); err != nil {
		s.rdb.Close()
		wdb.Close()
		lock.release()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	w, err := newWriter(s)
	if err != nil {
		s.rdb.Close()
		wdb.Close()
		lock.release()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if s.ckpt, err = newCheckpointer(path, o); err != nil {
		s.rdb.Close()
		wdb.Close()
		lock.release()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	s.w = w
	go w.run()
	return s, nil
}

// OpenReadOnly opens an existing store file for reading only, without the
// writer's lock, so command-line readers can run while a server writes it.
// Append returns ErrReadOnly; SubscribeAll polls for new events.
func OpenReadOnly(path string, opts ...Option) (*Store, error) {
	o := buildOptions(opts)
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("sqlite: open %s read-only: %w", path, err)
	}
	s := &Store{
		path:     path,
		readOnly: true,
		opts:     o,
		closedCh: make(chan struct{}),
		notify:   make(chan struct{}),
	}
	if err := s.openReaders(); err != nil {
		return nil, err
	}
	var v int
	if err := s.rdb.QueryRow("PRAGMA user_version").Scan(&v); err != nil {
		s.rdb.Close()
		return nil, fmt.Errorf("sqlite: open %s read-only: %w", path, err)
	}
	// A version-1 file reads as a version-2 one (it only has one more
	// index), so a reader need not wait for the writer to migrate it.
	if v < 1 || v > schemaVersion {
		s.rdb.Close()
		return nil, fmt.Errorf("sqlite: open %s read-only: schema version %d, want %d", path, v, schemaVersion)
	}
	if err := s.reads.prepare(s.rdb); err != nil {
		s.rdb.Close()
		return nil, fmt.Errorf("sqlite: open %s read-only: %w", path, err)
	}
	return s, nil
}

func (s *Store) openReaders() error {
	rdb, err := sql.Open("sqlite", dsn(s.path, true, s.readOnly, busyTimeout))
	if err != nil {
		return fmt.Errorf("sqlite: open %s for reading: %w", s.path, err)
	}
	rdb.SetMaxOpenConns(s.opts.readConns)
	rdb.SetMaxIdleConns(s.opts.readConns)
	rdb.SetConnMaxLifetime(0)
	rdb.SetConnMaxIdleTime(0)
	s.rdb = rdb
	s.logs = newLogConns(s.path, s.readOnly, s.opts.readConns)
	if !s.readOnly {
		if err := s.reads.prepare(rdb); err != nil {
			rdb.Close()
			return fmt.Errorf("sqlite: open %s for reading: %w", s.path, err)
		}
	}
	return nil
}

// migrate creates the schema in a new file, brings an older file forward
// to schemaVersion in one transaction (all steps or none), and refuses a
// file written by a newer version of this package.
func migrate(db *sql.DB) error {
	var v int
	if err := db.QueryRow("PRAGMA user_version").Scan(&v); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	switch {
	case v == schemaVersion:
		return nil
	case v > schemaVersion:
		return fmt.Errorf("schema version %d is newer than this program's %d", v, schemaVersion)
	}
	steps := []string{schema}
	if v > 0 {
		steps = migrations[v-1:]
	}
	tx, err := db.Begin()
	if err != nil {
		return fmt.Errorf("migrate schema from version %d: %w", v, err)
	}
	defer tx.Rollback()
	for _, q := range steps {
		if _, err := tx.Exec(q); err != nil {
			return fmt.Errorf("migrate schema from version %d: %w", v, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate schema from version %d: %w", v, err)
	}
	return nil
}

// Close stops accepting appends, commits the ones already queued, stops the
// writer, closes the database and releases the lock. Appends acknowledged
// before Close are durable. Calls after the first return nil.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.closedCh)
		var errs []error
		if !s.readOnly {
			s.mu.Lock()
			s.closed = true
			close(s.queue) // the writer drains what is queued, then exits
			s.mu.Unlock()
			<-s.done
			s.w.close()
			if err := s.ckpt.close(); err != nil {
				errs = append(errs, err)
			}
			if err := s.wdb.Close(); err != nil {
				errs = append(errs, err)
			}
		}
		s.reads.close()
		s.logs.close()
		if err := s.rdb.Close(); err != nil {
			errs = append(errs, err)
		}
		if s.lock != nil {
			if err := s.lock.release(); err != nil {
				errs = append(errs, err)
			}
		}
		if err := errors.Join(errs...); err != nil {
			s.closeErr = fmt.Errorf("sqlite: close %s: %w", s.path, err)
		}
	})
	return s.closeErr
}

func (s *Store) isClosed() bool {
	select {
	case <-s.closedCh:
		return true
	default:
		return false
	}
}

// committed wakes every subscriber waiting for new events. It never blocks.
func (s *Store) committed() {
	s.notifyMu.Lock()
	close(s.notify)
	s.notify = make(chan struct{})
	s.notifyMu.Unlock()
}

// commitSignal returns a channel closed by the next commit.
func (s *Store) commitSignal() <-chan struct{} {
	s.notifyMu.Lock()
	defer s.notifyMu.Unlock()
	return s.notify
}
