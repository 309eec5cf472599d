package projections

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/eventstore"
)

// Snapshot is a canonical copy of the Model's whole state: every read
// model and the event index, in a deterministic order, with nothing that
// depends on the store (global positions) or on the clock (relationship
// statuses are the recorded ones, not the effective ones). Two models that
// folded the same events in the same order have equal snapshots, whichever
// store the events came from, so a rebuilt model can be compared with a
// live one, or a log with its imported copy.
//
// Lists that the API serves in creation order keep that order (it is part
// of what the reads answer); keyed sets are sorted by key.
type Snapshot struct {
	// Position is the model's checkpoint. It is reported beside the digest
	// and is not part of it: positions differ between stores.
	Position eventstore.Position `json:"-"`

	Events        int                    `json:"events"`
	Partners      []Partner              `json:"partners"`      // sorted by id
	Customers     []Customer             `json:"customers"`     // creation order
	Subscriptions []SubscriptionSnapshot `json:"subscriptions"` // creation order
	Relationships []Relationship         `json:"relationships"` // creation order, recorded status
	Access        []AccessSnapshot       `json:"access"`        // sorted by partner, customer
	Pending       []uuid.UUID            `json:"pending"`       // sorted
	Streams       []StreamSnapshot       `json:"streams"`       // order of first event
	Index         []EventSnapshot        `json:"index"`         // log order
}

// SubscriptionSnapshot is a subscription and the partners that made each of
// its replacements (parallel to ReplacedByIDs).
type SubscriptionSnapshot struct {
	Subscription
	ReplacedByPartners []uuid.UUID `json:"replacedByPartners"`
}

// AccessSnapshot is what ties a partner to a customer (visibility).
type AccessSnapshot struct {
	Partner, Customer              uuid.UUID
	Accepted, Relationships, Sells int
}

// StreamSnapshot is one stream of the event index: its name, its next
// revision and which events of the index are its.
type StreamSnapshot struct {
	Name   string
	Next   uint64
	Events []int32
}

// EventSnapshot is one entry of the event index, without its position.
type EventSnapshot struct {
	Stream        string
	Revision      uint64
	Type          string
	RecordedAt    time.Time
	Actor         domain.Actor
	CorrelationID uuid.UUID
}

// Snapshot copies the model's state. It holds the read lock for the copy:
// on a large model, appends wait that long (about a second per million
// events), so it is for audits, not for every request.
func (m *Model) Snapshot() *Snapshot {
	m.mu.RLock()
	defer m.mu.RUnlock()
	s := &Snapshot{
		Position:      m.pos,
		Events:        m.headers.len(),
		Partners:      make([]Partner, 0, len(m.partners)),
		Customers:     make([]Customer, 0, m.customerOrder.len()),
		Subscriptions: make([]SubscriptionSnapshot, 0, m.subOrder.len()),
		Relationships: make([]Relationship, 0, m.relOrder.len()),
		Access:        make([]AccessSnapshot, 0, len(m.access)),
		Pending:       make([]uuid.UUID, 0, len(m.pending)),
		Streams:       make([]StreamSnapshot, m.streamList.len()),
		Index:         make([]EventSnapshot, m.headers.len()),
	}
	for _, p := range m.partners {
		s.Partners = append(s.Partners, *p)
	}
	slices.SortFunc(s.Partners, func(a, b Partner) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	for c := range m.customerOrder.all {
		s.Customers = append(s.Customers, m.customerView(c))
	}
	for sub := range m.subOrder.all {
		s.Subscriptions = append(s.Subscriptions, SubscriptionSnapshot{
			Subscription: subscriptionView(sub), ReplacedByPartners: append([]uuid.UUID{}, sub.replacedBy...),
		})
	}
	for r := range m.relOrder.all {
		s.Relationships = append(s.Relationships, r.view)
	}
	for k, a := range m.access {
		s.Access = append(s.Access, AccessSnapshot{Partner: k.partner, Customer: k.customer,
			Accepted: a.accepted, Relationships: a.relationships, Sells: a.sells})
	}
	slices.SortFunc(s.Access, func(a, b AccessSnapshot) int {
		return cmp.Or(bytes.Compare(a.Partner[:], b.Partner[:]), bytes.Compare(a.Customer[:], b.Customer[:]))
	})
	for id := range m.pending {
		s.Pending = append(s.Pending, id)
	}
	slices.SortFunc(s.Pending, func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })
	for i := range m.streamList.len() {
		st := m.streamList.at(int32(i))
		s.Streams[i] = StreamSnapshot{Name: st.name, Next: st.next(), Events: slices.Clone(st.events)}
	}
	for i := range m.headers.len() {
		h := m.headers.at(i)
		s.Index[i] = EventSnapshot{
			Stream: m.streamList.at(h.stream).name, Revision: h.rev, Type: eventTypes[h.typ()],
			RecordedAt: time.Unix(0, h.recordedAt).UTC(), Actor: *m.actorList.at(h.actor()), CorrelationID: h.correlation,
		}
	}
	return s
}

// Digest is a SHA-256 over the snapshot's canonical encoding (each section
// in order, each element as one JSON line), in hex.
func (s *Snapshot) Digest() string {
	h := sha256.New()
	enc := json.NewEncoder(h)
	section := func(name string, n int, elem func(i int) any) {
		fmt.Fprintf(h, "%s %d\n", name, n)
		for i := 0; i < n; i++ {
			// Encoding the snapshot's own types cannot fail.
			_ = enc.Encode(elem(i))
		}
	}
	fmt.Fprintf(h, "projections snapshot v1\nevents %d\n", s.Events)
	section("partners", len(s.Partners), func(i int) any { return s.Partners[i] })
	section("customers", len(s.Customers), func(i int) any { return s.Customers[i] })
	section("subscriptions", len(s.Subscriptions), func(i int) any { return s.Subscriptions[i] })
	section("relationships", len(s.Relationships), func(i int) any { return s.Relationships[i] })
	section("access", len(s.Access), func(i int) any { return s.Access[i] })
	section("pending", len(s.Pending), func(i int) any { return s.Pending[i] })
	section("streams", len(s.Streams), func(i int) any { return s.Streams[i] })
	section("index", len(s.Index), func(i int) any { return s.Index[i] })
	return hex.EncodeToString(h.Sum(nil))
}

// Digest returns the model's checkpoint and the digest of its snapshot.
func (m *Model) Digest() (eventstore.Position, string) {
	s := m.Snapshot()
	return s.Position, s.Digest()
}

// DiffSnapshots lists up to max differences between a and b, each naming
// the section, the element and both values; none when they are equal.
func DiffSnapshots(a, b *Snapshot, max int) []string {
	var out []string
	add := func(format string, args ...any) bool {
		if len(out) < max {
			out = append(out, fmt.Sprintf(format, args...))
		}
		return len(out) < max
	}
	if a.Events != b.Events {
		add("events: %d vs %d", a.Events, b.Events)
	}
	diffSection(add, "partners", a.Partners, b.Partners)
	diffSection(add, "customers", a.Customers, b.Customers)
	diffSection(add, "subscriptions", a.Subscriptions, b.Subscriptions)
	diffSection(add, "relationships", a.Relationships, b.Relationships)
	diffSection(add, "access", a.Access, b.Access)
	diffSection(add, "pending", a.Pending, b.Pending)
	diffSection(add, "streams", a.Streams, b.Streams)
	diffSection(add, "index", a.Index, b.Index)
	return out
}

func diffSection[T any](add func(string, ...any) bool, name string, a, b []T) {
	if len(a) != len(b) {
		if !add("%s: %d vs %d entries", name, len(a), len(b)) {
			return
		}
	}
	for i := range min(len(a), len(b)) {
		if !reflect.DeepEqual(a[i], b[i]) {
			if !add("%s[%d]: %+v vs %+v", name, i, a[i], b[i]) {
				return
			}
		}
	}
}
