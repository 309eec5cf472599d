package projections

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/eventstore"
)

// header is what the event index keeps of an event: enough to filter and
// order the `events` query, not the payload (fetched from the store for
// the page only). 56 bytes, so a million events fit in 56 MB: the actor
// and the type share one word (the type was a byte of its own, which the
// alignment of the struct made eight).
type header struct {
	pos         eventstore.Position
	rev         uint64
	recordedAt  int64 // UnixNano of the metadata's recordedAt
	correlation uuid.UUID
	stream      int32     // index into streamList
	actorTyp    actorType // index into actorList, and into eventTypes
}

// actorType packs an actor's index (the low actorBits) and an event
// type's (the high bits) into a header's last word.
type actorType uint32

const (
	actorBits = 26 // 67 million actors
	maxActors = 1 << actorBits
	maxTypes  = 1 << (32 - actorBits)
)

func packActorType(actor int32, typ uint8) actorType {
	return actorType(uint32(typ)<<actorBits | uint32(actor))
}

func (h *header) actor() int32 { return int32(h.actorTyp & (maxActors - 1)) }
func (h *header) typ() uint8   { return uint8(h.actorTyp >> actorBits) }

// errTooManyActors: the header has no room for another actor's index.
var errTooManyActors = fmt.Errorf("more than %d actors: the event index cannot hold another", maxActors)

type category uint8

const (
	catOther category = iota
	catPartner
	catCustomer
	catSubscription
	catRelationship
)

func categoryOf(s string) category {
	switch s {
	case domain.CategoryPartner:
		return catPartner
	case domain.CategoryCustomer:
		return catCustomer
	case domain.CategorySubscription:
		return catSubscription
	case domain.CategoryRelationship:
		return catRelationship
	}
	return catOther
}

type streamState struct {
	name string
	cat  category
	id   uuid.UUID
	// events are the indices into headers of the stream's events, one per
	// revision from 0 (Apply takes none out of order), so their count is
	// the revision the stream's next event must have.
	events []int32
}

// next is the revision the stream's next event must have.
func (st *streamState) next() uint64 { return uint64(len(st.events)) }

// eventTypes numbers the known event types for the compact header (and
// the snapshots that store it): the domain's list, whose order is fixed.
var eventTypes = domain.EventTypes()

var eventTypeCode = func() map[string]uint8 {
	if len(eventTypes) > maxTypes {
		panic("projections: more event types than a header has room for")
	}
	m := make(map[string]uint8, len(eventTypes))
	for i, t := range eventTypes {
		m[t] = uint8(i)
	}
	return m
}()

// metaLite is the part of the metadata document the fold needs; decoding
// into a small struct (no maps, no hash) keeps replay fast.
type metaLite struct {
	SchemaVersion int          `json:"schemaVersion"`
	RecordedAt    time.Time    `json:"recordedAt"`
	Actor         domain.Actor `json:"actor"`
	CorrelationID uuid.UUID    `json:"correlationId"`
}

// Decoded is an event of the log made ready for the fold by Decode: the
// work that depends on the event alone (its metadata and payload decoded),
// so that many events can be decoded at once, on every core, while
// ApplyDecoded folds them one at a time in log order.
type Decoded struct {
	e    eventstore.RecordedEvent
	skip bool  // not a read model's event: only the checkpoint moves
	err  error // what applying it fails with, unless it is a redelivery
	typ  uint8
	// stream is the stream's category and id, its key in the index, made
	// here rather than in the fold, which runs on one goroutine.
	stream streamRef
	md     metaLite
	at     time.Time
	ev     domain.Event
}

// Position is the decoded event's position in the log.
func (d *Decoded) Position() eventstore.Position { return d.e.Position }

// Decode prepares e for ApplyDecoded into d. It changes nothing in the
// model and may run on many goroutines at once, for events in any order;
// an event that cannot be decoded is reported by ApplyDecoded, when its
// turn comes.
func (m *Model) Decode(d *Decoded, e eventstore.RecordedEvent) {
	*d = Decoded{e: e}
	catName, aggID, okStream := domain.SplitStream(e.Stream)
	cat := categoryOf(catName)
	typ, known := eventTypeCode[e.Type]
	if !known || !okStream || cat == catOther {
		if cat != catOther && okStream {
			d.err = fmt.Errorf("apply %s at %s (%s): %w", e.Type, e.Position, e.Stream, domain.ErrUnknownEventType)
		}
		d.skip = true
		return
	}
	d.typ, d.stream = typ, refParsed(e.Stream, cat, aggID)
	if err := decodeMeta(e.Metadata, &d.md); err != nil {
		d.err = fmt.Errorf("apply %s at %s: decode metadata: %w", e.Type, e.Position, err)
		return
	}
	ev, err := m.decode(e, d.md.SchemaVersion)
	if err != nil {
		d.err = fmt.Errorf("apply %s at %s: %w", e.Type, e.Position, err)
		return
	}
	d.ev = ev
	d.at = domain.AtAPIPrecision(d.md.RecordedAt)
}

// Apply folds one event of the global log into the model. An event at or
// before the checkpoint is ignored (a redelivery); one whose stream
// revision is not its stream's next is ErrOutOfOrder. Events of types the
// registry does not know are an error in the product's streams and skipped
// elsewhere (a stream outside the four categories is not a read model's).
func (m *Model) Apply(e eventstore.RecordedEvent) error {
	var d [1]Decoded
	m.Decode(&d[0], e)
	return m.ApplyDecoded(d[:])
}

// ApplyDecoded folds events prepared by Decode, in the order given, which
// must be log order: each as Apply would. It stops at the first event that
// fails, after the ones before it are applied. Readers are held up for the
// fold of the whole batch (it takes the lock once), so callers pass
// batches of at most a few hundred events.
func (m *Model) ApplyDecoded(ds []Decoded) error {
	_, err := m.applyDecoded(ds)
	return err
}

// applyDecoded is ApplyDecoded that also says how many events of ds
// were taken (applied, or passed over as redeliveries) before the one
// that failed.
func (m *Model) applyDecoded(ds []Decoded) (int, error) {
	m.applyMu.Lock()
	defer m.applyMu.Unlock()
	var err error
	moved := false
	i := 0
	m.mu.Lock()
	for ; i < len(ds); i++ {
		d := &ds[i]
		// m.pos and m.started change only under applyMu.
		if m.started && !m.pos.Less(d.e.Position) {
			continue
		}
		if d.err != nil {
			err = d.err
			break
		}
		if !d.skip {
			if err = m.fold1(d); err != nil {
				break
			}
		}
		m.setPosition(d.e)
		moved = true
	}
	pos := m.pos
	m.mu.Unlock()
	if moved {
		m.wake(pos)
	}
	return i, err
}

// fold1 applies one decoded event of the read models' streams. It runs
// under mu.
func (m *Model) fold1(d *Decoded) error {
	e, md := &d.e, &d.md
	si, exists := m.streams.get(e.Stream, &d.stream)
	var next uint64
	if exists {
		next = m.streamList.at(si).next()
	}
	if e.Revision != next {
		return fmt.Errorf("apply %s at %s: %s revision %d, expected %d: %w",
			e.Type, e.Position, e.Stream, e.Revision, next, ErrOutOfOrder)
	}
	m.created = created{}
	m.lists.touched = m.lists.touched[:0]
	if err := m.fold(d.ev, e.Position, d.at); err != nil {
		return fmt.Errorf("apply %s at %s (%s): %w", e.Type, e.Position, e.Stream, err)
	}
	if !exists {
		si = m.streamList.append(streamState{name: e.Stream, cat: d.stream.key.cat, id: d.stream.key.id, events: m.slabs.events.take(streamEventsRoom)})
		m.streams.put(e.Stream, &d.stream, si)
	}
	st := m.streamList.at(si)
	st.events = append(st.events, int32(m.headers.len()))
	m.indexEvent(d.ev, si, !exists)
	ai, ok := m.actors[md.Actor]
	if !ok {
		if m.actorList.len() >= maxActors {
			return fmt.Errorf("apply %s at %s: %w", e.Type, e.Position, errTooManyActors)
		}
		ai = m.actorList.append(md.Actor)
		m.actors[md.Actor] = ai
	}
	m.headers.append(header{
		pos: e.Position, rev: e.Revision, recordedAt: d.at.UnixNano(),
		correlation: md.CorrelationID, stream: si, actorTyp: packActorType(ai, d.typ),
	})
	if m.lists.watching() {
		m.listsFolded(si, int32(m.headers.len()-1))
	}
	return nil
}

// setPosition moves the checkpoint to e, and keeps the log's identity for
// snapshots. It runs under mu.
func (m *Model) setPosition(e eventstore.RecordedEvent) {
	ref := LogEvent{ID: e.ID, Stream: e.Stream, Revision: e.Revision, Position: e.Position}
	if !m.started {
		m.first = ref
	}
	m.last = ref
	m.pos, m.started = e.Position, true
}

var errUnknownObject = errors.New("event refers to an object the log has not created")

// fold changes the state for one decoded event. It is the only code that
// changes the objects; it runs under mu. Events that refer to an object the
// model lacks are errors, except a customer or partner missing from a
// partial fold (CustomerAsOf reads only one customer's streams).
//
// at is copied where an object keeps its address (m.timeAt), never taken
// itself: a parameter whose address is taken anywhere is moved to the
// heap on every call, an allocation per event of every type.
func (m *Model) fold(ev domain.Event, pos eventstore.Position, at time.Time) error {
	switch ev := ev.(type) {
	case domain.PartnerEnrolled:
		m.partners[ev.PartnerID] = &Partner{ID: ev.PartnerID, Name: ev.Name, Cloud: intern(m, ev.Cloud), EnrolledAt: at}

	case domain.CustomerOnboarded:
		if m.lists.watching() {
			m.noteAudienceTies(ev.CustomerID, ev.OnboardedBy)
		}
		c := m.customers[ev.CustomerID]
		if c == nil {
			c = m.slabs.customers.take()
			c.pos = pos
			m.customers[ev.CustomerID] = c
			m.customerOrder.append(c)
			c.view.CreatedAt = at
		}
		c.view.ID, c.view.Name, c.view.Domain, c.view.Cloud = ev.CustomerID, ev.Name, ev.Domain, intern(m, ev.Cloud)
		c.view.IsCSPPartner, c.view.OnboardedBy = ev.IsCSPPartner, ev.OnboardedBy
		c.lowerName = lower(ev.Name)

	case domain.ExternalSubscriptionRecorded:
		if _, dup := m.subs[ev.SubscriptionID]; dup {
			return fmt.Errorf("subscription %s recorded twice", ev.SubscriptionID)
		}
		s := m.slabs.subs.take()
		*s = subState{pos: pos, view: Subscription{
			ID: ev.SubscriptionID, CustomerID: ev.CustomerID, Offer: intern(m, ev.Offer),
			BillingModel: intern(m, ev.BillingModel), Channel: intern(m, ev.Channel),
			SellerPartnerID: m.partnerRef(ev.SellerPartnerID), Quantity: ev.Quantity,
			Status: domain.StatusActive, CreatedAt: at,
			Services: make([]Service, len(ev.Services)),
		}}
		if ev.TermEndsAt != nil {
			s.view.TermEndsAt = m.timeAt(domain.AtAPIPrecision(*ev.TermEndsAt))
		}
		for i, sv := range ev.Services {
			s.view.Services[i] = Service{ID: sv.ID, Name: intern(m, sv.Name), Status: domain.StatusActive}
		}
		m.addSubscription(s)

	case domain.AzureSubscriptionCreated:
		if _, dup := m.subs[ev.SubscriptionID]; dup {
			return fmt.Errorf("subscription %s created twice", ev.SubscriptionID)
		}
		legacyID, details := ev.LegacySubscriptionID, ev.LegacyDetails
		s := m.slabs.subs.take()
		*s = subState{pos: pos, view: Subscription{
			ID: ev.SubscriptionID, CustomerID: ev.CustomerID, Offer: intern(m, ev.Offer),
			BillingModel: domain.UsageBased, Channel: domain.ChannelCSPPartner,
			SellerPartnerID: m.partnerRef(&ev.PartnerID), Quantity: 1, Status: domain.StatusActive, CreatedAt: at,
			Services: []Service{}, LegacyDetails: &details, ReplacesID: &legacyID,
		}}
		if legacy := m.subs[legacyID]; legacy != nil {
			// Copy on write: a reader may hold the old slice.
			legacy.view.ReplacedByIDs = append(slices.Clip(legacy.view.ReplacedByIDs), ev.SubscriptionID)
			legacy.replacedBy = append(legacy.replacedBy, ev.PartnerID)
		}
		m.addSubscription(s)

	case domain.SubscriptionCancelled:
		s := m.subs[ev.SubscriptionID]
		if s == nil {
			return fmt.Errorf("cancel subscription %s: %w", ev.SubscriptionID, errUnknownObject)
		}
		m.cancelSubscription(s, at)

	case domain.SubscriptionSwitched:
		s := m.subs[ev.SubscriptionID]
		if s == nil {
			return fmt.Errorf("switch subscription %s: %w", ev.SubscriptionID, errUnknownObject)
		}
		if s.view.SellerPartnerID != nil {
			m.accessOf(*s.view.SellerPartnerID, s.view.CustomerID).sells--
		}
		s.view.SellerPartnerID = m.partnerRef(&ev.ToPartnerID)
		m.accessOf(ev.ToPartnerID, s.view.CustomerID).sells++

	case domain.LegacyServiceCancelled:
		s := m.subs[ev.SubscriptionID]
		if s == nil {
			return fmt.Errorf("cancel legacy service of %s: %w", ev.SubscriptionID, errUnknownObject)
		}
		if ev.ServiceID == nil {
			m.cancelSubscription(s, at)
			break
		}
		// Cancelling the last service leaves the subscription ACTIVE: Azure
		// CSP coexists with the other channels.
		services := slices.Clone(s.view.Services)
		for i := range services {
			if services[i].ID == *ev.ServiceID {
				services[i].Status = domain.StatusCancelled
			}
		}
		s.view.Services = services

	case domain.RelationshipRequested:
		if _, dup := m.rels[ev.RelationshipID]; dup {
			return fmt.Errorf("relationship %s requested twice", ev.RelationshipID)
		}
		r := m.slabs.rels.take()
		*r = relState{pos: pos, view: Relationship{
			ID: ev.RelationshipID, PartnerID: ev.PartnerID, CustomerID: ev.CustomerID,
			Status: domain.Pending, Message: cloneString(ev.Message),
			RequestedAt: domain.AtAPIPrecision(ev.RequestedAt), ExpiresAt: domain.AtAPIPrecision(ev.ExpiresAt),
		}}
		m.rels[r.view.ID] = r
		m.created.rel = r
		m.relOrder.append(r)
		m.pending[r.view.ID] = r
		if c := m.customers[r.view.CustomerID]; c != nil {
			c.rels = append(c.rels, r)
		}
		m.accessOf(r.view.PartnerID, r.view.CustomerID).relationships++

	case domain.RelationshipAccepted:
		r, err := m.moveRelationship(ev.RelationshipID, domain.Accepted)
		if err != nil {
			return err
		}
		r.view.RespondedAt = m.timeAt(at)
		m.accessOf(r.view.PartnerID, r.view.CustomerID).accepted++

	case domain.RelationshipDeclined:
		r, err := m.moveRelationship(ev.RelationshipID, domain.Declined)
		if err != nil {
			return err
		}
		r.view.RespondedAt = m.timeAt(at)

	case domain.RelationshipExpired:
		// respondedAt stays nil: nobody answered.
		if _, err := m.moveRelationship(ev.RelationshipID, domain.Expired); err != nil {
			return err
		}

	case domain.RelationshipTerminated:
		r := m.rels[ev.RelationshipID]
		if r == nil {
			return fmt.Errorf("relationship %s: %w", ev.RelationshipID, errUnknownObject)
		}
		if r.view.Status == domain.Accepted {
			m.accessOf(r.view.PartnerID, r.view.CustomerID).accepted--
		}
		if _, err := m.moveRelationship(ev.RelationshipID, domain.Terminated); err != nil {
			return err
		}
		r.view.TerminatedAt = m.timeAt(at)

	default:
		return fmt.Errorf("no fold for %T: %w", ev, domain.ErrUnknownEventType)
	}
	return nil
}

func (m *Model) addSubscription(s *subState) {
	m.created.sub = s
	m.subs[s.view.ID] = s
	m.subOrder.append(s)
	if c := m.customers[s.view.CustomerID]; c != nil {
		if c.subs == nil {
			c.subs = m.slabs.subList.take(customerSubsRoom)
		}
		c.subs = append(c.subs, s)
	}
	if s.view.SellerPartnerID != nil {
		m.accessOf(*s.view.SellerPartnerID, s.view.CustomerID).sells++
	}
}

// moveRelationship sets a relationship's recorded status; pointer fields
// are replaced, never written through, so views handed out stay intact.
func (m *Model) moveRelationship(id uuid.UUID, to domain.RelationshipStatus) (*relState, error) {
	r := m.rels[id]
	if r == nil {
		return nil, fmt.Errorf("relationship %s: %w", id, errUnknownObject)
	}
	r.view.Status = to
	delete(m.pending, id)
	return r, nil
}

// accessOf is the pair's ties, which the caller is about to move: the
// tenants' event lists note the partner's view of the customer first.
func (m *Model) accessOf(partner, customer uuid.UUID) *access {
	if m.lists.watching() {
		m.noteTies(partner, customer)
	}
	k := pairKey{partner: partner, customer: customer}
	a := m.access[k]
	if a == nil {
		a = m.slabs.access.take()
		m.access[k] = a
	}
	return a
}

// cancelSubscription cancels a subscription and every service of it.
func (m *Model) cancelSubscription(s *subState, at time.Time) {
	s.view.Status = domain.StatusCancelled
	s.view.CancelledAt = m.timeAt(at)
	services := slices.Clone(s.view.Services)
	for i := range services {
		services[i].Status = domain.StatusCancelled
	}
	s.view.Services = services
}

// timeAt returns a pointer to a copy of t, for an object to keep: from a
// slab, since the objects' times (a term's end, a cancellation, an
// answer) are replaced, never written through, like partnerRef's ids.
func (m *Model) timeAt(t time.Time) *time.Time {
	p := m.slabs.times.take()
	*p = t
	return p
}

func cloneString(p *string) *string {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// Sharing what many objects hold alike. Decoding gives every event's
// strings and ids memory of their own; kept as they are, the read models
// would hold one copy of "LICENSE_BASED" or "Microsoft 365 E3" per
// subscription. The fold keeps one of each instead.

// internMax bounds the strings interned: the fields interned are an enum
// or a catalog's names, and a log whose values of them are all distinct
// (which the product does not write) must not grow the table without end.
const internMax = 4096

// intern returns the model's copy of s, making s the copy if there is
// none. It runs under mu (the fold or a restore).
func intern[S ~string](m *Model, s S) S {
	if v, ok := m.strs[string(s)]; ok {
		return S(v)
	}
	if len(m.strs) < internMax {
		m.strs[string(s)] = string(s)
	}
	return s
}

// partnerRef returns a pointer to a partner id, shared by every object
// that names that partner (a subscription's seller): the pointers are
// replaced, never written through (see moveRelationship), so sharing them
// is safe, and it saves an allocation per subscription. It runs under mu.
func (m *Model) partnerRef(id *uuid.UUID) *uuid.UUID {
	if id == nil {
		return nil
	}
	if p, ok := m.partnerIDs[*id]; ok {
		return p
	}
	p := new(uuid.UUID)
	*p = *id
	m.partnerIDs[*id] = p
	return p
}

// slab hands out objects from arrays of slabSize, instead of one
// allocation each: the fold, which runs on one goroutine while the
// decoding runs on the others, allocates once per slabSize objects, and
// the collector tracks a few thousand arrays instead of a million
// objects. (Sizes are about the same: a subscription's state is 256
// bytes, a size class of its own; a relationship's 152 took 160.) The
// read models never free an object, so no array is held for one survivor.
type slab[T any] struct{ free []T }

const slabSize = 256

func (s *slab[T]) take() *T {
	if len(s.free) == 0 {
		s.free = make([]T, slabSize)
	}
	p := &s.free[0]
	s.free = s.free[1:]
	return p
}

// created holds the objects the last event folded created, so that
// placing its stream need not look them up again. It is set under mu.
type created struct {
	sub *subState
	rel *relState
}

// slabs are the model's (see slab). They run under mu.
type slabs struct {
	subs      slab[subState]
	rels      slab[relState]
	customers slab[customerState]
	access    slab[access]
	times     slab[time.Time]
	// The lists that start small and are many: a stream's events, a
	// customer's subscriptions, a tenant's subscription streams.
	events  listSlab[int32]
	subList listSlab[*subState]
}

// listSlab hands out the first room of small lists, from arrays shared by
// many lists: most of a stream's or a customer's lists hold a few entries,
// and appending to a nil list allocates for the first entry, again for
// the second, then for the third. A list that outgrows its room moves to
// an array of its own, as any append does (its capacity is clipped, so it
// never writes into its neighbour's).
type listSlab[T any] struct{ free []T }

// The rooms: a stream holds one or two events, a customer a few
// subscriptions (each a stream its tenant lists too).
const (
	streamEventsRoom = 2
	customerSubsRoom = 4
	listSlabSize     = 4096
)

func (s *listSlab[T]) take(room int) []T {
	if len(s.free) < room {
		s.free = make([]T, listSlabSize)
	}
	l := s.free[:0:room]
	s.free = s.free[room:]
	return l
}
