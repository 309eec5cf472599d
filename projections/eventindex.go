package projections

import (
	"container/heap"
	"slices"
	"sort"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/eventstore"
)

// eventIndex places every stream under the tenants whose visibility of it
// the model can decide from that tenant alone, so that `events` for a
// caller starts from the streams it may see instead of from the log.
//
// Visibility itself is still streamVisible's (docs/domain.md): the index
// only names candidates, and every candidate that is not visible by
// construction is checked with the same helpers at read time. Because
// visibility changes (a relationship accepted, then terminated, hides a
// customer's whole history again), nothing here caches a decision; the
// tenants' event lists (eventlists.go) do, and are dropped when it changes.
type eventIndex struct {
	byTenant map[uuid.UUID]*tenantStreams
	// unplaced holds the streams whose object the fold did not know when
	// the stream began (never for a log the command side writes); every
	// read checks them one by one, so the index stays exact for any log.
	unplaced []int32
}

// tenantStreams are the streams an id stands for, as a partner or as a
// customer (a tenant may be both).
type tenantStreams struct {
	partner  int32   // partner-<id>, or -1
	customer int32   // customer-<id>, or -1
	subs     []int32 // the subscription streams of customer <id>
	rels     []int32 // relationship streams with <id> as partner or customer
	// onboarded lists the customers a CustomerOnboarded named <id> as
	// onboarder of (checked against the customer's current onboarder
	// at read time; a repeat may list one twice).
	onboarded []uuid.UUID
}

func (x *eventIndex) tenant(id uuid.UUID) *tenantStreams {
	if x.byTenant == nil {
		x.byTenant = make(map[uuid.UUID]*tenantStreams)
	}
	t := x.byTenant[id]
	if t == nil {
		t = &tenantStreams{partner: -1, customer: -1}
		x.byTenant[id] = t
	}
	return t
}

// indexEvent keeps the index current for an event just folded into
// stream si (created: the event began the stream). Runs under mu, after
// fold.
func (m *Model) indexEvent(ev domain.Event, si int32, created bool) {
	x := &m.eventIdx
	if created {
		m.placeStream(si)
	}
	if o, ok := ev.(domain.CustomerOnboarded); ok {
		t := x.tenant(o.OnboardedBy)
		t.onboarded = append(t.onboarded, o.CustomerID)
	}
}

// placeStream files stream si under the tenants it belongs to, or among
// the unplaced when the fold does not know its object. Runs under mu.
func (m *Model) placeStream(si int32) {
	x := &m.eventIdx
	st := m.streamList.at(si)
	placed := true
	switch st.cat {
	case catPartner:
		x.tenant(st.id).partner = si
	case catCustomer:
		x.tenant(st.id).customer = si
	case catSubscription:
		// A subscription never changes customer.
		s := m.created.sub // the fold's, if this event created it
		if s == nil || s.view.ID != st.id {
			s = m.subs[st.id]
		}
		if s != nil {
			t := x.tenant(s.view.CustomerID)
			if t.subs == nil {
				t.subs = m.slabs.events.take(customerSubsRoom)
			}
			t.subs = append(t.subs, si)
		} else {
			placed = false
		}
	case catRelationship:
		// Nor a relationship its partner or customer.
		r := m.created.rel
		if r == nil || r.view.ID != st.id {
			r = m.rels[st.id]
		}
		if r != nil {
			t := x.tenant(r.view.PartnerID)
			t.rels = append(t.rels, si)
			if r.view.CustomerID != r.view.PartnerID {
				t = x.tenant(r.view.CustomerID)
				t.rels = append(t.rels, si)
			}
		} else {
			placed = false
		}
	}
	if !placed {
		x.unplaced = append(x.unplaced, si)
		// Nobody's list could be kept with this stream's events.
		m.lists.dropAll()
	}
}

// rebuildEventIndex makes the index of a model restored from a snapshot,
// which holds the state but not the fold that built it: each stream is
// placed as indexEvent placed it when it began (a subscription's customer
// and a relationship's parties never change), and each customer is listed
// under its onboarder. Runs under mu.
func (m *Model) rebuildEventIndex() {
	m.eventIdx = eventIndex{}
	for i := range m.streamList.len() {
		m.placeStream(int32(i))
	}
	for c := range m.customerOrder.all {
		t := m.eventIdx.tenant(c.view.OnboardedBy)
		t.onboarded = append(t.onboarded, c.view.ID)
	}
}

// visibleStreams lists, sorted, the streams a caller other than an
// auditor sees: exactly those streamVisible accepts. Its cost is the
// number of streams and customers tied to the caller's tenant, not the
// size of the log. Runs under mu (read).
func (m *Model) visibleStreams(v domain.Actor) []int32 {
	x := &m.eventIdx
	var out []int32
	t := x.byTenant[v.TenantID]
	if t != nil {
		// Its own partner stream and every relationship it is a party to
		// are visible by construction.
		if t.partner >= 0 {
			out = append(out, t.partner)
		}
		out = append(out, t.rels...)
	}
	// The customers it may see fully: itself, those it onboarded, those
	// it holds an ACCEPTED relationship with (each of which is one of its
	// relationships). seesFully decides; the rest only names candidates.
	done := make(map[uuid.UUID]bool)
	seeCustomer := func(id uuid.UUID) {
		if done[id] {
			return
		}
		done[id] = true
		c := m.customers[id]
		ct := x.byTenant[id]
		if c == nil || ct == nil || !m.seesFully(v, c) {
			return
		}
		if ct.customer >= 0 {
			out = append(out, ct.customer)
		}
		out = append(out, ct.subs...)
	}
	seeCustomer(v.TenantID)
	if t != nil {
		for _, id := range t.onboarded {
			seeCustomer(id)
		}
		for _, si := range t.rels {
			if r := m.rels[m.streamList.at(si).id]; r != nil && r.view.PartnerID == v.TenantID {
				seeCustomer(r.view.CustomerID)
			}
		}
	}
	for _, si := range x.unplaced {
		if m.streamVisible(v, m.streamList.at(si)) {
			out = append(out, si)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// headerView is a read-only view of the first n headers, taken under mu
// and read without it: headers are written once and never move (see
// headerLog), and the chunk list is copied so that the writer's appends
// to it are not shared.
type headerView struct {
	chunks [][]header
	n      int
	// examined counts the headers read, for tests: what a query costs.
	examined int
}

func (m *Model) headerView() headerView {
	return headerView{chunks: slices.Clone(m.headers.chunks), n: m.headers.len()}
}

func (hv *headerView) at(i int32) *header {
	hv.examined++
	return &hv.chunks[i>>headerChunkBits][i&(headerChunk-1)]
}

// headerFilter is an EventFilter's per-event part.
type headerFilter struct {
	types       map[uint8]bool // nil: any type
	actor       *string
	actors      chunkList[domain.Actor] // actorList as of the view
	correlation *uuid.UUID
	from, to    *int64
}

func newHeaderFilter(f EventFilter) headerFilter {
	var hf headerFilter
	if f.Types != nil {
		hf.types = make(map[uint8]bool, len(f.Types))
		for _, t := range f.Types {
			if c, ok := eventTypeCode[t]; ok {
				hf.types[c] = true
			}
		}
	}
	hf.actor, hf.correlation = f.ActorUserID, f.CorrelationID
	if f.From != nil {
		n := f.From.UnixNano()
		hf.from = &n
	}
	if f.To != nil {
		n := f.To.UnixNano()
		hf.to = &n
	}
	return hf
}

func (hf *headerFilter) any() bool {
	return hf.types != nil || hf.actor != nil || hf.correlation != nil || hf.from != nil || hf.to != nil
}

func (hf *headerFilter) match(h *header) bool {
	return !(hf.types != nil && !hf.types[h.typ()] ||
		hf.actor != nil && hf.actors.at(h.actor()).UserID != *hf.actor ||
		hf.correlation != nil && h.correlation != *hf.correlation ||
		hf.from != nil && h.recordedAt < *hf.from ||
		hf.to != nil && h.recordedAt >= *hf.to)
}

// eventsPage is one page of `events` as header indices, before any
// payload is read.
type eventsPage struct {
	items  []int32 // header indices, in log order
	total  int
	before int // matches at or before the cursor
	more   bool
}

// eventsPage finds the page. Under mu it only takes what the page needs:
// the caller's list of events (eventlists.go) or, without one, its visible
// streams (their index lists are append-only, so a copy of each slice
// header is a stable snapshot), the header view and the actor list.
// Counting, filtering, merging and building the caller's list run after
// mu is released, so a read holds up the fold for the time of
// visibleStreams at most.
func (m *Model) eventsPage(v domain.Actor, f EventFilter, req pageReq) (eventsPage, headerView) {
	return m.eventsPageVia(v, f, req, true)
}

// eventsPageVia is eventsPage; withLists false pages the visible streams
// even when the caller has a list, for tests to compare the two.
func (m *Model) eventsPageVia(v domain.Actor, f EventFilter, req pageReq, withLists bool) (eventsPage, headerView) {
	hf := newHeaderFilter(f)
	var lists [][]int32
	var items []int32 // the caller's list of events, when listed
	listed := false
	var build *listBuild
	whole := false // the caller sees the whole log: no per-stream lists
	m.mu.RLock()
	hv := m.headerView()
	hf.actors = m.actorList.view()
	switch {
	case f.Stream != nil:
		if si, ok := m.streams.lookup(*f.Stream); ok && m.streamVisible(v, m.streamList.at(si)) {
			lists = [][]int32{m.streamList.at(si).events}
		}
	case v.Audits():
		whole = true
	default:
		if withLists {
			if items, listed = m.lists.cached(v.TenantID); listed {
				break
			}
		}
		sis := m.visibleStreams(v)
		lists = make([][]int32, len(sis))
		for i, si := range sis {
			lists[i] = m.streamList.at(si).events
		}
		if withLists {
			build = m.startBuild(v, lists)
		}
	}
	m.mu.RUnlock()

	if build != nil {
		items, listed = m.buildEvents(build, lists, hv.n), true
	}
	switch {
	case whole:
		return hv.wholeLog(&hf, req), hv
	case listed:
		return hv.page(len(items), func(i int) int32 { return items[i] }, &hf, req), hv
	}
	if hf.any() {
		for i, l := range lists {
			kept := make([]int32, 0, len(l))
			for _, hi := range l {
				if hf.match(hv.at(hi)) {
					kept = append(kept, hi)
				}
			}
			lists[i] = kept
		}
	}
	pg := hv.merge(lists, req)
	return pg, hv
}

// wholeLog pages the auditor's view: every header.
func (hv *headerView) wholeLog(hf *headerFilter, req pageReq) eventsPage {
	return hv.page(hv.n, func(i int) int32 { return int32(i) }, hf, req)
}

// page pages a list of n header indices in log order, the i-th of which
// is at(i): without a filter the count is n and the cursor is found by
// binary search, so the cost is the page and a logarithm; with one, every
// item of the list is a candidate.
func (hv *headerView) page(n int, at func(int) int32, hf *headerFilter, req pageReq) eventsPage {
	if hf.any() {
		var pg eventsPage
		for i := range n {
			hi := at(i)
			h := hv.at(hi)
			if !hf.match(h) {
				continue
			}
			pg.total++
			switch {
			case req.hasAfter && !req.after.Less(h.pos):
				pg.before++
			case len(pg.items) < req.first:
				pg.items = append(pg.items, hi)
			default:
				pg.more = true
			}
		}
		return pg
	}
	pg := eventsPage{total: n}
	if req.hasAfter {
		pg.before = sort.Search(n, func(i int) bool { return req.after.Less(hv.at(at(i)).pos) })
	}
	end := min(pg.before+req.first, n)
	for i := pg.before; i < end; i++ {
		pg.items = append(pg.items, at(i))
	}
	pg.more = end < n
	return pg
}

// merge pages sorted lists of header indices (header indices are log
// order): each list's cursor is found by binary search, and the page is
// the first items of a k-way merge, so the cost is the number of lists
// times a logarithm plus the page, whatever the lists' lengths.
func (hv *headerView) merge(lists [][]int32, req pageReq) eventsPage {
	var pg eventsPage
	h := make(mergeHeap, 0, len(lists))
	for _, l := range lists {
		pg.total += len(l)
		start := 0
		if req.hasAfter {
			start = sort.Search(len(l), func(i int) bool { return req.after.Less(hv.at(l[i]).pos) })
			pg.before += start
		}
		if start < len(l) {
			h = append(h, l[start:])
		}
	}
	heap.Init(&h)
	for h.Len() > 0 {
		if len(pg.items) == req.first {
			pg.more = true
			break
		}
		l := h[0]
		pg.items = append(pg.items, l[0])
		if len(l) == 1 {
			heap.Pop(&h)
		} else {
			h[0] = l[1:]
			heap.Fix(&h, 0)
		}
	}
	return pg
}

// mergeHeap orders non-empty lists by their first header index.
type mergeHeap [][]int32

func (h mergeHeap) Len() int           { return len(h) }
func (h mergeHeap) Less(i, j int) bool { return h[i][0] < h[j][0] }
func (h mergeHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *mergeHeap) Push(x any)        { *h = append(*h, x.([]int32)) }
func (h *mergeHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// refs turns a page's header indices into what reading the payloads
// needs. The stream names are taken under mu again, briefly: a page is at
// most maxFirst items.
func (m *Model) refs(hv *headerView, items []int32) []eventRef {
	out := make([]eventRef, len(items))
	m.mu.RLock()
	defer m.mu.RUnlock()
	for i, hi := range items {
		h := hv.at(hi)
		out[i] = eventRef{stream: m.streamList.at(h.stream).name, rev: h.rev, pos: h.pos}
	}
	return out
}

// pageInfo is the connection's page info for a page whose items are at
// positions.
func (pg *eventsPage) info(positions []eventstore.Position) PageInfo {
	info := PageInfo{HasNextPage: pg.more, HasPreviousPage: pg.before > 0}
	if n := len(positions); n > 0 {
		start := cursorEvent + positions[0].String()
		end := cursorEvent + positions[n-1].String()
		info.StartCursor, info.EndCursor = &start, &end
	}
	return info
}
