package projections

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/eventstore"
)

// asOfPage is how many events CustomerAsOf reads from a stream at a time.
const asOfPage = 512

// CustomerAsOf answers the customer as it was at `at`: its profile,
// subscriptions and relationships folded from the events recorded at or
// before at, with relationship status evaluated at at. Visibility is what
// the caller sees now: a customer it does not see now, or one that did not
// exist yet at `at`, is NOT_FOUND.
func (m *Model) CustomerAsOf(ctx context.Context, v domain.Actor, id uuid.UUID, at time.Time) (*AsOf, error) {
	notFound := domain.Errorf(domain.CodeNotFound, "customer %s not found", id)
	streams, ok := m.customerStreams(v, id)
	if !ok {
		return nil, notFound
	}

	var events []eventstore.RecordedEvent
	for _, stream := range streams {
		evs, err := readPrefix(ctx, m.reader(), stream, at)
		if err != nil {
			return nil, fmt.Errorf("customer %s as of %s: %w", id, at.Format(time.RFC3339Nano), err)
		}
		events = append(events, evs...)
	}
	slices.SortFunc(events, func(a, b eventstore.RecordedEvent) int { return comparePos(a.Position, b.Position) })

	past := New(func() time.Time { return at })
	for _, e := range events {
		if err := past.Apply(e); err != nil {
			return nil, fmt.Errorf("customer %s as of %s: %w", id, at.Format(time.RFC3339Nano), err)
		}
	}
	pc := past.customers[id]
	if pc == nil {
		return nil, notFound
	}

	out := &AsOf{At: at, Customer: past.customerView(pc), Subscriptions: []Subscription{}, Relationships: []Relationship{}}
	m.mu.RLock()
	defer m.mu.RUnlock()
	for _, s := range pc.subs {
		// Seen through the live model: what the caller may see now.
		if live := m.subs[s.view.ID]; live != nil && m.seesSubscription(v, live) {
			out.Subscriptions = append(out.Subscriptions, subscriptionView(s))
		}
	}
	for _, r := range pc.rels {
		if seesRelationship(v, r) {
			out.Relationships = append(out.Relationships, relationshipView(r, at))
		}
	}
	return out, nil
}

// readPrefix reads stream from its start up to its first event recorded
// after at. An aggregate's state at an instant is a prefix of its history,
// which keeps the fold's revisions gapless even if clocks were not
// monotonic between appends.
func readPrefix(ctx context.Context, log LogReader, stream string, at time.Time) ([]eventstore.RecordedEvent, error) {
	var out []eventstore.RecordedEvent
	for from := uint64(0); ; {
		page, err := log.ReadStream(ctx, stream, eventstore.Forwards, from, asOfPage)
		if errors.Is(err, eventstore.ErrStreamNotFound) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", stream, err)
		}
		for _, e := range page {
			var md struct {
				RecordedAt time.Time `json:"recordedAt"`
			}
			if err := json.Unmarshal(e.Metadata, &md); err != nil {
				return nil, fmt.Errorf("read %s@%d: decode metadata: %w", stream, e.Revision, err)
			}
			if md.RecordedAt.After(at) {
				return out, nil
			}
			out = append(out, e)
		}
		if len(page) < asOfPage {
			return out, nil
		}
		from = page[len(page)-1].Revision + 1
	}
}

// customerStreams lists the streams an as-of fold of a customer reads: its
// own, its partner- stream if its tenant enrolled (isCspPartner), its
// subscriptions' and its relationships'. ok is false when the caller does
// not see the customer now.
func (m *Model) customerStreams(v domain.Actor, id uuid.UUID) (streams []string, ok bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	c := m.customers[id]
	if c == nil || !m.seesProfile(v, c) {
		return nil, false
	}
	streams = make([]string, 0, 2+len(c.subs)+len(c.rels))
	streams = append(streams, domain.CustomerStream(id))
	if _, ok := m.partners[id]; ok {
		streams = append(streams, domain.PartnerStream(id))
	}
	for _, s := range c.subs {
		streams = append(streams, domain.SubscriptionStream(s.view.ID))
	}
	for _, r := range c.rels {
		streams = append(streams, domain.RelationshipStream(r.view.ID))
	}
	return streams, true
}
