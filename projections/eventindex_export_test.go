package projections

import "github.com/partnercenter/multichannel/domain"

// This file keeps the `events` scan the index replaced (every header of
// the log, each stream's visibility decided under mu), so that tests can
// check the index against it and benchmarks can measure both in one run.

// EventsPage is a page of `events` without payloads, for tests: the
// positions of its items, the counts, and the headers the query read.
type EventsPage struct {
	Refs     []string // stream@revision of each item, in order
	Total    int
	Before   int
	More     bool
	Examined int
}

func refsOf(m *Model, hv *headerView, items []int32) []string {
	out := make([]string, len(items))
	for i, r := range m.refs(hv, items) {
		out[i] = r.stream + "@" + r.pos.String()
	}
	return out
}

// EventsIndexed is the page Events answers, through the index.
func (m *Model) EventsIndexed(v domain.Actor, f EventFilter, first *int, after *string) (EventsPage, error) {
	req, err := parsePage(cursorEvent, first, after)
	if err != nil {
		return EventsPage{}, err
	}
	pg, hv := m.eventsPage(v, f, req)
	examined := hv.examined
	return EventsPage{Refs: refsOf(m, &hv, pg.items), Total: pg.total, Before: pg.before, More: pg.more, Examined: examined}, nil
}

// EventsScanned is the same page found as the code before the index did:
// the whole log scanned under mu.
func (m *Model) EventsScanned(v domain.Actor, f EventFilter, first *int, after *string) (EventsPage, error) {
	req, err := parsePage(cursorEvent, first, after)
	if err != nil {
		return EventsPage{}, err
	}
	hf := newHeaderFilter(f)
	m.mu.RLock()
	defer m.mu.RUnlock()
	hf.actors = m.actorList.view()
	hv := m.headerView()
	var p pager[int32]
	p.req = req
	visible := make(map[int32]uint8)
	match := func(i int32) {
		h := hv.at(i)
		if !hf.match(h) {
			return
		}
		vis := visible[h.stream]
		if vis == 0 {
			vis = 2
			if m.streamVisible(v, m.streamList.at(h.stream)) {
				vis = 1
			}
			visible[h.stream] = vis
		}
		if vis != 1 {
			return
		}
		p.add(h.pos, func() int32 { return i })
	}
	if f.Stream != nil {
		if si, ok := m.streams.lookup(*f.Stream); ok {
			for _, i := range m.streamList.at(si).events {
				match(i)
			}
		}
	} else {
		for i := range hv.n {
			match(int32(i))
		}
	}
	out := EventsPage{Total: p.total, Before: p.before, More: p.more, Examined: hv.examined}
	out.Refs = make([]string, len(p.items))
	for i, hi := range p.items {
		h := hv.at(hi)
		out.Refs[i] = m.streamList.at(h.stream).name + "@" + h.pos.String()
	}
	return out, nil
}

// EventsStreams is the page through the visible streams' lists, never
// the tenant's list of events, whether it has one or not.
func (m *Model) EventsStreams(v domain.Actor, f EventFilter, first *int, after *string) (EventsPage, error) {
	req, err := parsePage(cursorEvent, first, after)
	if err != nil {
		return EventsPage{}, err
	}
	pg, hv := m.eventsPageVia(v, f, req, false)
	return EventsPage{Refs: refsOf(m, &hv, pg.items), Total: pg.total, Before: pg.before, More: pg.more, Examined: hv.examined}, nil
}
