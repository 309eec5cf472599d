package projections

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/eventstore"
)

// maxCausation bounds Causation's answer: one request writes a handful of
// events, so a correlation id with more is not a request's.
const maxCausation = 1000

// History is one stream's events (an aggregate's whole history), oldest
// first, or newest first when newestFirst is set; a cursor continues in the
// same direction (with newestFirst, `after` a cursor means older than it).
// The caller sees the events of a stream it may see (as for `events`); for
// any other stream, known or not, the connection is empty, so a history
// never tells whether an invisible object exists.
func (m *Model) History(ctx context.Context, v domain.Actor, stream string,
	first *int, after *string, newestFirst bool) (EventConnection, error) {
	req, err := parsePage(cursorEvent, first, after)
	if err != nil {
		return EventConnection{}, err
	}
	m.mu.RLock()
	var refs []eventRef
	var total, before int
	more := false
	if si, ok := m.streams.lookup(stream); ok && m.streamVisible(v, m.streamList.at(si)) {
		st := m.streamList.at(si)
		total = len(st.events)
		for k := range st.events {
			i := st.events[k]
			if newestFirst {
				i = st.events[len(st.events)-1-k]
			}
			h := m.headers.at(int(i))
			if req.hasAfter {
				// Skip the cursor and what came before it in this order.
				passed := !req.after.Less(h.pos)
				if newestFirst {
					passed = !h.pos.Less(req.after)
				}
				if passed {
					before++
					continue
				}
			}
			if len(refs) >= req.first {
				more = true
				break
			}
			refs = append(refs, eventRef{stream: st.name, rev: h.rev, pos: h.pos})
		}
	}
	m.mu.RUnlock()

	edges, err := m.readEdges(ctx, refs)
	if err != nil {
		return EventConnection{}, fmt.Errorf("history of %s: %w", stream, err)
	}
	info := PageInfo{HasNextPage: more, HasPreviousPage: before > 0}
	if n := len(edges); n > 0 {
		start, end := edges[0].Cursor, edges[n-1].Cursor
		info.StartCursor, info.EndCursor = &start, &end
	}
	return EventConnection{Edges: edges, PageInfo: info, TotalCount: total}, nil
}

// readEdges reads the payloads of the indexed events refs from the log.
func (m *Model) readEdges(ctx context.Context, refs []eventRef) ([]EventEdge, error) {
	log := m.reader()
	var byPos []eventstore.RecordedEvent
	if pr, ok := log.(eventstore.PositionReader); ok && len(refs) > 0 {
		// One lookup per event in the log's own order, in one read,
		// instead of a stream read each.
		positions := make([]eventstore.Position, len(refs))
		for i, ref := range refs {
			positions[i] = ref.pos
		}
		var err error
		if byPos, err = pr.ReadAt(ctx, positions); err != nil {
			return nil, fmt.Errorf("read %d events by position: %w", len(refs), err)
		}
	}
	edges := make([]EventEdge, 0, len(refs))
	for i, ref := range refs {
		var got []eventstore.RecordedEvent
		if byPos != nil {
			got = byPos[i : i+1]
		} else {
			var err error
			if got, err = log.ReadStream(ctx, ref.stream, eventstore.Forwards, ref.rev, 1); err != nil {
				return nil, fmt.Errorf("read %s@%d: %w", ref.stream, ref.rev, err)
			}
		}
		if len(got) != 1 || got[0].Position != ref.pos || got[0].Stream != ref.stream || got[0].Revision != ref.rev {
			return nil, fmt.Errorf("%s@%d is not the indexed event at %s", ref.stream, ref.rev, ref.pos)
		}
		ev, err := m.EventView(got[0])
		if err != nil {
			return nil, err
		}
		edges = append(edges, EventEdge{Cursor: cursorEvent + ref.pos.String(), Node: ev})
	}
	return edges, nil
}

// Causation is what one request did: the events recorded under the
// correlation id, in log order, limited to the streams the caller sees.
// Within them each event's causationId names what caused it (for a
// mutation's events, the request itself).
func (m *Model) Causation(ctx context.Context, v domain.Actor, correlation uuid.UUID) ([]Event, error) {
	m.mu.RLock()
	var refs []eventRef
	visible := make(map[int32]bool)
	for i := range m.headers.len() {
		h := m.headers.at(i)
		if h.correlation != correlation {
			continue
		}
		vis, ok := visible[h.stream]
		if !ok {
			vis = m.streamVisible(v, m.streamList.at(h.stream))
			visible[h.stream] = vis
		}
		if !vis {
			continue
		}
		if len(refs) == maxCausation {
			break
		}
		refs = append(refs, eventRef{stream: m.streamList.at(h.stream).name, rev: h.rev, pos: h.pos})
	}
	m.mu.RUnlock()
	edges, err := m.readEdges(ctx, refs)
	if err != nil {
		return nil, fmt.Errorf("causation %s: %w", correlation, err)
	}
	out := make([]Event, len(edges))
	for i, e := range edges {
		out[i] = e.Node
	}
	return out, nil
}
