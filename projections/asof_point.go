package projections

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/eventstore"
)

// AsOfPoint is where an as-of read looks back to: an instant (the events
// recorded at or before At) or a place in the log (the events at or before
// Position). Exactly one is set.
type AsOfPoint struct {
	At       *time.Time
	Position *eventstore.Position
}

// NewAsOfPoint checks that exactly one of at and position is given and
// parses the position (as Event.position shows it); anything else is
// BAD_USER_INPUT.
func NewAsOfPoint(at *time.Time, position *string) (AsOfPoint, error) {
	switch {
	case at != nil && position != nil:
		return AsOfPoint{}, domain.Errorf(domain.CodeBadUserInput, "give either at or asOfPosition, not both")
	case at != nil:
		t := domain.AtAPIPrecision(*at)
		return AsOfPoint{At: &t}, nil
	case position != nil:
		p, err := eventstore.ParsePosition(*position)
		if err != nil {
			return AsOfPoint{}, domain.Errorf(domain.CodeBadUserInput, "asOfPosition: %q is not a position", *position)
		}
		return AsOfPoint{Position: &p}, nil
	}
	return AsOfPoint{}, domain.Errorf(domain.CodeBadUserInput, "give at or asOfPosition")
}

// instant is the clock of the fold: At itself, or for a position the
// recordedAt of the last event at or before it (when the log reached that
// point); false when the position is before the first event.
func (m *Model) instant(p AsOfPoint) (time.Time, bool) {
	if p.At != nil {
		return *p.At, true
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	// headers are in log order: find the first one after the position.
	i := sort.Search(m.headers.len(), func(i int) bool { return p.Position.Less(m.headers.at(i).pos) })
	if i == 0 {
		return time.Time{}, false
	}
	return time.Unix(0, m.headers.at(i-1).recordedAt).UTC(), true
}

// readUpTo reads stream's prefix as of p.
func readUpTo(ctx context.Context, log LogReader, stream string, p AsOfPoint) ([]eventstore.RecordedEvent, error) {
	if p.At != nil {
		return readPrefix(ctx, log, stream, *p.At)
	}
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
			if p.Position.Less(e.Position) {
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

// foldAsOf folds the prefixes of streams as of p into a fresh model whose
// clock is the point's instant.
func foldAsOf(ctx context.Context, log LogReader, streams []string, p AsOfPoint, now time.Time) (*Model, error) {
	var events []eventstore.RecordedEvent
	for _, stream := range streams {
		evs, err := readUpTo(ctx, log, stream, p)
		if err != nil {
			return nil, err
		}
		events = append(events, evs...)
	}
	slices.SortFunc(events, func(a, b eventstore.RecordedEvent) int { return comparePos(a.Position, b.Position) })
	past := New(func() time.Time { return now })
	for _, e := range events {
		if err := past.Apply(e); err != nil {
			return nil, err
		}
	}
	return past, nil
}

func describe(p AsOfPoint) string {
	if p.At != nil {
		return p.At.Format(time.RFC3339Nano)
	}
	return "position " + p.Position.String()
}

// SubscriptionAsOf answers the subscription as it was at p, judged visible
// by what the caller sees now; one the caller does not see now, or that did
// not exist yet at p, is NOT_FOUND. Its replacedBy list is folded from the
// replacements' own streams as of p too.
func (m *Model) SubscriptionAsOf(ctx context.Context, v domain.Actor, id uuid.UUID, p AsOfPoint) (*Subscription, error) {
	notFound := domain.Errorf(domain.CodeNotFound, "subscription %s not found", id)
	m.mu.RLock()
	s := m.subs[id]
	if s == nil || !m.seesSubscription(v, s) {
		m.mu.RUnlock()
		return nil, notFound
	}
	streams := []string{domain.SubscriptionStream(id)}
	for _, r := range s.view.ReplacedByIDs {
		streams = append(streams, domain.SubscriptionStream(r))
	}
	m.mu.RUnlock()
	now, ok := m.instant(p)
	if !ok {
		return nil, notFound
	}
	past, err := foldAsOf(ctx, m.reader(), streams, p, now)
	if err != nil {
		return nil, fmt.Errorf("subscription %s as of %s: %w", id, describe(p), err)
	}
	ps := past.subs[id]
	if ps == nil {
		return nil, notFound
	}
	out := subscriptionView(ps)
	return &out, nil
}

// RelationshipAsOf answers the relationship as it was at p, its status the
// effective one at p's instant (a request past its expiry reads EXPIRED),
// judged visible by what the caller sees now.
func (m *Model) RelationshipAsOf(ctx context.Context, v domain.Actor, id uuid.UUID, p AsOfPoint) (*Relationship, error) {
	notFound := domain.Errorf(domain.CodeNotFound, "relationship %s not found", id)
	m.mu.RLock()
	r := m.rels[id]
	visible := r != nil && seesRelationship(v, r)
	m.mu.RUnlock()
	if !visible {
		return nil, notFound
	}
	now, ok := m.instant(p)
	if !ok {
		return nil, notFound
	}
	past, err := foldAsOf(ctx, m.reader(), []string{domain.RelationshipStream(id)}, p, now)
	if err != nil {
		return nil, fmt.Errorf("relationship %s as of %s: %w", id, describe(p), err)
	}
	pr := past.rels[id]
	if pr == nil {
		return nil, notFound
	}
	out := relationshipView(pr, now)
	return &out, nil
}

// CustomerAsOfPosition is CustomerAsOf at a place in the log instead of an
// instant: the customer folded from the events at or before pos, with
// relationship statuses evaluated at the instant the log reached pos.
func (m *Model) CustomerAsOfPosition(ctx context.Context, v domain.Actor, id uuid.UUID, pos eventstore.Position) (*AsOf, error) {
	p := AsOfPoint{Position: &pos}
	notFound := domain.Errorf(domain.CodeNotFound, "customer %s not found", id)
	streams, ok := m.customerStreams(v, id)
	if !ok {
		return nil, notFound
	}
	now, ok := m.instant(p)
	if !ok {
		return nil, notFound
	}
	past, err := foldAsOf(ctx, m.reader(), streams, p, now)
	if err != nil {
		return nil, fmt.Errorf("customer %s as of %s: %w", id, describe(p), err)
	}
	pc := past.customers[id]
	if pc == nil {
		return nil, notFound
	}
	out := &AsOf{At: now, Customer: past.customerView(pc), Subscriptions: []Subscription{}, Relationships: []Relationship{}}
	m.mu.RLock()
	defer m.mu.RUnlock()
	for _, s := range pc.subs {
		if live := m.subs[s.view.ID]; live != nil && m.seesSubscription(v, live) {
			out.Subscriptions = append(out.Subscriptions, subscriptionView(s))
		}
	}
	for _, r := range pc.rels {
		if seesRelationship(v, r) {
			out.Relationships = append(out.Relationships, relationshipView(r, now))
		}
	}
	return out, nil
}
