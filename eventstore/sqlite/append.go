package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/partnercenter/multichannel/eventstore"
	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// appendRequest is one Append waiting for the writer.
type appendRequest struct {
	stream   string
	expected eventstore.ExpectedRevision
	events   []eventstore.EventData
	// entries, when set, make the request an AppendBatch: committed alone,
	// all or nothing (stream, expected and events are then unused).
	entries []eventstore.StreamAppend

	// state settles the race between a caller giving up (its ctx ended) and
	// the writer taking the request into a batch: whoever moves it out of
	// statePending first wins. Once the writer has taken it, the append is
	// committed or failed with its batch whatever the caller's ctx says.
	state atomic.Int32
	done  chan appendResponse // buffered: the writer never blocks on it
}

const (
	statePending int32 = iota
	stateTaken
	stateAbandoned
)

type appendResponse struct {
	result  eventstore.AppendResult
	results []eventstore.AppendResult // an AppendBatch's, one per entry
	err     error
}

// Append implements eventstore.Store. The append is queued for the writer
// goroutine, which commits it with whatever else is waiting in one
// transaction. If ctx ends before the writer takes the append into a batch,
// Append returns ctx.Err() and nothing is written; once the append is in a
// committing batch, Append waits for the commit and its outcome stands (the
// events are durable if it succeeded), whatever ctx says.
func (s *Store) Append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	if s.readOnly {
		return eventstore.AppendResult{}, fmt.Errorf("sqlite: append to %s: %w", stream, ErrReadOnly)
	}
	if stream == "" {
		return eventstore.AppendResult{}, errors.New("sqlite: append: empty stream name")
	}
	resp, err := s.submit(ctx, &appendRequest{stream: stream, expected: expected, events: events})
	if err != nil {
		return eventstore.AppendResult{}, fmt.Errorf("sqlite: append to %s: %w", stream, err)
	}
	return resp.result, resp.err
}

var _ eventstore.BatchAppender = (*Store)(nil)

// AppendBatch implements eventstore.BatchAppender: the entries are
// committed in one transaction of their own, with one fsync, through the
// same writer as Append (so the file keeps its one writer, and the batch's
// events are contiguous in the log). As with Append, once the writer has
// taken the batch its outcome stands whatever ctx says.
func (s *Store) AppendBatch(ctx context.Context, entries []eventstore.StreamAppend) ([]eventstore.AppendResult, error) {
	if s.readOnly {
		return nil, fmt.Errorf("sqlite: append batch: %w", ErrReadOnly)
	}
	if len(entries) == 0 {
		return nil, nil
	}
	for i, e := range entries {
		if e.Stream == "" {
			return nil, fmt.Errorf("sqlite: append batch: entry %d: empty stream name", i)
		}
	}
	resp, err := s.submit(ctx, &appendRequest{entries: entries})
	if err != nil {
		return nil, fmt.Errorf("sqlite: append batch of %d entries: %w", len(entries), err)
	}
	return resp.results, resp.err
}

// submit commits req or queues it for the writer, and waits for its
// answer. The error is ctx's, or ErrClosed; the answer's own error is in
// the response.
func (s *Store) submit(ctx context.Context, req *appendRequest) (appendResponse, error) {
	if err := ctx.Err(); err != nil {
		return appendResponse{}, err
	}
	req.done = make(chan appendResponse, 1)
	// The read lock keeps Close from closing the queue under a send, and
	// the write connection under a direct commit.
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return appendResponse{}, eventstore.ErrClosed
	}
	if resp, ok := s.w.direct(req); ok {
		s.mu.RUnlock()
		return resp, nil
	}
	select {
	case s.queue <- req:
		s.mu.RUnlock()
	case <-ctx.Done():
		s.mu.RUnlock()
		return appendResponse{}, ctx.Err()
	}
	select {
	case resp := <-req.done:
		return resp, nil
	case <-ctx.Done():
		if req.state.CompareAndSwap(statePending, stateAbandoned) {
			return appendResponse{}, ctx.Err()
		}
		return <-req.done, nil // already in a batch: its outcome stands
	}
}

// head is a stream's last event: its revision and global position.
type head struct {
	exists   bool
	revision uint64
	seq      int64
}

// AnyRetryWindow is how many of a stream's last revisions an append with
// ExpectedRevision Any searches for its first event id, to recognise a
// retry. The search walks UNIQUE(stream, revision), so no index on the id
// costs every append a WAL frame; bounding it keeps a retry's cost
// independent of the stream's length. A retry comes within seconds of its
// original, long before a stream grows by 1,000 revisions (EventStoreDB's
// own Any idempotency is likewise best effort over recent events). The
// price is that an Any append that is not a retry, to a stream of 1,000
// events or more, reads that many rows where the index took one probe;
// the product's own appends expect NoStream or an exact revision.
const AnyRetryWindow = 1000

// maxCachedHeads bounds the head cache. The database is the truth and only
// the writer writes it, so forgetting every cached head is always safe.
const maxCachedHeads = 200_000

// writer owns the write connection and the head cache. Whoever holds
// its turn (the writer goroutine, or an appender committing directly)
// uses them; nobody else does.
type writer struct {
	s     *Store
	db    *sql.DB
	heads map[string]head

	// conn is the write connection, held from the first commit on (nil
	// until then, and after a failure that needs the file opened afresh),
	// with the statements prepared on it. Transactions are BEGIN and
	// COMMIT on it, not a *sql.Tx: database/sql starts a goroutine per
	// Tx to watch its context, and starting it and waking it at the end
	// woke a parked thread twice per commit.
	conn                               *sql.Conn
	insert, loadHead, byRevision, byID *sql.Stmt
	begin, commitTx, rollback          *sql.Stmt

	// turn holds a token while someone commits.
	turn chan struct{}
	// last is how many appends the last commit answered, average the
	// commits' moving average of it (weight 1/8): how concurrent the
	// appenders are (see run).
	last    int
	average float64
}

func newWriter(s *Store) (*writer, error) {
	w := &writer{s: s, db: s.wdb, heads: make(map[string]head), turn: make(chan struct{}, 1)}
	if err := w.open(); err != nil {
		return nil, err
	}
	return w, nil
}

// open takes the write connection and prepares the writer's statements on it.
func (w *writer) open() error {
	conn, err := w.db.Conn(context.Background())
	if err != nil {
		return fmt.Errorf("open the write connection: %w", err)
	}
	w.conn = conn
	prep := func(q string) *sql.Stmt {
		if err != nil {
			return nil
		}
		var st *sql.Stmt
		st, err = conn.PrepareContext(context.Background(), q)
		return st
	}
	w.insert = prep(`INSERT INTO events (stream, revision, id, type, data, metadata) VALUES (?, ?, ?, ?, ?, ?)`)
	w.loadHead = prep(`SELECT revision, seq FROM events WHERE stream = ? ORDER BY revision DESC LIMIT 1`)
	w.byRevision = prep(`SELECT id, seq FROM events WHERE stream = ? AND revision >= ? ORDER BY revision LIMIT ?`)
	w.byID = prep(`SELECT revision FROM events WHERE stream = ? AND revision >= ? AND id = ? ORDER BY revision LIMIT 1`)
	w.begin = prep(`BEGIN`)
	w.commitTx = prep(`COMMIT`)
	w.rollback = prep(`ROLLBACK`)
	if err != nil {
		w.release()
		return fmt.Errorf("prepare writer statements: %w", err)
	}
	return nil
}

// release closes the statements and gives the connection back to db.
func (w *writer) release() {
	for _, st := range []**sql.Stmt{&w.insert, &w.loadHead, &w.byRevision, &w.byID, &w.begin, &w.commitTx, &w.rollback} {
		if *st != nil {
			(*st).Close()
			*st = nil
		}
	}
	if w.conn != nil {
		w.conn.Close()
		w.conn = nil
	}
}

// run is the writer goroutine: it takes every append waiting in the queue,
// commits them in one transaction, answers them, and repeats until Close
// closes the queue and the queue is drained.
//
// When recent batches held more than one append (appenders are concurrent)
// and fewer have come yet, it lingers before committing, until as many are
// there as the larger of the last batch and the batches' moving average,
// as long as appends keep arriving less than lingerGap apart, and for at
// most lingerMax: one fsync then answers more of them, and appenders that
// are all waiting are not kept waiting. The commit (the WAL frames' writes
// and the fsync, which the kernel spends real CPU on) costs per batch, not
// per event; under the API's load with 64 clients, batches grew from about
// 5 appends to about 15, and the CPU per append fell (docs/load.md). The
// average keeps one small batch from making the next small too: with the
// last batch alone as the target, one commit in eight answered a single
// append. A lone appender commits by itself (direct); after a burst, it
// waits lingerGap at most, until the average has decayed.
func (w *writer) run() {
	defer close(w.s.done)
	batch := make([]*appendRequest, 0, w.s.opts.maxBatch)
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	for {
		req, ok := <-w.s.queue
		if !ok {
			return
		}
		w.turn <- struct{}{} // wait out a direct commit
		batch = append(batch[:0], req)
		open := w.drain(&batch)
		target := max(w.last, int(w.average+0.5))
		if open && target > 1 && len(batch) < target && w.s.opts.lingerMax > 0 {
			deadline := time.Now().Add(w.s.opts.lingerMax)
		wait:
			for len(batch) < min(target, w.s.opts.maxBatch) {
				linger.Reset(min(lingerGap, time.Until(deadline)))
				select {
				case req, ok := <-w.s.queue:
					linger.Stop()
					if !ok {
						break wait
					}
					batch = append(batch, req)
					if open = w.drain(&batch); !open || time.Now().After(deadline) {
						break wait
					}
				case <-linger.C:
					break wait
				}
			}
		}
		w.commitCounted(batch)
		<-w.turn
		clear(batch) // let the answered requests be collected
	}
}

// direct commits req on its caller's goroutine when no other append is
// waiting or being committed and recent commits answered one append each:
// a lone appender's case, which then hands nothing to the writer
// goroutine and waits for no answer from it. Appenders that are
// concurrent queue as before, so that their appends share commits. The
// caller holds s.mu's read lock, which keeps Close waiting.
func (w *writer) direct(req *appendRequest) (appendResponse, bool) {
	if len(w.s.queue) > 0 {
		return appendResponse{}, false
	}
	select {
	case w.turn <- struct{}{}:
	default:
		return appendResponse{}, false // a commit is under way: join the queue
	}
	defer func() { <-w.turn }()
	if len(w.s.queue) > 0 || max(w.last, int(w.average+0.5)) > 1 {
		return appendResponse{}, false
	}
	w.commitCounted([]*appendRequest{req})
	return <-req.done, true
}

// commitCounted commits batch and counts it into the moving average. The
// caller holds the turn.
func (w *writer) commitCounted(batch []*appendRequest) {
	w.last = len(batch)
	w.average += (float64(w.last) - w.average) / 8
	w.commit(batch)
}

// close releases the connection, once the writer goroutine has exited
// and no direct commit can start.
func (w *writer) close() {
	w.turn <- struct{}{}
	w.release()
}

// lingerGap is how long the writer waits for one more append before it
// commits what it has (see run).
const lingerGap = 100 * time.Microsecond

// drain adds what waits in the queue to batch, up to the batch limit, and
// reports whether the queue is still open.
func (w *writer) drain(batch *[]*appendRequest) bool {
	for len(*batch) < w.s.opts.maxBatch {
		select {
		case req, ok := <-w.s.queue:
			if !ok {
				return false
			}
			*batch = append(*batch, req)
		default:
			return true
		}
	}
	return true
}

// outcome is an append's result within a batch, sent once the batch's fate
// is known.
type outcome struct {
	req    *appendRequest
	result eventstore.AppendResult
	err    error // a per-append failure (wrong expected revision), not a batch failure
}

// commit writes one batch: its Appends in one transaction, and each
// AppendBatch in a transaction of its own (all or nothing, which a
// conflict of another append must not undo), in the order they came.
func (w *writer) commit(batch []*appendRequest) {
	from := 0
	for i, req := range batch {
		if req.entries == nil {
			continue
		}
		if from < i {
			w.commitAppends(batch[from:i])
		}
		w.commitBatch(req)
		from = i + 1
	}
	if from < len(batch) {
		w.commitAppends(batch[from:])
	}
}

// commitAppends writes Appends in one transaction.
func (w *writer) commitAppends(batch []*appendRequest) {
	outcomes := make([]outcome, 0, len(batch))
	for _, req := range batch {
		if req.state.CompareAndSwap(statePending, stateTaken) {
			outcomes = append(outcomes, outcome{req: req})
		}
	}
	if len(outcomes) == 0 {
		return
	}
	start := time.Now()
	events := 0
	// batchHeads holds the heads this batch moved; they reach w.heads only
	// after the commit succeeds, so a failed commit leaves the cache true.
	batchHeads := make(map[string]head, len(outcomes))
	var written []eventstore.RecordedEvent
	err := w.inTx(batchHeads, func(b *batchTx) (bool, error) {
		wrote := false
		for i := range outcomes {
			o := &outcomes[i]
			n, err := w.apply(b, o)
			if err != nil {
				return false, err
			}
			wrote = wrote || n > 0
			events += n
		}
		written = b.written
		return wrote, nil
	})
	w.observe(len(outcomes), events, start, err)
	if err != nil {
		err = w.failed(err, len(outcomes))
		for _, o := range outcomes {
			o.req.done <- appendResponse{err: err}
		}
		return
	}
	w.committed(batchHeads, written, events)
	for _, o := range outcomes {
		o.req.done <- appendResponse{result: o.result, err: o.err}
	}
	w.checkpoint(events)
}

// commitBatch writes one AppendBatch in a transaction of its own: a wrong
// expected revision in any entry rolls back every entry.
func (w *writer) commitBatch(req *appendRequest) {
	if !req.state.CompareAndSwap(statePending, stateTaken) {
		return
	}
	start := time.Now()
	events := 0
	batchHeads := make(map[string]head, len(req.entries))
	outcomes := make([]outcome, len(req.entries))
	var written []eventstore.RecordedEvent
	var conflict error
	err := w.inTx(batchHeads, func(b *batchTx) (bool, error) {
		wrote := false
		for i, e := range req.entries {
			o := &outcomes[i]
			o.req = &appendRequest{stream: e.Stream, expected: e.Expected, events: e.Events}
			n, err := w.apply(b, o)
			if err != nil {
				return false, err
			}
			if o.err != nil {
				conflict = fmt.Errorf("sqlite: append batch: entry %d: %w", i, o.err)
				return false, nil // the deferred rollback undoes the entries before it
			}
			wrote = wrote || n > 0
			events += n
		}
		written = b.written
		return wrote, nil
	})
	if conflict != nil {
		events = 0
	}
	w.observe(len(outcomes), events, start, err)
	switch {
	case err != nil:
		req.done <- appendResponse{err: w.failed(err, len(outcomes))}
		return
	case conflict != nil:
		// The heads this batch read are true of the file; the ones it
		// moved were rolled back with it: keep none of them.
		req.done <- appendResponse{err: conflict}
		return
	}
	w.committed(batchHeads, written, events)
	results := make([]eventstore.AppendResult, len(outcomes))
	for i, o := range outcomes {
		results[i] = o.result
	}
	req.done <- appendResponse{results: results}
	w.checkpoint(events)
}

// checkpoint tells the checkpointer about a commit's events once its
// appends are answered, so that the writer's part of a checkpoint, when
// one is due, delays no append of that commit.
func (w *writer) checkpoint(events int) {
	if events > 0 && w.conn != nil {
		w.s.ckpt.committed(w.conn, events)
	}
}

// inTx runs fn in one write transaction and commits it when fn says that
// it wrote; otherwise (nothing written, or an error) it rolls back.
func (w *writer) inTx(heads map[string]head, fn func(*batchTx) (bool, error)) error {
	if w.conn == nil {
		if err := w.open(); err != nil {
			return err
		}
	}
	if _, err := w.begin.Exec(); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			// Ends the read, or the write that failed (failed rolls back
			// again after a failed COMMIT, which can leave it open).
			_, _ = w.rollback.Exec()
		}
	}()
	b := &batchTx{heads: heads, w: w}
	wrote, err := fn(b)
	if err != nil || !wrote {
		return err // nothing to make durable
	}
	if _, err := w.commitTx.Exec(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	committed = true
	return nil
}

// failed cleans up after a transaction SQLite failed and returns the
// error every append of it is answered with.
func (w *writer) failed(err error, appends int) error {
	reopen := reopenNeeded(err)
	err = fmt.Errorf("sqlite: append batch of %d: %w", appends, classify(err))
	// A COMMIT that fails can leave SQLite's transaction open on the
	// one write connection, and every later batch would then fail to
	// begin: end it. "No transaction is active" is the usual answer.
	if w.conn != nil {
		_, _ = w.conn.ExecContext(context.Background(), "ROLLBACK")
	}
	if reopen {
		// Close the write connection so that the next batch opens the
		// file afresh (and prepares the statements again on it): the
		// store recovers by itself once the file is writable.
		w.release()
		w.db.SetMaxIdleConns(0)
		w.db.SetMaxIdleConns(1)
	}
	// Heads read inside the failed transaction were not changed by it,
	// but forget them all: the cache must never run ahead of the file.
	clear(w.heads)
	return err
}

// committed records a successful transaction: the heads it moved, and its
// events for the subscribers.
func (w *writer) committed(batchHeads map[string]head, written []eventstore.RecordedEvent, events int) {
	if len(w.heads)+len(batchHeads) > maxCachedHeads {
		clear(w.heads)
	}
	for stream, h := range batchHeads {
		w.heads[stream] = h
	}
	if events > 0 {
		// The tail first: a subscriber woken by the commit must find it.
		w.s.tail.add(written)
		w.s.committed()
	}
}

// batchTx is one batch's transaction: the heads it moved and the events
// it wrote.
type batchTx struct {
	heads map[string]head
	w     *writer
	// written are the events inserted, for the tail once committed.
	written []eventstore.RecordedEvent
}

func (b *batchTx) insert() *sql.Stmt     { return b.w.insert }
func (b *batchTx) loadHead() *sql.Stmt   { return b.w.loadHead }
func (b *batchTx) byRevision() *sql.Stmt { return b.w.byRevision }
func (b *batchTx) byID() *sql.Stmt       { return b.w.byID }

// head returns stream's head as of this point in the batch.
func (w *writer) head(b *batchTx, stream string) (head, error) {
	if h, ok := b.heads[stream]; ok {
		return h, nil
	}
	if h, ok := w.heads[stream]; ok {
		return h, nil
	}
	var h head
	var rev int64
	err := b.loadHead().QueryRow(stream).Scan(&rev, &h.seq)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		h = head{}
	case err != nil:
		return head{}, fmt.Errorf("load head of %s: %w", stream, err)
	default:
		h.exists, h.revision = true, uint64(rev)
	}
	b.heads[stream] = h
	return h, nil
}

// apply checks one append against its stream's head and writes it. It
// returns how many events it wrote; a wrong expected revision is recorded in
// o.err and is not an error of the batch.
func (w *writer) apply(b *batchTx, o *outcome) (int, error) {
	req := o.req
	if req.expected.IsNoStream() && len(req.events) > 0 && !w.known(b, req.stream) {
		// Creating a stream is the commonest append: rather than look for a
		// head first, insert revision 0 and let UNIQUE(stream, revision)
		// say whether the stream exists. A failed INSERT rolls back only
		// itself, not the batch's transaction.
		n, err := w.write(b, o, 0)
		if !isUniqueViolation(err) {
			return n, err
		}
	}
	h, err := w.head(b, req.stream)
	if err != nil {
		return 0, err
	}
	matches := req.expected.Matches(h.revision, h.exists)
	if matches && req.expected.IsAny() && len(req.events) > 0 && h.exists {
		// EventStoreDB's best effort for Any: an append whose first event
		// is among the stream's last AnyRetryWindow events is a retry.
		var from uint64
		if h.revision >= AnyRetryWindow {
			from = h.revision - (AnyRetryWindow - 1)
		}
		var rev int64
		err := b.byID().QueryRow(req.stream, int64(from), req.events[0].ID[:]).Scan(&rev)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return 0, fmt.Errorf("find event id in %s: %w", req.stream, err)
		default:
			ok, res, err := sameEvents(b, req, uint64(rev))
			if err != nil {
				return 0, err
			}
			if ok {
				o.result = res
				return 0, nil
			}
			o.err = wrongRevision(req, h)
			return 0, nil
		}
	}
	if !matches {
		// A retry of an append that was committed: the events where it
		// would have written carry its ids, in order.
		if first, ok := retryStart(req.expected); ok && len(req.events) > 0 && h.exists {
			same, res, err := sameEvents(b, req, first)
			if err != nil {
				return 0, err
			}
			if same {
				o.result = res
				return 0, nil
			}
		}
		o.err = wrongRevision(req, h)
		return 0, nil
	}
	if len(req.events) == 0 {
		o.result = eventstore.AppendResult{NextRevision: h.revision, Position: position(h.seq)}
		return 0, nil
	}
	next := uint64(0)
	if h.exists {
		next = h.revision + 1
	}
	return w.write(b, o, next)
}

// known reports whether the batch or the cache knows stream's head.
func (w *writer) known(b *batchTx, stream string) bool {
	if _, ok := b.heads[stream]; ok {
		return true
	}
	_, ok := w.heads[stream]
	return ok
}

// write inserts o's events at revisions next, next+1, ... and records the
// stream's new head in the batch. Only the first insert can conflict (if
// revision next is free, so are the ones after it); any error fails the
// batch, except a conflict the NoStream path in apply handles.
func (w *writer) write(b *batchTx, o *outcome, next uint64) (int, error) {
	req := o.req
	if next > math.MaxInt64-uint64(len(req.events)) {
		return 0, fmt.Errorf("stream %s is full", req.stream)
	}
	var seq int64
	for i, ev := range req.events {
		res, err := b.insert().Exec(req.stream, int64(next)+int64(i), ev.ID[:], ev.Type, nonNil(ev.Data), nonNil(ev.Metadata))
		if err != nil {
			return 0, fmt.Errorf("insert into %s: %w", req.stream, err)
		}
		if seq, err = res.LastInsertId(); err != nil {
			return 0, fmt.Errorf("insert into %s: %w", req.stream, err)
		}
		b.written = append(b.written, eventstore.RecordedEvent{
			ID: ev.ID, Stream: req.stream, Revision: next + uint64(i), Position: position(seq),
			Type: ev.Type, Data: ev.Data, Metadata: ev.Metadata,
		})
	}
	last := next + uint64(len(req.events)) - 1
	b.heads[req.stream] = head{exists: true, revision: last, seq: seq}
	o.result = eventstore.AppendResult{NextRevision: last, Position: position(seq)}
	return len(req.events), nil
}

// isUniqueViolation reports whether err is SQLite refusing a duplicate
// (stream, revision).
func isUniqueViolation(err error) bool {
	var serr *msqlite.Error
	return errors.As(err, &serr) && serr.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE
}

// retryStart is the first revision an append with expected would have
// written, for the modes where that is known.
func retryStart(expected eventstore.ExpectedRevision) (uint64, bool) {
	if expected.IsNoStream() {
		return 0, true
	}
	if rev, ok := expected.Revision(); ok && rev < math.MaxInt64 {
		return rev + 1, true
	}
	return 0, false
}

// sameEvents reports whether the events of stream from revision first on
// carry req's event ids in order, and if so the result the original append
// returned.
func sameEvents(b *batchTx, req *appendRequest, first uint64) (bool, eventstore.AppendResult, error) {
	if first > math.MaxInt64 {
		return false, eventstore.AppendResult{}, nil
	}
	rows, err := b.byRevision().Query(req.stream, int64(first), len(req.events))
	if err != nil {
		return false, eventstore.AppendResult{}, fmt.Errorf("read %s for a retry: %w", req.stream, err)
	}
	defer rows.Close()
	n := 0
	var id sql.RawBytes
	var seq int64
	for rows.Next() {
		if err := rows.Scan(&id, &seq); err != nil {
			return false, eventstore.AppendResult{}, fmt.Errorf("read %s for a retry: %w", req.stream, err)
		}
		if n >= len(req.events) || len(id) != 16 || uuid.UUID(id) != req.events[n].ID {
			return false, eventstore.AppendResult{}, nil
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return false, eventstore.AppendResult{}, fmt.Errorf("read %s for a retry: %w", req.stream, err)
	}
	if n != len(req.events) {
		return false, eventstore.AppendResult{}, nil
	}
	return true, eventstore.AppendResult{NextRevision: first + uint64(n) - 1, Position: position(seq)}, nil
}

func wrongRevision(req *appendRequest, h head) error {
	return &eventstore.WrongExpectedRevisionError{
		Stream:       req.stream,
		Expected:     req.expected,
		Actual:       h.revision,
		ActualExists: h.exists,
	}
}

func position(seq int64) eventstore.Position {
	return eventstore.Position{Commit: uint64(seq), Prepare: uint64(seq)}
}

// nonNil keeps NOT NULL columns satisfied by an event without data.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
