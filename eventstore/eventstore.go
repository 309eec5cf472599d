// Package eventstore defines the event store the product is built on: streams
// appended with an expected revision, read forwards and backwards, and one
// global log that can be read and subscribed to from a position.
//
// The semantics are EventStoreDB's (the production store), so that every
// implementation, the embedded SQLite file included, behaves the same and
// passes the same conformance suite (package eventstoretest):
//
//   - A stream's revisions start at 0 and have no gaps.
//   - An append is atomic: all of its events are written or none is.
//   - An append whose events' ids are already the events written at the
//     expected revision is a retry: it succeeds and writes nothing.
//   - The global log orders every event of every stream; a Position is
//     strictly increasing along it.
package eventstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// Store is what the rest of the product needs from an event store.
// Implementations must be safe for concurrent use.
type Store interface {
	// Append writes events to the end of stream if the stream's state matches
	// expected, and returns where they landed. A mismatch is a
	// *WrongExpectedRevisionError (errors.Is(err, ErrWrongExpectedRevision)).
	Append(ctx context.Context, stream string, expected ExpectedRevision, events ...EventData) (AppendResult, error)

	// ReadStream returns up to max events of stream starting at revision from
	// (inclusive), in the given direction. Reading backwards from StreamEnd
	// starts at the last event. A stream that has no events is ErrStreamNotFound.
	ReadStream(ctx context.Context, stream string, dir Direction, from uint64, max int) ([]RecordedEvent, error)

	// ReadAll returns up to max events of the global log whose position is
	// strictly after `after`, in log order. Start reads from the beginning.
	ReadAll(ctx context.Context, after Position, max int) ([]RecordedEvent, error)

	// SubscribeAll calls fn for every event after `after`, in log order: first
	// the events already written (catch-up), then new ones as they are
	// appended (live), with no gap and no duplicate between the two. It blocks
	// until ctx is done (returning ctx.Err()), fn returns an error (returned
	// as is), or the store fails.
	SubscribeAll(ctx context.Context, after Position, fn func(RecordedEvent) error) error

	// Close releases the store. Appends acknowledged before Close are durable.
	Close() error
}

// BatchAppender is implemented by a store that can append to many streams
// in one atomic write (the embedded store: one transaction, one fsync).
// It is optional: EventStoreDB appends to one stream atomically, never to
// two, so a caller that has one checks for it and otherwise appends each
// entry with Append (an import does; see internal/audit).
type BatchAppender interface {
	// AppendBatch appends every entry, in order, as one all-or-nothing
	// write: each entry's Expected is checked against its stream as the
	// entries before it in the batch left it (so a stream may appear in
	// several entries), and a mismatch in any entry fails the whole batch
	// with that entry's *WrongExpectedRevisionError, writing nothing. An
	// entry that is a retry of an append already written (its event ids
	// at its expected revision) writes nothing and answers where it
	// landed, as Append does. On success it returns one AppendResult per
	// entry; the entries' events are in the global log in entry order.
	AppendBatch(ctx context.Context, entries []StreamAppend) ([]AppendResult, error)
}

// PageReader is implemented by a store that can read the global log into
// memory its caller hands back. It is optional, as BatchAppender is: a
// verification reads every event once and keeps none of its bytes, and
// with ReadAll every event's bytes were a new array for the collector to
// find and free, ten million times over a large log. A caller that has
// one reuses a Page for read after read and otherwise calls ReadAll.
type PageReader interface {
	// ReadAllInto is ReadAll into p: it replaces p.Events with at most
	// max events after `after`, in log order. Their Data and Metadata
	// are in p's memory, valid until p is read into again; everything
	// else about them (their Stream and Type strings) is theirs, as from
	// ReadAll.
	ReadAllInto(ctx context.Context, after Position, max int, p *Page) error
}

// Page is a page of the global log read by a PageReader, and the memory it
// is read into (which it keeps for the next read).
type Page struct {
	Events []RecordedEvent
	// Bytes holds the events' Data and Metadata; only a PageReader
	// touches it.
	Bytes []byte
}

// PositionReader is implemented by a store that can look events up by
// their positions in the global log. It is optional: a page of the API's
// event history names its events by position, and the embedded store
// finds one by its sequence number with a single lookup in the log's own
// B-tree, where ReadStream searches the stream index first.
type PositionReader interface {
	// ReadAt returns the events at the given positions, in that order. A
	// position that holds no event is an error wrapping ErrEventNotFound.
	ReadAt(ctx context.Context, positions []Position) ([]RecordedEvent, error)
}

// PagePool keeps the Pages of a PageReader's reader for reads to come: a
// page given back is read into again, so a scan allocates about as many
// pages as it holds at once. Safe for concurrent use.
type PagePool struct{ free chan *Page }

// NewPagePool returns a pool that keeps up to n pages given back; more are
// dropped, for the collector.
func NewPagePool(n int) *PagePool { return &PagePool{free: make(chan *Page, n)} }

// ReadAllInto reads a page with r into a page of the pool (one given back,
// or a new one) and returns its events and the function that gives the
// page back once nothing holds them.
func (pp *PagePool) ReadAllInto(ctx context.Context, r PageReader, after Position, max int) ([]RecordedEvent, func(), error) {
	var p *Page
	select {
	case p = <-pp.free:
	default:
		p = new(Page)
	}
	if err := r.ReadAllInto(ctx, after, max, p); err != nil {
		return nil, nil, err
	}
	return p.Events, func() {
		select {
		case pp.free <- p:
		default: // as many kept as the bound: this one goes
		}
	}, nil
}

// StreamAppend is one entry of a batch: what one Append would take.
type StreamAppend struct {
	Stream   string
	Expected ExpectedRevision
	Events   []EventData
}

// Direction of a stream read.
type Direction int

const (
	Forwards Direction = iota
	Backwards
)

// StreamEnd, as the `from` of a backwards read, starts at a stream's last event.
const StreamEnd = ^uint64(0)

// EventData is an event to append. The store does not interpret Data or
// Metadata; both are JSON documents written by the domain layer.
type EventData struct {
	ID       uuid.UUID
	Type     string
	Data     []byte
	Metadata []byte
}

// RecordedEvent is an event as stored. Its byte slices belong to the
// receiver: a store never reuses or changes them after handing them over, so
// an event may be kept, or passed to another goroutine, after the call or
// callback that delivered it returns.
type RecordedEvent struct {
	ID       uuid.UUID
	Stream   string
	Revision uint64
	Position Position
	Type     string
	Data     []byte
	Metadata []byte
}

// AppendResult tells where an append landed: the revision of its last event
// and the global position of its last event.
type AppendResult struct {
	NextRevision uint64
	Position     Position
}

// Position is a place in the global log. EventStoreDB names it by a
// (commit, prepare) pair; the embedded store uses its sequence number for
// both. Positions compare by Commit, then Prepare.
type Position struct {
	Commit  uint64
	Prepare uint64
}

// Start is the position before the first event of the log.
var Start = Position{}

// Less reports whether p comes before q in the log.
func (p Position) Less(q Position) bool {
	if p.Commit != q.Commit {
		return p.Commit < q.Commit
	}
	return p.Prepare < q.Prepare
}

// String encodes the position losslessly as "commit-prepare" in hex digits:
// the opaque form used in the API and in checkpoints.
func (p Position) String() string {
	return strconv.FormatUint(p.Commit, 16) + "-" + strconv.FormatUint(p.Prepare, 16)
}

// ParsePosition decodes a Position encoded by String.
func ParsePosition(s string) (Position, error) {
	c, pr, ok := strings.Cut(s, "-")
	if !ok {
		return Position{}, fmt.Errorf("%w: %q", ErrBadPosition, s)
	}
	commit, err1 := strconv.ParseUint(c, 16, 64)
	prepare, err2 := strconv.ParseUint(pr, 16, 64)
	p := Position{Commit: commit, Prepare: prepare}
	// Only the form String writes is accepted (no upper case, no leading
	// zeros), so that one position has one spelling and a cursor compares
	// as text.
	if err1 != nil || err2 != nil || p.String() != s {
		return Position{}, fmt.Errorf("%w: %q", ErrBadPosition, s)
	}
	return p, nil
}

// ExpectedRevision is the condition an append places on the stream's state.
type ExpectedRevision struct {
	kind     expectKind
	revision uint64
}

type expectKind uint8

const (
	expectAny expectKind = iota
	expectNoStream
	expectStreamExists
	expectExact
)

// Any appends whatever the stream's state.
func Any() ExpectedRevision { return ExpectedRevision{kind: expectAny} }

// NoStream appends only if the stream has no events.
func NoStream() ExpectedRevision { return ExpectedRevision{kind: expectNoStream} }

// StreamExists appends only if the stream has at least one event.
func StreamExists() ExpectedRevision { return ExpectedRevision{kind: expectStreamExists} }

// Exact appends only if the stream's last event has revision rev.
func Exact(rev uint64) ExpectedRevision { return ExpectedRevision{kind: expectExact, revision: rev} }

// IsAny, IsNoStream and IsStreamExists report the mode; Revision reports the
// exact revision and whether the mode is exact.
func (e ExpectedRevision) IsAny() bool          { return e.kind == expectAny }
func (e ExpectedRevision) IsNoStream() bool     { return e.kind == expectNoStream }
func (e ExpectedRevision) IsStreamExists() bool { return e.kind == expectStreamExists }
func (e ExpectedRevision) Revision() (uint64, bool) {
	return e.revision, e.kind == expectExact
}

func (e ExpectedRevision) String() string {
	switch e.kind {
	case expectNoStream:
		return "no stream"
	case expectStreamExists:
		return "stream exists"
	case expectExact:
		return "revision " + strconv.FormatUint(e.revision, 10)
	default:
		return "any"
	}
}

// Matches reports whether a stream whose last revision is last (exists false
// when it has no events) satisfies e.
func (e ExpectedRevision) Matches(last uint64, exists bool) bool {
	switch e.kind {
	case expectNoStream:
		return !exists
	case expectStreamExists:
		return exists
	case expectExact:
		return exists && last == e.revision
	default:
		return true
	}
}

var (
	// ErrWrongExpectedRevision is the sentinel of *WrongExpectedRevisionError.
	ErrWrongExpectedRevision = errors.New("wrong expected revision")
	// ErrStreamNotFound is returned when reading a stream that has no events.
	ErrStreamNotFound = errors.New("stream not found")
	// ErrBadPosition is returned for a position string the store did not issue.
	ErrBadPosition = errors.New("bad position")
	// ErrEventNotFound is returned by PositionReader.ReadAt for a position
	// that holds no event.
	ErrEventNotFound = errors.New("no event at that position")
	// ErrUnavailable wraps failures to reach the store, or to write it (a
	// full disk, a file made read-only, an I/O error): retryable by the
	// caller, since each clears without a restart.
	ErrUnavailable = errors.New("event store unavailable")
	// ErrClosed is returned by a store used after Close.
	ErrClosed = errors.New("event store closed")
	// ErrLocked is returned when another process already writes the store.
	ErrLocked = errors.New("event store is locked by another process")
)

// WrongExpectedRevisionError reports an optimistic-concurrency conflict.
type WrongExpectedRevisionError struct {
	Stream   string
	Expected ExpectedRevision
	// Actual is the stream's last revision; ActualExists is false when the
	// stream has no events.
	Actual       uint64
	ActualExists bool
}

func (e *WrongExpectedRevisionError) Error() string {
	actual := "no stream"
	if e.ActualExists {
		actual = "revision " + strconv.FormatUint(e.Actual, 10)
	}
	return fmt.Sprintf("append to %s: expected %s, stream is at %s", e.Stream, e.Expected, actual)
}

func (e *WrongExpectedRevisionError) Unwrap() error { return ErrWrongExpectedRevision }
