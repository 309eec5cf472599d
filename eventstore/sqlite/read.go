package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/partnercenter/multichannel/eventstore"
)

// readStmts are the reader pool's prepared statements.
type readStmts struct {
	forwards, backwards, exists *sql.Stmt
}

func (r *readStmts) prepare(db *sql.DB) error {
	var err error
	prep := func(q string) *sql.Stmt {
		if err != nil {
			return nil
		}
		var st *sql.Stmt
		st, err = db.Prepare(q)
		return st
	}
	r.forwards = prep(`SELECT seq, revision, id, type, data, metadata FROM events WHERE stream = ? AND revision >= ? ORDER BY revision LIMIT ?`)
	r.backwards = prep(`SELECT seq, revision, id, type, data, metadata FROM events WHERE stream = ? AND revision <= ? ORDER BY revision DESC LIMIT ?`)
	r.exists = prep(`SELECT 1 FROM events WHERE stream = ? LIMIT 1`)
	if err != nil {
		r.close()
		return fmt.Errorf("prepare read statements: %w", err)
	}
	return nil
}

func (r *readStmts) close() {
	for _, st := range []*sql.Stmt{r.forwards, r.backwards, r.exists} {
		if st != nil {
			st.Close()
		}
	}
}

// maxPageHint bounds the capacity allocated up front for a page of the
// global log, so that a caller asking for "everything" (a huge max) does
// not allocate it at once. streamPageHint is the same for a stream read:
// most streams are short and most reads (the command side's) ask for a
// whole stream, so a page starts small and grows as rows arrive.
const (
	maxPageHint    = 4096
	streamPageHint = 16
)

// ReadStream implements eventstore.Store.
func (s *Store) ReadStream(ctx context.Context, stream string, dir eventstore.Direction, from uint64, max int) ([]eventstore.RecordedEvent, error) {
	if s.isClosed() {
		return nil, fmt.Errorf("sqlite: read %s: %w", stream, eventstore.ErrClosed)
	}
	if max <= 0 {
		return nil, fmt.Errorf("sqlite: read %s: max must be positive, got %d", stream, max)
	}
	// SQLite integers are signed: clamp, since no revision exceeds MaxInt64.
	fromArg := int64(math.MaxInt64)
	if from < math.MaxInt64 {
		fromArg = int64(from)
	}
	st := s.reads.forwards
	if dir == eventstore.Backwards {
		st = s.reads.backwards
	} else if from > math.MaxInt64 {
		return nil, s.streamExists(ctx, stream)
	}
	rows, err := st.QueryContext(ctx, stream, fromArg, max)
	if err != nil {
		return nil, s.readErr(ctx, "read "+stream, err)
	}
	defer rows.Close()
	events := make([]eventstore.RecordedEvent, 0, min(max, streamPageHint))
	var sc scanner
	for rows.Next() {
		var ev eventstore.RecordedEvent
		ev.Stream = stream
		if err := sc.scan(rows, &ev, false); err != nil {
			return nil, fmt.Errorf("sqlite: read %s: %w", stream, err)
		}
		events = append(events, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, s.readErr(ctx, "read "+stream, err)
	}
	if len(events) == 0 {
		// Past either end of a stream that exists is an empty read, as in
		// EventStoreDB; only a stream with no events is not found. An empty
		// read backwards (from any revision), or forwards from revision 0,
		// already proves the stream has no events, since every stream that
		// has one has revision 0: only an empty read forwards from further
		// on must ask again.
		if dir == eventstore.Backwards || from == 0 {
			return nil, fmt.Errorf("sqlite: read %s: %w", stream, eventstore.ErrStreamNotFound)
		}
		return nil, s.streamExists(ctx, stream)
	}
	return events, nil
}

func (s *Store) streamExists(ctx context.Context, stream string) error {
	var one int
	err := s.reads.exists.QueryRowContext(ctx, stream).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("sqlite: read %s: %w", stream, eventstore.ErrStreamNotFound)
	case err != nil:
		return s.readErr(ctx, "read "+stream, err)
	}
	return nil
}

// ReadAll implements eventstore.Store.
func (s *Store) ReadAll(ctx context.Context, after eventstore.Position, max int) ([]eventstore.RecordedEvent, error) {
	return s.readLog(ctx, after, max, nil, nil)
}

var _ eventstore.PageReader = (*Store)(nil)

// ReadAllInto implements eventstore.PageReader.
func (s *Store) ReadAllInto(ctx context.Context, after eventstore.Position, max int, p *eventstore.Page) error {
	clear(p.Events[:cap(p.Events)]) // the last page's strings, for the collector
	p.Bytes = p.Bytes[:0]
	events, err := s.readLog(ctx, after, max, p.Events[:0], &p.Bytes)
	p.Events = events
	return err
}

var _ eventstore.PositionReader = (*Store)(nil)

// ReadAt implements eventstore.PositionReader: an event's position is its
// sequence number, the log's own key.
func (s *Store) ReadAt(ctx context.Context, positions []eventstore.Position) ([]eventstore.RecordedEvent, error) {
	if s.isClosed() {
		return nil, fmt.Errorf("sqlite: read at positions: %w", eventstore.ErrClosed)
	}
	seqs := make([]int64, len(positions))
	for i, p := range positions {
		if p.Commit != p.Prepare || p.Commit == 0 || p.Commit > math.MaxInt64 {
			return nil, fmt.Errorf("sqlite: read at %s: %w", p, eventstore.ErrEventNotFound)
		}
		seqs[i] = int64(p.Commit)
	}
	c, err := s.logs.get(ctx)
	if err != nil {
		return nil, s.readErr(ctx, "read at positions", err)
	}
	events, err := c.readAt(ctx, seqs)
	s.logs.put(c)
	if errors.Is(err, eventstore.ErrEventNotFound) {
		return nil, fmt.Errorf("sqlite: read at positions: %w", err)
	}
	if err != nil {
		return nil, s.readErr(ctx, "read at positions", err)
	}
	return events, nil
}

// readLog reads at most max events after `after` onto events (a new
// slice when nil), their bytes in arrays of their own or, with buf, at
// the end of *buf.
func (s *Store) readLog(ctx context.Context, after eventstore.Position, max int, events []eventstore.RecordedEvent, buf *[]byte) ([]eventstore.RecordedEvent, error) {
	if s.isClosed() {
		return events, fmt.Errorf("sqlite: read all: %w", eventstore.ErrClosed)
	}
	if max <= 0 {
		return events, fmt.Errorf("sqlite: read all: max must be positive, got %d", max)
	}
	// An event at seq is at Position{seq, seq}; it is after `after` when seq
	// > after.Commit, or seq == after.Commit and after.Prepare < seq (a
	// position this store did not issue, but still ordered correctly).
	if after.Commit >= math.MaxInt64 {
		return events, nil
	}
	minSeq := int64(after.Commit) // events with seq > minSeq
	if after.Commit > 0 && after.Prepare < after.Commit {
		minSeq--
	}
	if s.tail != nil {
		if recent, ok := s.tail.after(minSeq, max); ok {
			if events == nil {
				return recent, nil
			}
			// The tail's events are never changed: they outlive a page.
			return append(events, recent...), nil
		}
	}
	if events == nil {
		events = make([]eventstore.RecordedEvent, 0, min(max, maxPageHint))
	}
	c, err := s.logs.get(ctx)
	if err != nil {
		return events, s.readErr(ctx, "read all", err)
	}
	got, err := c.readAll(ctx, minSeq, max, events, buf)
	s.logs.put(c)
	if err != nil {
		return events[:0], s.readErr(ctx, "read all", err)
	}
	return got, nil
}

// readErr reports a cancelled read as the ctx error and a read on a closed
// store as ErrClosed.
func (s *Store) readErr(ctx context.Context, what string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	if s.isClosed() || errors.Is(err, sql.ErrConnDone) || errors.Is(err, sql.ErrTxDone) {
		return fmt.Errorf("sqlite: %s: %w", what, eventstore.ErrClosed)
	}
	return fmt.Errorf("sqlite: %s: %w", what, classify(err))
}

// scanner decodes rows into RecordedEvents. Data and Metadata are the
// driver's own byte slices, not copies: modernc.org/sqlite makes a new
// slice for every blob of every row and never reuses it, so the
// sql.RawBytes it hands over stays valid after the next row, which
// database/sql does not promise of a driver in general. Copying them (into
// a slab, as this did) cost a rebuild of ten million events a twentieth of
// its CPU for bytes that were already the event's own. A driver that
// reused its buffers would fail the conformance suite's reads, which check
// every event's bytes after a whole page is read
// (TestReadPageKeepsEveryEventsBytes).
type scanner struct {
	seq, revision  int64
	id, data, meta sql.RawBytes
	stream, typ    string
	dest           []any // the columns of a stream read
	destWithStream []any // the columns of a read of the global log
}

func (sc *scanner) scan(rows *sql.Rows, ev *eventstore.RecordedEvent, withStream bool) error {
	if sc.dest == nil {
		sc.dest = []any{&sc.seq, &sc.revision, &sc.id, &sc.typ, &sc.data, &sc.meta}
		sc.destWithStream = []any{&sc.seq, &sc.stream, &sc.revision, &sc.id, &sc.typ, &sc.data, &sc.meta}
	}
	dest := sc.dest
	if withStream {
		dest = sc.destWithStream
	}
	if err := rows.Scan(dest...); err != nil {
		return err
	}
	if len(sc.id) != len(ev.ID) {
		return fmt.Errorf("event at position %d has a %d-byte id", sc.seq, len(sc.id))
	}
	copy(ev.ID[:], sc.id)
	ev.Position = position(sc.seq)
	ev.Revision = uint64(sc.revision)
	ev.Type = sc.typ // the driver made a new string for this row
	if withStream {
		ev.Stream = sc.stream
	}
	ev.Data = own(sc.data)
	ev.Metadata = own(sc.meta)
	return nil
}

// own returns the driver's slice as the event's, capped so that an append
// to it cannot reach memory it does not own; an empty blob is an empty,
// non-nil slice, as it was read.
func own(b sql.RawBytes) []byte {
	if b == nil {
		return []byte{}
	}
	return b[:len(b):len(b)]
}

// subscribePage is how many events SubscribeAll reads at a time.
const subscribePage = 1024

// SubscribeAll implements eventstore.Store. It reads pages from `after`
// until it is caught up, then waits for the next commit (or, on a read-only
// store, the poll interval) and reads again, always from the last event it
// delivered, so the catch-up and live phases meet with no gap and no
// duplicate. A closed store ends it with ErrClosed.
func (s *Store) SubscribeAll(ctx context.Context, after eventstore.Position, fn func(eventstore.RecordedEvent) error) error {
	var tick <-chan time.Time
	if s.readOnly {
		t := time.NewTicker(s.opts.pollInterval)
		defer t.Stop()
		tick = t.C
	}
	pos := after
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		// Take the signal before reading: a commit that lands after the
		// read then closes it, and is never missed.
		signal := s.commitSignal()
		events, err := s.ReadAll(ctx, pos, subscribePage)
		if err != nil {
			return err
		}
		for _, ev := range events {
			if err := fn(ev); err != nil {
				return err
			}
			pos = ev.Position
		}
		if len(events) == subscribePage {
			continue // still catching up
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.closedCh:
			return fmt.Errorf("sqlite: subscribe: %w", eventstore.ErrClosed)
		case <-signal:
		case <-tick:
		}
	}
}
