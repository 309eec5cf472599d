package projections

import (
	"context"
	"fmt"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/eventstore"
)

// streamVisible decides which streams' events a caller sees (docs/domain.md,
// "What each caller sees"): a partner its own partner- stream, its
// relationship- streams, and the customer- and subscription- streams of the
// customers it sees fully; a customer user its customer- stream, its
// subscriptions' and its relationships' streams; an auditor every stream.
// Runs under mu.
func (m *Model) streamVisible(v domain.Actor, st *streamState) bool {
	if v.Audits() {
		return true
	}
	switch st.cat {
	case catPartner:
		return domain.SeesPartnerStream(v, st.id)
	case catCustomer:
		return m.seesCustomerStreams(v, st.id)
	case catSubscription:
		s := m.subs[st.id]
		return s != nil && m.seesCustomerStreams(v, s.view.CustomerID)
	case catRelationship:
		r := m.rels[st.id]
		return r != nil && seesRelationship(v, r)
	}
	return false
}

// eventRef is what Events takes out of the index for a page item.
type eventRef struct {
	stream string
	rev    uint64
	pos    eventstore.Position
}

// Events lists, in log order, the events of the streams the caller sees
// that match the filter. Its cost follows what the caller may see (see
// eventsPage), not the log; the page's payloads are read from the log,
// outside the model's lock.
func (m *Model) Events(ctx context.Context, v domain.Actor, f EventFilter, first *int, after *string) (EventConnection, error) {
	req, err := parsePage(cursorEvent, first, after)
	if err != nil {
		return EventConnection{}, err
	}
	pg, hv := m.eventsPage(v, f, req)
	refs := m.refs(&hv, pg.items)
	edges, err := m.readEdges(ctx, refs)
	if err != nil {
		return EventConnection{}, fmt.Errorf("events: %w", err)
	}
	positions := make([]eventstore.Position, len(refs))
	for i, ref := range refs {
		positions[i] = ref.pos
	}
	return EventConnection{Edges: edges, PageInfo: pg.info(positions), TotalCount: pg.total}, nil
}
