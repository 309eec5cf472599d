// Package esdb is the production event store: eventstore.Store on
// EventStoreDB, through its v4 gRPC client.
//
// Semantics are the ones package eventstore describes; this adapter maps them
// onto EventStoreDB's without reinterpreting anything:
//
//   - Expected revisions map one to one (Any, NoStream, StreamExists,
//     Revision(n)); a conflict is a *eventstore.WrongExpectedRevisionError
//     carrying the revision the server reported.
//   - Event ids, types, data and metadata pass through unchanged: the
//     metadata bytes are the event's user metadata, byte for byte, because a
//     hash chain is computed over them.
//   - $all positions are EventStoreDB's (commit, prepare) pairs, kept whole.
//   - Only the product's events are read from $all: event types starting
//     with "$" (system events, projection links, stream metadata) are left
//     out. A filter on event types rather than on stream-name prefixes keeps
//     every stream the product writes (guard streams, the conformance suite's
//     own streams) without a list to maintain, and is the filter EventStoreDB
//     ships for this purpose (esdb.ExcludeSystemEventsFilter).
//
// # Failures and retries
//
// Unavailability (connection refused or lost, not leader, server deadline)
// becomes an error wrapping eventstore.ErrUnavailable. Reads are retried a
// few times with backoff, as EventStoreDB's client guidance recommends for
// transient unavailability; subscriptions resubscribe from the last event
// delivered, with backoff, for as long as the caller's context lives.
// Appends are retried only with NoStream or an exact expected revision: the
// server guarantees that an append retried with the same event ids and the
// same such expectation is idempotent, so a retry after a lost acknowledgement
// writes nothing twice. With Any or StreamExists idempotency is best effort
// on the server, so those appends are not retried and the caller gets
// ErrUnavailable (the append may or may not have happened).
//
// # Tests
//
// The package's tests run the conformance suite (eventstoretest) through this
// adapter against an in-process gRPC double of EventStoreDB's streams
// protocol. To run the suite against a real server as well:
//
//	docker compose up -d eventstore
//	EVENTSTORE_URL='esdb://localhost:2113?tls=false' go test ./eventstore/esdb/
//
// Without EVENTSTORE_URL that test is skipped with a message saying so.
package esdb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"

	"github.com/partnercenter/multichannel/eventstore"
)

// Store is an eventstore.Store backed by EventStoreDB. It is safe for
// concurrent use.
type Store struct {
	cfg   esdb.Configuration
	retry retryPolicy
	log   *slog.Logger

	slots chan struct{} // one per call in flight on a pooled client
	done  chan struct{} // closed by Close: ends waits and subscriptions

	mu     sync.Mutex
	idle   []*esdb.Client // pooled clients not in use
	closed bool
}

var _ eventstore.Store = (*Store)(nil)

// Option configures Open.
type Option func(*settings)

type settings struct {
	retry retryPolicy
	log   *slog.Logger
	pool  int
}

type retryPolicy struct {
	attempts     int           // tries of one read or append, the first included
	initial, max time.Duration // backoff between tries and between resubscriptions
}

// WithLogger sets where the adapter logs retries and resubscriptions (at
// Warn) and the client library's own messages (at Debug). Default:
// slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(s *settings) {
		if l != nil {
			s.log = l
		}
	}
}

// WithRetry sets how many times a read or an idempotent append is tried
// (the first try included) and the backoff between tries, doubling from
// initial up to max. Subscriptions use the same backoff. Default: 4 tries,
// 100ms up to 2s.
func WithRetry(attempts int, initial, max time.Duration) Option {
	return func(s *settings) {
		if attempts >= 1 {
			s.retry.attempts = attempts
		}
		if initial > 0 {
			s.retry.initial = initial
		}
		if max >= s.retry.initial {
			s.retry.max = max
		}
	}
}

// WithConnections sets how many calls (appends and reads) may run at once,
// each on a gRPC connection of its own; more wait. Subscriptions have their
// own connections on top. Default: 16.
func WithConnections(n int) Option {
	return func(s *settings) {
		if n >= 1 {
			s.pool = n
		}
	}
}

// Open connects to EventStoreDB at connectionString (esdb:// or
// esdb+discover://, with the client's usual settings such as tls=false or
// nodePreference=leader) and checks that the server answers a read.
func Open(ctx context.Context, connectionString string, opts ...Option) (*Store, error) {
	st := settings{
		retry: retryPolicy{attempts: 4, initial: 100 * time.Millisecond, max: 2 * time.Second},
		log:   slog.Default(),
		pool:  16,
	}
	for _, o := range opts {
		o(&st)
	}
	cfg, err := esdb.ParseConnectionString(connectionString)
	if err != nil {
		// A url.Error repeats the whole string, password included: keep
		// only its reason.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("esdb: invalid connection string: %w", err)
	}
	logger := st.log
	cfg.Logger = func(level esdb.LogLevel, format string, args ...interface{}) {
		// The client logs every drop and reconnection as an error, expected
		// ones (a subscription closed by its caller) included; the adapter
		// logs what matters itself.
		if logger.Enabled(context.Background(), slog.LevelDebug) {
			logger.Debug("esdb client: "+fmt.Sprintf(format, args...), "level", level)
		}
	}
	s := &Store{cfg: *cfg, retry: st.retry, log: st.log,
		slots: make(chan struct{}, st.pool), done: make(chan struct{})}
	// One cheap read proves the node is reachable and the credentials work.
	err = s.withRetry(ctx, "open", func(c *esdb.Client) error {
		rs, err := c.ReadAll(ctx, esdb.ReadAllOptions{Direction: esdb.Backwards, From: esdb.End{}}, 1)
		if err != nil {
			return err
		}
		defer rs.Close()
		for {
			if _, err := rs.Recv(); err != nil {
				if errors.Is(err, io.EOF) {
					return nil
				}
				return err
			}
		}
	})
	if err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the clients. Appends acknowledged before are durable on the
// server; a running SubscribeAll returns eventstore.ErrClosed, and a call in
// flight finishes and then closes its client.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.done)
	idle := s.idle
	s.idle = nil
	s.mu.Unlock()
	for _, c := range idle {
		_ = c.Close()
	}
	return nil
}

// Append implements eventstore.Store.
func (s *Store) Append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	if len(events) == 0 {
		return eventstore.AppendResult{}, fmt.Errorf("esdb: append to %s: no events", stream)
	}
	opts := esdb.AppendToStreamOptions{ExpectedRevision: toExpected(expected)}
	data := make([]esdb.EventData, len(events))
	for i, e := range events {
		data[i] = esdb.EventData{
			EventID:     e.ID,
			EventType:   e.Type,
			ContentType: esdb.ContentTypeJson,
			Data:        e.Data,
			Metadata:    e.Metadata,
		}
	}

	// Retrying is safe only where the server makes a repeated append with the
	// same event ids a no-op: with NoStream or an exact revision. With Any or
	// StreamExists a retry after a lost acknowledgement could write twice.
	_, exact := expected.Revision()
	attempts := 1
	if exact || expected.IsNoStream() {
		attempts = s.retry.attempts
	}
	var wr *esdb.WriteResult
	op := "append to " + stream
	err := s.retryN(ctx, op, attempts, func(c *esdb.Client) error {
		var err error
		wr, err = c.AppendToStream(ctx, stream, opts, data...)
		return err
	})
	if err != nil {
		if code, ok := codeOf(err); ok && code == esdb.ErrorCodeWrongExpectedVersion {
			return eventstore.AppendResult{}, s.wrongExpected(ctx, stream, expected, err)
		}
		return eventstore.AppendResult{}, err
	}

	res := eventstore.AppendResult{
		NextRevision: wr.NextExpectedVersion,
		Position:     eventstore.Position{Commit: wr.CommitPosition, Prepare: wr.PreparePosition},
	}
	// A node answers an append with its last event's position, commit and
	// prepare alike (the request manager reports the commit's log position
	// as both). Older nodes answer an idempotent retry with no position at
	// all (zero): then the last event is read back. It is immutable, so the
	// read cannot race with other writers.
	if res.Position == eventstore.Start {
		last, err := s.ReadStream(ctx, stream, eventstore.Forwards, res.NextRevision, 1)
		if err != nil {
			return eventstore.AppendResult{}, fmt.Errorf("esdb: %s: reading back the position of revision %d: %w", op, res.NextRevision, err)
		}
		if len(last) != 1 {
			return eventstore.AppendResult{}, fmt.Errorf("esdb: %s: revision %d not found after the append", op, res.NextRevision)
		}
		res.Position = last[0].Position
	}
	return res, nil
}

func toExpected(e eventstore.ExpectedRevision) esdb.ExpectedRevision {
	if rev, ok := e.Revision(); ok {
		return esdb.Revision(rev)
	}
	switch {
	case e.IsNoStream():
		return esdb.NoStream{}
	case e.IsStreamExists():
		return esdb.StreamExists{}
	default:
		return esdb.Any{}
	}
}

// wrongExpected builds the typed conflict error. The server sends the
// stream's actual revision in the WrongExpectedVersion answer; the v4 client
// exposes it only inside its error text ("... but got '7'" or "'no_stream'"),
// so it is parsed from there. Should a later client word it differently, the
// stream's last revision is read instead (a moment later, so it may be newer).
func (s *Store) wrongExpected(ctx context.Context, stream string, expected eventstore.ExpectedRevision, cause error) error {
	e := &eventstore.WrongExpectedRevisionError{Stream: stream, Expected: expected}
	if actual, exists, ok := parseActualRevision(cause); ok {
		e.Actual, e.ActualExists = actual, exists
		return e
	}
	last, err := s.ReadStream(ctx, stream, eventstore.Backwards, eventstore.StreamEnd, 1)
	switch {
	case err == nil && len(last) == 1:
		e.Actual, e.ActualExists = last[0].Revision, true
	case err != nil && !errors.Is(err, eventstore.ErrStreamNotFound):
		s.log.Warn("esdb: could not read the actual revision after a conflict", "stream", stream, "err", err)
	}
	return e
}

// parseActualRevision reads the current revision out of the v4 client's
// wrong-expected-version error.
func parseActualRevision(err error) (actual uint64, exists, ok bool) {
	var ee *esdb.Error
	if !errors.As(err, &ee) || ee.Code() != esdb.ErrorCodeWrongExpectedVersion || ee.Err() == nil {
		return 0, false, false
	}
	return parseActualText(ee.Err().Error())
}

// parseActualText parses "wrong expected version: expecting 'X' but got
// 'Y'", Y being a revision or "no_stream".
func parseActualText(msg string) (actual uint64, exists, ok bool) {
	const marker = "but got '"
	i := strings.LastIndex(msg, marker)
	if i < 0 || !strings.HasSuffix(msg, "'") {
		return 0, false, false
	}
	got := msg[i+len(marker) : len(msg)-1]
	if got == "no_stream" {
		return 0, false, true
	}
	n, perr := strconv.ParseUint(got, 10, 64)
	if perr != nil {
		return 0, false, false
	}
	return n, true, true
}

// ReadStream implements eventstore.Store.
func (s *Store) ReadStream(ctx context.Context, stream string, dir eventstore.Direction, from uint64, max int) ([]eventstore.RecordedEvent, error) {
	if max <= 0 {
		return nil, nil
	}
	opts := esdb.ReadStreamOptions{Direction: esdb.Forwards, From: esdb.Revision(from)}
	if dir == eventstore.Backwards {
		opts.Direction = esdb.Backwards
	}
	if from == eventstore.StreamEnd {
		opts.From = esdb.End{}
	}
	var out []eventstore.RecordedEvent
	err := s.withRetry(ctx, "read "+stream, func(c *esdb.Client) error {
		out = out[:0]
		rs, err := c.ReadStream(ctx, stream, opts, uint64(max))
		if err != nil {
			return err
		}
		defer rs.Close()
		for {
			ev, err := rs.Recv()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			if ev.Event != nil {
				out = append(out, fromRecorded(ev.Event))
			}
		}
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// readAllPage bounds one read of $all. System events (projection links
// above all: each product event gets a few when the standard projections
// run) are skipped on this side, so a page reads more than it keeps.
const readAllPage = 4096

// ReadAll implements eventstore.Store.
//
// The v4 client's ReadAll sends no server-side filter (unlike
// SubscribeToAll), so system events are dropped here, by the same rule as
// the subscription's server-side filter: event types starting with "$".
// EventStoreDB reads $all from a position inclusively; the event at `after`
// is skipped to make the read exclusive as the interface asks.
func (s *Store) ReadAll(ctx context.Context, after eventstore.Position, max int) ([]eventstore.RecordedEvent, error) {
	if max <= 0 {
		return nil, nil
	}
	out := make([]eventstore.RecordedEvent, 0, min(max, 1024))
	cursor := after
	for {
		// +1 for the event at cursor, read again because reads are inclusive.
		count := min(4*(max-len(out))+1, readAllPage)
		received := 0
		err := s.withRetry(ctx, "read $all", func(c *esdb.Client) error {
			// out and cursor advance as events arrive, so a retry goes on
			// from where the failed try stopped.
			received = 0
			rs, err := c.ReadAll(ctx, esdb.ReadAllOptions{Direction: esdb.Forwards, From: toAllPosition(cursor)}, uint64(count))
			if err != nil {
				return err
			}
			defer rs.Close() // also when full: the rest of the page is not needed
			for {
				ev, err := rs.Recv()
				if errors.Is(err, io.EOF) {
					return nil
				}
				if err != nil {
					return err
				}
				received++
				if ev.Event == nil {
					continue
				}
				e := fromRecorded(ev.Event)
				if !cursor.Less(e.Position) {
					continue // the event at cursor itself (inclusive read)
				}
				cursor = e.Position
				if isSystemType(e.Type) {
					continue
				}
				out = append(out, e)
				if len(out) == max {
					return nil
				}
			}
		})
		if err != nil {
			return nil, err
		}
		if len(out) == max || received < count {
			return out, nil // full, or the end of the log
		}
	}
}

func toAllPosition(p eventstore.Position) esdb.AllPosition {
	if p == eventstore.Start {
		return esdb.Start{}
	}
	return esdb.Position{Commit: p.Commit, Prepare: p.Prepare}
}

func isSystemType(t string) bool { return strings.HasPrefix(t, "$") }

func fromRecorded(e *esdb.RecordedEvent) eventstore.RecordedEvent {
	return eventstore.RecordedEvent{
		ID:       e.EventID,
		Stream:   e.StreamID,
		Revision: e.EventNumber,
		Position: eventstore.Position{Commit: e.Position.Commit, Prepare: e.Position.Prepare},
		Type:     e.EventType,
		Data:     e.Data,
		Metadata: e.UserMetadata,
	}
}
