// Package command runs the mutations: one handler per use case, each
// parsing and validating its input, checking the caller's role and kind of
// tenant, loading the aggregates it needs from their streams (decisions come
// from the log, never from the read models), checking what the caller may
// see and act on, letting the domain decide, appending with the expected
// revision of the stream it loaded, and waiting until the read models have
// applied the append (read-your-writes).
//
// Rules that span aggregates are kept with single-stream atomicity: the
// stream whose creation would break them has a name derived from the ids
// involved (domain.RelationshipID, domain.ReplacementID) and is appended
// with NoStream, so of two concurrent writers exactly one creates it.
package command

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/eventstore"
	"github.com/partnercenter/multichannel/internal/record"
)

// Request carries who asks and the request's ids; CorrelationID is also the
// causation id of the events.
type Request struct {
	Caller         domain.Actor // UserID, TenantID, Role from the verified token
	CorrelationID  uuid.UUID
	IdempotencyKey string // "" when the request has none
	Fingerprint    string // hash of document + operation name + canonical variables; set with IdempotencyKey
	// Recorded, when set, is told the log position of the mutation's last
	// event once it succeeded (a repeat's: the first's), which the answer's
	// consistency token names.
	Recorded func(eventstore.Position)
}

// Waiter blocks until the read models have applied the log up to pos
// (read-your-writes).
type Waiter interface {
	WaitFor(ctx context.Context, pos eventstore.Position) error
}

// SalesIndex is the one read-model port that a decision consults, and it
// only chooses between two refusal codes: the log alone cannot tell
// cheaply whether a partner sells any of a customer's subscriptions
// (subscriptions live in their own streams), so the index is asked only to
// choose FORBIDDEN (the partner sees the customer's profile) over
// NOT_FOUND when a partner records a subscription for a customer it does
// not see fully. A stale or lying answer changes the refusal's code,
// never what is written. Without it, that refusal is NOT_FOUND unless the
// pair has a relationship.
//
// The other read-model ports, Waiter and Handoff, cannot change what is
// written either: the wait comes after the append, and the handoff only
// spares the read models a decode. Idempotency keys are found in the log
// (claim.go), never in the read models.
type SalesIndex interface {
	SellsAnyTo(partner, customer uuid.UUID) bool
}

// Handlers runs the mutations. It is safe for concurrent use.
type Handlers struct {
	store eventstore.Store
	clock func() time.Time
	wait  Waiter
	sales SalesIndex
	// partners and customers remember what never changes once true: a
	// tenant enrolled as a partner stays one (its stream holds only
	// PartnerEnrolled), and one onboarded as a customer stays one. Only
	// positive answers are kept, so every mutation need not read both
	// streams of its caller's tenant again.
	partners  sync.Map // uuid.UUID -> domain.Partner
	customers sync.Map // uuid.UUID -> struct{}
	// timeout bounds one mutation (0: only the caller's context does).
	timeout time.Duration
	// cache holds decoded streams (nil: every load reads the store); see
	// WithStreamCache.
	cache *streamCache
	// handoff is offered the events appended (nil: none); see WithHandoff.
	handoff Handoff
	// claimGrace: see WithClaimGrace.
	claimGrace time.Duration
}

// New returns the handlers. wait and sales may be nil (no read-your-writes
// wait; see SalesIndex).
func New(store eventstore.Store, clock func() time.Time, wait Waiter, sales SalesIndex, opts ...Option) *Handlers {
	if clock == nil {
		clock = time.Now
	}
	h := &Handlers{store: store, clock: clock, wait: wait, sales: sales, claimGrace: DefaultClaimGrace}
	for _, o := range opts {
		o(h)
	}
	return h
}

// pageSize is how many events a stream read asks for at once.
const pageSize = 512

// loaded is a stream as the handler read it: enough to append after it.
type loaded struct {
	name string
	// version is the number of events read: the next event's revision.
	version uint64
	// lastHash is the hash chained into the stream's last event ("" for a
	// new stream, or one written before chaining).
	lastHash string
	// events are the events read, kept when the stream cache is on, so
	// that an append after them can extend the cached stream.
	events []domain.Event
}

// newStream is a stream the handler creates.
func newStream(name string) loaded { return loaded{name: name} }

// expected is the condition the append places on the stream: unchanged
// since it was read. A stream of n events has last revision n-1.
func (l loaded) expected() eventstore.ExpectedRevision {
	if l.version == 0 {
		return eventstore.NoStream()
	}
	return eventstore.Exact(l.version - 1)
}

// applier is an aggregate: it folds events.
type applier interface{ Apply(domain.Event) error }

// load folds stream into agg and returns where the stream ends.
func (h *Handlers) load(ctx context.Context, stream string, agg applier) (loaded, error) {
	if h.cache != nil {
		if c, ok := h.cache.get(stream); ok {
			for i, e := range c.events {
				if err := agg.Apply(e); err != nil {
					return loaded{name: stream}, fmt.Errorf("command: %s@%d: %w", stream, i, err)
				}
			}
			return loaded{name: stream, version: c.version, lastHash: c.lastHash, events: c.events}, nil
		}
	}
	l, err := h.read(ctx, stream, agg)
	if err == nil && h.cache != nil {
		h.cache.put(stream, cachedStream{events: l.events, version: l.version, lastHash: l.lastHash})
	}
	return l, err
}

// read folds stream into agg from the store.
func (h *Handlers) read(ctx context.Context, stream string, agg applier) (loaded, error) {
	l := loaded{name: stream}
	for {
		evs, err := h.store.ReadStream(ctx, stream, eventstore.Forwards, l.version, pageSize)
		if errors.Is(err, eventstore.ErrStreamNotFound) {
			return l, nil
		}
		if err != nil {
			return l, fmt.Errorf("command: read %s: %w", stream, err)
		}
		for _, re := range evs {
			if re.Revision != l.version {
				return l, fmt.Errorf("command: read %s: revision %d after %d events", stream, re.Revision, l.version)
			}
			md, err := domain.DecodeMetadata(re.Metadata)
			if err != nil {
				return l, fmt.Errorf("command: %s@%d: %w", stream, re.Revision, err)
			}
			e, err := domain.DecodeEvent(re.Type, md.SchemaVersion, re.Data)
			if err != nil {
				return l, fmt.Errorf("command: %s@%d: %w", stream, re.Revision, err)
			}
			if err := agg.Apply(e); err != nil {
				return l, fmt.Errorf("command: %s@%d: %w", stream, re.Revision, err)
			}
			if h.cache != nil {
				l.events = append(l.events, e)
			}
			l.version, l.lastHash = re.Revision+1, md.Hash
		}
		if len(evs) < pageSize {
			return l, nil
		}
	}
}

// exists reports whether stream has any event.
func (h *Handlers) exists(ctx context.Context, stream string) (bool, error) {
	if h.cache != nil {
		if c, ok := h.cache.get(stream); ok {
			return c.version > 0, nil
		}
	}
	_, err := h.store.ReadStream(ctx, stream, eventstore.Backwards, eventstore.StreamEnd, 1)
	switch {
	case errors.Is(err, eventstore.ErrStreamNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("command: read %s: %w", stream, err)
	}
	return true, nil
}

// decision is what a handler decided: events to append after the stream it
// loaded, and the id of the object the mutation returns.
type decision struct {
	stream loaded
	events []domain.Event
	result uuid.UUID
}

// execute runs uc.decide and appends its events. On an optimistic-concurrency
// conflict it decides again once on freshly loaded state: nothing was
// written by the failed append, so deciding again is safe, and the second
// decision sees the concurrent writer's events (often refusing, e.g. with
// CONFLICT for a duplicate). A second conflict is CONFLICT. ctx carries
// the mutation's deadline already (bound).
//
// cl is the request's hold on its Idempotency-Key (nil without one). The
// key is claimed only between a decision to write and its append, so a
// refusal writes nothing; a decision made again after a conflict keeps
// the claim, and releases it only if it then refuses (see release). When
// the request takes over an abandoned claim, each attempt first looks for
// the earlier holder's append in the target stream and answers that
// instead.
func (h *Handlers) execute(ctx context.Context, r Request, uc useCase, c caller, cl *claim) (Result, error) {
	for attempt := 0; ; attempt++ {
		if cl != nil && cl.repair && uc.target != nil {
			stream, err := uc.target(ctx, c)
			if err != nil {
				return Result{}, err
			}
			if stream != "" {
				res, found, err := h.earlier(ctx, r, stream, 0)
				if err != nil {
					return Result{}, err
				}
				if found {
					if h.cache != nil {
						h.cache.forget(stream)
					}
					return h.answerCompleted(ctx, keyCompleted{Result: res.ID, Position: res.Position.String()})
				}
			}
		}
		now := domain.AtAPIPrecision(h.clock())
		d, err := uc.decide(ctx, c, now)
		var de *domain.Error
		if (err == nil && len(d.events) == 0) || errors.As(err, &de) {
			// A refusal, or nothing changes: nothing is recorded. It may
			// be the doing of a duplicate with our key that claimed after
			// we read the claim stream and appended before we decided:
			// then read the claim again, and answer it.
			if lost, cerr := h.claimMoved(ctx, cl); cerr != nil {
				return Result{}, cerr
			} else if lost {
				return Result{}, errClaimLost
			}
			h.release(ctx, r, cl, err)
		}
		if err != nil {
			return Result{}, err
		}
		if len(d.events) == 0 {
			return Result{ID: d.result}, nil
		}
		if cl != nil {
			if err := h.hold(ctx, r, cl, c.id, d); err != nil {
				return Result{}, err
			}
		}
		res, written, err := h.append(ctx, r, now, d)
		if h.cache != nil {
			if err != nil {
				// A failed append may or may not have been written.
				h.cache.forget(d.stream.name)
			} else {
				h.cache.appended(d.stream, written.events, written.lastHash)
			}
		}
		if errors.Is(err, eventstore.ErrWrongExpectedRevision) {
			if attempt == 0 {
				continue
			}
			conflict := domain.Errorf(domain.CodeConflict, "%s changed concurrently twice; try again", d.stream.name)
			h.release(ctx, r, cl, conflict)
			return Result{}, conflict
		}
		if err != nil {
			// The store did not say whether it was written: the claim
			// stays, for a repeat to find the append or take it over.
			return Result{}, err
		}
		out := Result{ID: d.result, Position: res.Position}
		if h.wait != nil {
			if err := h.wait.WaitFor(ctx, res.Position); err != nil {
				// Written: a repeat finds it through the claim.
				return out, fmt.Errorf("command: recorded at %s, read models not caught up: %w", res.Position, err)
			}
		}
		return out, nil
	}
}

// written is what an append wrote, for the stream cache: the events as a
// later read decodes them, and the hash chained into the last.
type written struct {
	events   []domain.Event
	lastHash string
}

// append encodes, stamps, seals and appends d's events after d.stream.
func (h *Handlers) append(ctx context.Context, r Request, now time.Time, d decision) (eventstore.AppendResult, written, error) {
	causation := r.CorrelationID
	md := domain.Metadata{
		RecordedAt:    now,
		Actor:         r.Caller,
		CorrelationID: r.CorrelationID,
		CausationID:   &causation,
	}
	if r.IdempotencyKey != "" {
		// On the first event only (record.Events), so that the key is
		// stored atomically with what it produced.
		md.IdempotencyKey, md.IdempotencyFingerprint = r.IdempotencyKey, r.Fingerprint
	}
	sealed, err := record.Events(record.Head{Stream: d.stream.name, Next: d.stream.version, Hash: d.stream.lastHash}, md, d.events)
	if err != nil {
		return eventstore.AppendResult{}, written{}, fmt.Errorf("command: %w", err)
	}
	out := sealed.Events
	var w written
	if h.cache != nil && d.stream.version > 0 {
		// Cache the events as a read of the stream would decode them, not
		// as decided: what the aggregates fold must not depend on where
		// they came from (a time's zone, a nil against an empty list).
		for i, e := range d.events {
			back, err := domain.DecodeEvent(e.EventType(), sealed.Versions[i], out[i].Data)
			if err != nil {
				return eventstore.AppendResult{}, written{}, fmt.Errorf("command: %w", err)
			}
			w.events = append(w.events, back)
		}
	}
	if h.handoff != nil {
		// Offered as decided: the aggregates produce events exactly as
		// their bytes decode (times in UTC to the millisecond), which the
		// receiver checks.
		for i, e := range d.events {
			h.handoff.Offer(out[i].ID, e)
		}
	}
	res, err := h.appendRetrying(ctx, d.stream.name, d.stream.expected(), out)
	if err != nil {
		if h.handoff != nil {
			for _, ev := range out {
				h.handoff.Withdraw(ev.ID)
			}
		}
		return res, written{}, fmt.Errorf("command: append to %s: %w", d.stream.name, err)
	}
	w.lastHash = sealed.Hash
	return res, w, nil
}

// newID makes a time-ordered id for a new entity.
func newID() (uuid.UUID, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.Nil, fmt.Errorf("command: new id: %w", err)
	}
	return id, nil
}

// caller folds the caller's tenant: its partner (empty when the tenant is
// not one) and whether it is a customer.
func (h *Handlers) caller(ctx context.Context, a domain.Actor) (domain.Caller, *domain.Partner, error) {
	p := new(domain.Partner)
	if known, ok := h.partners.Load(a.TenantID); ok {
		*p = known.(domain.Partner)
	} else {
		if _, err := h.load(ctx, domain.PartnerStream(a.TenantID), p); err != nil {
			return domain.Caller{}, nil, err
		}
		if p.Exists() {
			h.partners.Store(a.TenantID, *p)
		}
	}
	_, isCustomer := h.customers.Load(a.TenantID)
	if !isCustomer {
		var err error
		if isCustomer, err = h.exists(ctx, domain.CustomerStream(a.TenantID)); err != nil {
			return domain.Caller{}, nil, err
		}
		if isCustomer {
			h.customers.Store(a.TenantID, struct{}{})
		}
	}
	return domain.Caller{Actor: a, IsPartner: p.Exists(), IsCustomer: isCustomer}, p, nil
}

// pairRelationships folds the pair's requests, every attempt in order, by
// reading attempts 0, 1, ... until one does not exist (none when the pair
// has none). The last is the latest; an earlier one may still be the
// ACCEPTED one (see domain.Ties).
func (h *Handlers) pairRelationships(ctx context.Context, partner, customer uuid.UUID) ([]*domain.Relationship, error) {
	var rels []*domain.Relationship
	for attempt := 0; ; attempt++ {
		r := new(domain.Relationship)
		if _, err := h.load(ctx, domain.RelationshipStream(domain.RelationshipID(partner, customer, attempt)), r); err != nil {
			return nil, err
		}
		if !r.Exists() {
			return rels, nil
		}
		rels = append(rels, r)
	}
}

// standing folds what a partner's action on sub depends on, and what the
// partner sees of sub's customer.
func (h *Handlers) standing(ctx context.Context, p *domain.Partner, sub *domain.Subscription) (domain.Standing, domain.CustomerView, error) {
	st := domain.Standing{Partner: p, Customer: new(domain.Customer), Replacement: new(domain.Subscription)}
	if !sub.Exists() {
		return st, domain.ViewNone, nil
	}
	if _, err := h.load(ctx, domain.CustomerStream(sub.CustomerID), st.Customer); err != nil {
		return st, domain.ViewNone, err
	}
	var err error
	if st.CustomerIsPartner, err = h.exists(ctx, domain.PartnerStream(sub.CustomerID)); err != nil {
		return st, domain.ViewNone, err
	}
	if st.Relationships, err = h.pairRelationships(ctx, p.ID, sub.CustomerID); err != nil {
		return st, domain.ViewNone, err
	}
	if _, err := h.load(ctx, domain.SubscriptionStream(domain.ReplacementID(sub.ID, p.ID)), st.Replacement); err != nil {
		return st, domain.ViewNone, err
	}
	return st, st.Ties().View(), nil
}
