package projections

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/eventstore"
)

var (
	// ErrCatchUpTimeout is returned by WaitFor when its context ends before
	// the model reaches the position; it wraps the context's error too.
	ErrCatchUpTimeout = errors.New("read model did not catch up in time")
	// ErrOutOfOrder is returned by Apply for an event whose stream revision
	// is not the next one of its stream: the log was skipped or reordered.
	ErrOutOfOrder = errors.New("event out of order")
)

// Model is the read model. It is safe for many concurrent readers and one
// writer (Apply, usually called by Run).
type Model struct {
	clock func() time.Time
	// log is where reads take payloads from (see ReadLogFrom).
	log LogReader

	// applyMu serialises Apply so that decoding, which is most of its cost,
	// happens outside mu and readers are held up only by the mutation.
	applyMu sync.Mutex

	mu      sync.RWMutex
	pos     eventstore.Position
	started bool // an event has been applied (Start itself may be a real position)

	partners      map[uuid.UUID]*Partner
	customers     map[uuid.UUID]*customerState
	customerOrder chunkList[*customerState]
	subs          map[uuid.UUID]*subState
	subOrder      chunkList[*subState]
	rels          map[uuid.UUID]*relState
	relOrder      chunkList[*relState]
	// access answers "what does partner p have to do with customer c" in
	// one lookup, for visibility.
	access map[pairKey]*access
	// pending holds the relationships whose recorded status is PENDING,
	// for DueExpiries.
	pending map[uuid.UUID]*relState
	// strs and partnerIDs hold one copy of what many objects share (see
	// intern and partnerRef).
	strs       map[string]string
	partnerIDs map[uuid.UUID]*uuid.UUID
	slabs      slabs
	created    created

	// The event index: compact headers in log order, and every stream.
	headers    headerLog
	streams    streamIndex
	streamList chunkList[streamState]
	actors     map[domain.Actor]int32
	actorList  chunkList[domain.Actor]
	eventIdx   eventIndex // the streams each tenant may see (eventindex.go)
	lists      eventLists // the events each tenant that asked sees (eventlists.go)

	waitMu   sync.Mutex
	waiters  []*waiter
	sweeping bool // a sweeper ends the waits past their deadline (see wait.go)

	// handoff holds events the command side offered (see Offer).
	handoff handoff

	// first and last are the log's first event and the last one applied:
	// the identity of the log a snapshot is taken of (see snapshotfile.go).
	first, last LogEvent
}

type customerState struct {
	view      Customer // IsCSPPartner holds the onboarding flag only
	lowerName string
	pos       eventstore.Position
	subs      []*subState
	rels      []*relState
}

type subState struct {
	view Subscription
	pos  eventstore.Position
	// replacedBy lists, for a legacy subscription, the partners that made
	// each replacement, parallel to view.ReplacedByIDs.
	replacedBy []uuid.UUID
}

type relState struct {
	view Relationship // Status is the recorded one
	pos  eventstore.Position
}

type pairKey struct{ partner, customer uuid.UUID }

// access counts what ties a partner to a customer.
type access struct {
	accepted      int // ACCEPTED relationships, every attempt (usually 0 or 1; see domain.Ties)
	relationships int // relationships of any status
	sells         int // subscriptions it sells
}

// New returns an empty model at the start of the log. clock gives "now" for
// effective statuses (a PENDING request past its expiry reads EXPIRED) and
// the support plan; nil means time.Now.
func New(clock func() time.Time) *Model {
	if clock == nil {
		clock = time.Now
	}
	return &Model{
		clock:      clock,
		partners:   make(map[uuid.UUID]*Partner),
		customers:  make(map[uuid.UUID]*customerState),
		subs:       make(map[uuid.UUID]*subState),
		rels:       make(map[uuid.UUID]*relState),
		access:     make(map[pairKey]*access),
		pending:    make(map[uuid.UUID]*relState),
		strs:       make(map[string]string),
		partnerIDs: make(map[uuid.UUID]*uuid.UUID),
		streams:    newStreamIndex(0),
		actors:     make(map[domain.Actor]int32),
		lists:      eventLists{limits: DefaultEventsCacheLimits},
	}
}

func (m *Model) now() time.Time { return domain.AtAPIPrecision(m.clock()) }

// Position is the checkpoint: the position of the last event applied.
func (m *Model) Position() eventstore.Position {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.pos
}

// reached reports whether the model has applied the event at pos.
func (m *Model) reached(pos eventstore.Position) bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.started && !m.pos.Less(pos)
}

// CatchUpPage is how many events Run reads at a time (ReadAll's max)
// while it catches up with the log, and catchUpAhead how many such pages
// the reader may run ahead of the fold.
const (
	CatchUpPage  = 1024
	catchUpAhead = 4
)

// Run keeps m current: it reads the global log after m's checkpoint and
// applies every event, until ctx ends or an event cannot be applied.
//
// Reading the log, decoding it and folding it run on separate goroutines:
// the reader hands events over a buffered channel to a Folder, which
// decodes batches of them on every core and folds them in log order, so a
// rebuild at start-up costs about the fold's share alone. While it catches
// up the reader reads pages (ReadAll) and hands each over whole; once a
// page comes back short it subscribes from the last event read, and hands
// live events over as they come. A page at a time matters for a rebuild:
// handed over one by one, ten million events cost ten million channel
// operations and the goroutine wake-ups between them, on the reader's
// core, which is the rebuild's busiest. A live event that arrives alone is
// decoded and folded at once, with no hand-off (see Folder.Fold). A live
// event's buffers are its own (the subscription never reuses them), so it
// may outlive its callback; catch-up pages may be read into memory that
// comes back (see readLog).
func Run(ctx context.Context, store eventstore.Store, m *Model) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	pages := make(chan logPage, catchUpAhead)
	folded := make(chan error, 1)
	go func() {
		err := foldFrom(pages, m)
		if err != nil {
			cancel(err)
			for range pages {
				// Let the reader finish; it stops at the cancelled context.
			}
		}
		folded <- err
	}()
	err := readLog(ctx, store, m.Position(), pages)
	close(pages)
	if ferr := <-folded; ferr != nil {
		return fmt.Errorf("projections: %w", ferr)
	}
	if err != nil {
		return fmt.Errorf("projections: %w", err)
	}
	return nil
}

// logPage is what readLog hands the fold: events, and, for a page read
// into memory that comes back, the function that gives it back once they
// are applied.
type logPage struct {
	events  []eventstore.RecordedEvent
	release func() // nil: the events are theirs to keep
}

// catchUpPages is how many pages the catch-up reads into memory that
// comes back: those the reader may run ahead by, and those the Folder's
// workers hold.
const catchUpPages = catchUpAhead + 4

// readLog sends the log after pos to pages: pages of ReadAll until one is
// short, then every event the subscription delivers from there, so the two
// phases meet with no gap and no duplicate.
//
// A store that is an eventstore.PageReader reads the catch-up pages into
// memory that comes back once their events are folded: a rebuild of ten
// million events then allocates a few pages, not an array for every
// event's bytes, which the collector had to find and free. Nothing the
// fold keeps points into an event's bytes (decoding copies what it keeps).
func readLog(ctx context.Context, store eventstore.Store, pos eventstore.Position, pages chan<- logPage) error {
	send := func(p logPage) error {
		select {
		case pages <- p:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	pr, _ := store.(eventstore.PageReader)
	pool := eventstore.NewPagePool(catchUpPages)
	read := func() (logPage, error) {
		if pr == nil {
			evs, err := store.ReadAll(ctx, pos, CatchUpPage)
			return logPage{events: evs}, err
		}
		evs, release, err := pool.ReadAllInto(ctx, pr, pos, CatchUpPage)
		return logPage{events: evs, release: release}, err
	}
	for {
		p, err := read()
		if err != nil {
			return err
		}
		n := len(p.events)
		if n > 0 {
			pos = p.events[n-1].Position
			if err := send(p); err != nil {
				return err
			}
		}
		if n < CatchUpPage {
			break
		}
	}
	return store.SubscribeAll(ctx, pos, func(e eventstore.RecordedEvent) error {
		return send(logPage{events: []eventstore.RecordedEvent{e}})
	})
}

// foldFrom folds the pages of the channel until it is closed or one fails:
// a short page (a live event) is joined by what else has arrived, up to a
// batch, without waiting for more, so a batch is as large as the reader is
// ahead. A page read into memory that comes back (the catch-up's, all
// before the first live event) is folded alone, and given back once
// applied.
func foldFrom(pages <-chan logPage, m *Model) error {
	f := m.NewFolder()
	for p := range pages {
		if p.release != nil {
			if err := f.FoldThen(p.events, p.release); err != nil {
				break
			}
			continue
		}
		batch := p.events
	more:
		for len(batch) < FoldBatch {
			select {
			case q, ok := <-pages:
				if !ok {
					break more
				}
				// q is a live event too: readLog sends every page that
				// comes back before it subscribes.
				batch = append(batch, q.events...)
			default:
				break more
			}
		}
		if err := f.Fold(batch); err != nil {
			break
		}
	}
	return f.Close()
}

func lower(s string) string { return strings.ToLower(s) }
