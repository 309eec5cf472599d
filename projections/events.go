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
	if isAuditor(v) {
		return true
	}
	switch st.cat {
	case catPartner:
		return st.id == v.TenantID
	case catCustomer:
		c := m.customers[st.id]
		return c != nil && m.seesFully(v, c)
	case catSubscription:
		s := m.subs[st.id]
		if s == nil {
			return false
		}
		c := m.customers[s.view.CustomerID]
		return c != nil && m.seesFully(v, c)
	case catRelationship:
		r := m.rels[st.id]
		return r != nil && seesRelationship(v, r)
	}
	return false
}

// StreamVisible reports whether the caller may see the events of stream
// (for the live feed). Streams the model does not know are visible to
// auditors only.
func (m *Model) StreamVisible(v domain.Actor, stream string) bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	si, ok := m.streams[stream]
	if !ok {
		return isAuditor(v)
	}
	return m.streamVisible(v, &m.streamList[si])
}

// EventView decodes a stored event for output: its metadata, and its data
// upcast to the type's current schema version.
func (m *Model) EventView(e eventstore.RecordedEvent) (Event, error) {
	md, err := domain.DecodeMetadata(e.Metadata)
	if err != nil {
		return Event{}, fmt.Errorf("event %s: %w", e.ID, err)
	}
	data, err := domain.Upcast(e.Type, md.SchemaVersion, e.Data)
	if err != nil {
		return Event{}, fmt.Errorf("event %s: %w", e.ID, err)
	}
	version := md.SchemaVersion
	if cur, ok := domain.SchemaVersion(e.Type); ok {
		version = cur
	}
	return Event{
		ID: e.ID, Stream: e.Stream, Revision: e.Revision, Position: e.Position,
		Type: e.Type, SchemaVersion: version, RecordedAt: domain.AtAPIPrecision(md.RecordedAt),
		Actor: md.Actor, CorrelationID: md.CorrelationID, CausationID: md.CausationID,
		Data: data,
	}, nil
}

// eventRef is what Events takes out of the index for a page item.
type eventRef struct {
	stream string
	rev    uint64
	pos    eventstore.Position
}

// Events lists, in log order, the events of the streams the caller sees
// that match the filter. The index holds headers only; the page's payloads
// are read from store.
func (m *Model) Events(ctx context.Context, store eventstore.Store, v domain.Actor, f EventFilter, first *int, after *string) (EventConnection, error) {
	req, err := parsePage(cursorEvent, first, after)
	if err != nil {
		return EventConnection{}, err
	}
	var types map[uint8]bool
	if f.Types != nil {
		types = make(map[uint8]bool, len(f.Types))
		for _, t := range f.Types {
			if c, ok := eventTypeCode[t]; ok {
				types[c] = true
			}
		}
	}
	var from, to int64
	if f.From != nil {
		from = f.From.UnixNano()
	}
	if f.To != nil {
		to = f.To.UnixNano()
	}

	m.mu.RLock()
	var p pager[eventRef]
	p.req = req
	// visible memoises the per-stream decision for this query: 0 unknown,
	// 1 visible, 2 not.
	visible := make(map[int32]uint8)
	match := func(i int32) {
		h := m.headers.at(int(i))
		if types != nil && !types[h.typ] ||
			f.ActorUserID != nil && m.actorList[h.actor].UserID != *f.ActorUserID ||
			f.CorrelationID != nil && h.correlation != *f.CorrelationID ||
			f.From != nil && h.recordedAt < from ||
			f.To != nil && h.recordedAt >= to {
			return
		}
		vis := visible[h.stream]
		if vis == 0 {
			vis = 2
			if m.streamVisible(v, &m.streamList[h.stream]) {
				vis = 1
			}
			visible[h.stream] = vis
		}
		if vis != 1 {
			return
		}
		p.add(h.pos, func() eventRef {
			return eventRef{stream: m.streamList[h.stream].name, rev: h.rev, pos: h.pos}
		})
	}
	if f.Stream != nil {
		if si, ok := m.streams[*f.Stream]; ok {
			for _, i := range m.streamList[si].events {
				match(i)
			}
		}
	} else {
		// The whole index is scanned even after a cursor: totalCount counts
		// every match. Only the page's items are built.
		for i := range m.headers.len() {
			match(int32(i))
		}
	}
	m.mu.RUnlock()

	edges := make([]EventEdge, 0, len(p.items))
	for _, ref := range p.items {
		got, err := store.ReadStream(ctx, ref.stream, eventstore.Forwards, ref.rev, 1)
		if err != nil {
			return EventConnection{}, fmt.Errorf("events: read %s@%d: %w", ref.stream, ref.rev, err)
		}
		if len(got) != 1 || got[0].Position != ref.pos {
			return EventConnection{}, fmt.Errorf("events: %s@%d is not the indexed event at %s", ref.stream, ref.rev, ref.pos)
		}
		ev, err := m.EventView(got[0])
		if err != nil {
			return EventConnection{}, fmt.Errorf("events: %w", err)
		}
		edges = append(edges, EventEdge{Cursor: cursorEvent + ref.pos.String(), Node: ev})
	}
	return EventConnection{Edges: edges, PageInfo: p.info(cursorEvent), TotalCount: p.total}, nil
}
