package sqlite

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"unsafe"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/partnercenter/multichannel/eventstore"
)

// A read of the global log (ReadAll) is what a rebuild does ten million
// times, so it does not go through database/sql. There, every column of
// every row costs the driver three calls into SQLite, each taking the
// connection's mutex (the driver opens every connection
// SQLITE_OPEN_FULLMUTEX), plus an interface conversion per value and a
// fresh allocation for the id, the stream, the type, the data and the
// metadata. On a start-up fold of ten million events that was 39% of the
// CPU, a third of it in the mutex alone. A logConn is a read-only
// connection of its own, opened SQLITE_OPEN_NOMUTEX because only one
// goroutine at a time ever holds it (logConns hands them out), with the
// one statement prepared once; a row is two column calls per value and
// two allocations (the stream's name, and the data and metadata together).

// logQuery is the statement a logConn runs: the events after a sequence
// number, in log order, at most a page.
const logQuery = `SELECT seq, stream, revision, id, type, data, metadata FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2`

// seqQuery is the other statement a logConn runs: the event at a sequence
// number, found in the log's own B-tree. Its columns are logQuery's.
const seqQuery = `SELECT seq, stream, revision, id, type, data, metadata FROM events WHERE seq = ?1`

// The columns of logQuery and seqQuery.
const (
	colSeq = iota
	colStream
	colRevision
	colID
	colType
	colData
	colMetadata
)

// connError is an error SQLite returned to a logConn, with its result
// code (storageFailure reads it as it reads the driver's).
type connError struct {
	code int
	msg  string
}

func (e *connError) Error() string { return e.msg }

// Code is SQLite's extended result code.
func (e *connError) Code() int { return e.code }

// maxTypes bounds the interned event types of one connection: a log has a
// few dozen; one with more (a store shared with another program) pays a
// string per row past the bound, as before.
const maxTypes = 256

// logConn is one read-only connection for reads of the global log. It is
// not safe for concurrent use: logConns lends it to one reader at a time.
type logConn struct {
	tls   *libc.TLS
	db    uintptr
	stmt  uintptr // logQuery
	one   uintptr // seqQuery
	types map[string]string
}

// openLogConn opens path read-only. mmap maps up to 1 GiB of the file, as
// the database/sql readers of a read-only store do (see dsn).
func openLogConn(path string, mmap bool) (*logConn, error) {
	c := &logConn{tls: libc.NewTLS(), types: make(map[string]string)}
	ok := false
	defer func() {
		if !ok {
			c.close()
		}
	}()
	name, err := libc.CString(path)
	if err != nil {
		return nil, err
	}
	defer libc.Xfree(c.tls, name)
	out := libc.Xmalloc(c.tls, 8) // the out-parameters below are pointers
	if out == 0 {
		return nil, errors.New("sqlite: out of memory")
	}
	defer libc.Xfree(c.tls, out)
	rc := sqlite3.Xsqlite3_open_v2(c.tls, name, out, sqlite3.SQLITE_OPEN_READONLY|sqlite3.SQLITE_OPEN_NOMUTEX, 0)
	c.db = *(*uintptr)(cmem(out))
	if rc != sqlite3.SQLITE_OK {
		return nil, c.err(rc)
	}
	sqlite3.Xsqlite3_extended_result_codes(c.tls, c.db, 1)
	sqlite3.Xsqlite3_busy_timeout(c.tls, c.db, int32(busyTimeout.Milliseconds()))
	if mmap {
		if err := c.exec("PRAGMA mmap_size=1073741824"); err != nil {
			return nil, err
		}
	}
	if c.stmt, err = c.prepare(logQuery, out); err != nil {
		return nil, err
	}
	if c.one, err = c.prepare(seqQuery, out); err != nil {
		return nil, err
	}
	ok = true
	return c, nil
}

// prepare prepares q once for the connection's life; out is room for the
// statement's handle.
func (c *logConn) prepare(q string, out uintptr) (uintptr, error) {
	s, err := libc.CString(q)
	if err != nil {
		return 0, err
	}
	defer libc.Xfree(c.tls, s)
	if rc := sqlite3.Xsqlite3_prepare_v3(c.tls, c.db, s, -1, sqlite3.SQLITE_PREPARE_PERSISTENT, out, 0); rc != sqlite3.SQLITE_OK {
		return 0, c.err(rc)
	}
	return *(*uintptr)(cmem(out)), nil
}

func (c *logConn) exec(q string) error {
	s, err := libc.CString(q)
	if err != nil {
		return err
	}
	defer libc.Xfree(c.tls, s)
	if rc := sqlite3.Xsqlite3_exec(c.tls, c.db, s, 0, 0, 0); rc != sqlite3.SQLITE_OK {
		return c.err(rc)
	}
	return nil
}

// err is rc as a *connError, with the connection's message when it has one.
func (c *logConn) err(rc int32) error {
	msg := libc.GoString(sqlite3.Xsqlite3_errstr(c.tls, rc))
	if c.db != 0 {
		if m := libc.GoString(sqlite3.Xsqlite3_errmsg(c.tls, c.db)); m != "" && m != msg {
			msg += ": " + m
		}
	}
	return &connError{code: int(rc), msg: fmt.Sprintf("%s (%d)", msg, rc)}
}

func (c *logConn) close() {
	for _, st := range []*uintptr{&c.stmt, &c.one} {
		if *st != 0 {
			sqlite3.Xsqlite3_finalize(c.tls, *st)
			*st = 0
		}
	}
	if c.db != 0 {
		sqlite3.Xsqlite3_close_v2(c.tls, c.db)
		c.db = 0
	}
	if c.tls != nil {
		c.tls.Close()
		c.tls = nil
	}
}

// checkEvery is how many rows a read steps between looks at its context.
const checkEvery = 256

// readAll appends to events at most max events with a sequence number
// above minSeq, in log order. With buf nil, each event's data and
// metadata are an array of their own; otherwise they are appended to *buf
// (ReadAllInto).
func (c *logConn) readAll(ctx context.Context, minSeq int64, max int, events []eventstore.RecordedEvent, buf *[]byte) (_ []eventstore.RecordedEvent, err error) {
	defer func() {
		// A reset ends the read transaction, so a checkpoint is never held
		// back by an idle connection.
		if rc := sqlite3.Xsqlite3_reset(c.tls, c.stmt); rc != sqlite3.SQLITE_OK && err == nil {
			err = c.err(rc)
		}
	}()
	sqlite3.Xsqlite3_bind_int64(c.tls, c.stmt, 1, minSeq)
	sqlite3.Xsqlite3_bind_int64(c.tls, c.stmt, 2, int64(max))
	for n := 0; ; n++ {
		if n%checkEvery == checkEvery-1 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		switch rc := sqlite3.Xsqlite3_step(c.tls, c.stmt); rc {
		case sqlite3.SQLITE_ROW:
		case sqlite3.SQLITE_DONE:
			return events, nil
		default:
			return nil, c.err(rc)
		}
		events = append(events, eventstore.RecordedEvent{})
		if err := c.row(c.stmt, &events[len(events)-1], buf); err != nil {
			return nil, err
		}
	}
}

// row decodes the current row into ev, its data and metadata into an
// array of their own or, with buf, at the end of *buf.
func (c *logConn) row(st uintptr, ev *eventstore.RecordedEvent, buf *[]byte) error {
	seq := sqlite3.Xsqlite3_column_int64(c.tls, st, colSeq)
	ev.Position = position(seq)
	ev.Revision = uint64(sqlite3.Xsqlite3_column_int64(c.tls, st, colRevision))
	id := c.column(st, colID, false)
	if len(id) != len(ev.ID) {
		return fmt.Errorf("event at position %d has a %d-byte id", seq, len(id))
	}
	copy(ev.ID[:], id)
	ev.Stream = string(c.column(st, colStream, true))
	typ := c.column(st, colType, true)
	if t, ok := c.types[string(typ)]; ok {
		ev.Type = t
	} else {
		ev.Type = string(typ)
		if len(c.types) < maxTypes {
			c.types[ev.Type] = ev.Type
		}
	}
	// The data and the metadata share one allocation: half the objects
	// for the collector, and neither outlives the other by much. It is
	// made by appending to the data's slice in SQLite's memory, whose
	// capacity is its length: the append allocates Go memory and copies
	// both in without first zeroing what it copies over, which make and
	// copy would (a sixth of a verification's CPU).
	data, meta := c.column(st, colData, false), c.column(st, colMetadata, false)
	n := len(data)
	if buf != nil {
		b := *buf
		if cap(b)-len(b) < n+len(meta) {
			// A new array for the rest of the page: the events read so
			// far keep the old one.
			b = make([]byte, 0, max(2*cap(b), n+len(meta), 1<<16))
		}
		at := len(b)
		b = append(append(b, data...), meta...)
		ev.Data = b[at : at+n : at+n]
		ev.Metadata = b[at+n : len(b) : len(b)]
		*buf = b
		return nil
	}
	var own []byte
	if n > 0 && len(meta) > 0 {
		own = append(data[:n:n], meta...) // full capacity: always a new array
	} else {
		// At most one is non-empty, and an append to an empty slice of no
		// capacity copies it into a new array too (never SQLite's).
		own = append(append([]byte{}, data...), meta...)
	}
	ev.Data = own[:n:n]
	ev.Metadata = own[n:len(own):len(own)]
	return nil
}

// column is the current row's value of column i of st, in SQLite's memory: valid
// until the next step or reset, so callers copy what they keep. text
// reads it as text (a stream's name, a type), otherwise as a blob.
func (c *logConn) column(st uintptr, i int32, text bool) []byte {
	var p uintptr
	if text {
		p = sqlite3.Xsqlite3_column_text(c.tls, st, i)
	} else {
		p = sqlite3.Xsqlite3_column_blob(c.tls, st, i)
	}
	n := sqlite3.Xsqlite3_column_bytes(c.tls, st, i)
	if p == 0 || n <= 0 {
		return nil
	}
	return unsafe.Slice((*byte)(cmem(p)), n)
}

// readAt reads the event at each sequence number, in order.
func (c *logConn) readAt(ctx context.Context, seqs []int64) (_ []eventstore.RecordedEvent, err error) {
	if len(seqs) > 1 {
		// One read transaction for them all, not one per lookup (each
		// takes and drops a lock on the WAL index).
		if err := c.exec("BEGIN"); err != nil {
			return nil, err
		}
		defer func() {
			if cerr := c.exec("COMMIT"); cerr != nil && err == nil {
				err = cerr
			}
		}()
	}
	events := make([]eventstore.RecordedEvent, len(seqs))
	for i, seq := range seqs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		sqlite3.Xsqlite3_bind_int64(c.tls, c.one, 1, seq)
		rc := sqlite3.Xsqlite3_step(c.tls, c.one)
		var err error
		switch rc {
		case sqlite3.SQLITE_ROW:
			err = c.row(c.one, &events[i], nil)
		case sqlite3.SQLITE_DONE:
			err = fmt.Errorf("seq %d: %w", seq, eventstore.ErrEventNotFound)
		default:
			err = c.err(rc)
		}
		if rc := sqlite3.Xsqlite3_reset(c.tls, c.one); rc != sqlite3.SQLITE_OK && err == nil {
			err = c.err(rc)
		}
		if err != nil {
			return nil, err
		}
	}
	return events, nil
}

// cmem is an address in SQLite's memory as a pointer. That memory is
// libc's, outside the Go heap, and never moves, so the conversion is
// sound; reading the uintptr's bits through a pointer to it is how the
// conversion is written so that vet does not take it for an address of
// Go memory held in an integer.
func cmem(p uintptr) unsafe.Pointer { return *(*unsafe.Pointer)(unsafe.Pointer(&p)) }

// logConns lends logConns to readers, opening one when none is idle, up to
// a bound.
type logConns struct {
	path string
	mmap bool

	slots chan struct{} // a token per connection open or being opened
	idle  chan *logConn

	mu     sync.Mutex
	closed bool
}

func newLogConns(path string, mmap bool, n int) *logConns {
	return &logConns{path: path, mmap: mmap, slots: make(chan struct{}, n), idle: make(chan *logConn, n)}
}

// get returns an idle connection, or a new one while fewer than the bound
// are open, or waits for one to come back.
func (p *logConns) get(ctx context.Context) (*logConn, error) {
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		return nil, eventstore.ErrClosed
	}
	select {
	case c := <-p.idle:
		return c, nil
	default:
	}
	select {
	case c := <-p.idle:
		return c, nil
	case p.slots <- struct{}{}:
		c, err := openLogConn(p.path, p.mmap)
		if err != nil {
			<-p.slots
			return nil, err
		}
		return c, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// put gives c back; after close it closes c instead.
func (p *logConns) put(c *logConn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.close()
		<-p.slots
		return
	}
	p.idle <- c // never blocks: at most cap(slots) connections exist
}

// close closes the idle connections; those lent out close when they come
// back.
func (p *logConns) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for {
		select {
		case c := <-p.idle:
			c.close()
			<-p.slots
		default:
			return
		}
	}
}
