package projections

import (
	"sync"
	"sync/atomic"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
)

// The tenants' event lists: for a tenant that asked for `events`, the
// header indices of every event it sees, in log order, so that its page is
// a binary search for the cursor and a slice, and totalCount the list's
// length, whatever the number of streams it sees. Without them a page is a
// merge of every visible stream's list (eventIndex), whose cost grows with
// the streams: a partner with thousands of customers pays for each of
// their subscriptions on every page.
//
// A list is a cache, exact at every position of the fold:
//
//   - built on the tenant's first request, from visibleStreams and a
//     merge of the streams' lists, outside mu (see buildEvents);
//   - kept current by the fold, which appends each event to the lists of
//     the cached tenants that see its stream now (streamVisible decides);
//   - dropped when what the tenant sees of the events already folded
//     changes: a customer's streams are all seen or all hidden, as the
//     domain's customer view says (ViewFull), so the fold notes every
//     (tenant, customer) pair whose ties it moves, asks the view before and
//     after, and drops the tenant's list when the customer's streams held
//     events and the answer changed;
//   - bounded: the most tenants and the most entries the operator set
//     (LimitEventsCache), the least recently read evicted first.
//
// Lists are keyed by tenant: for a caller other than an auditor, what
// streamVisible accepts follows the caller's tenant alone (domain/
// visibility.go asks Audits and TenantID, never the role), and auditors
// page the whole log without a list. A log with unplaced streams (see
// eventIndex) has no lists: who sees such a stream cannot be told from
// the index, so no event of it could be pushed.
type eventLists struct {
	limits EventsCacheLimits
	// byTenant and entries change under mu (write), and are read under mu.
	byTenant map[uuid.UUID]*tenantEvents
	entries  int // the capacity of every list, in header indices
	// lru stamps each read of a list, to evict the least recently read.
	lru atomic.Uint64
	// building holds the lists being built. It is added to under mu
	// (read) with buildMu, so that two requests do not build one list,
	// and removed from under mu (write); the fold, under mu (write), reads
	// and marks it without buildMu.
	buildMu  sync.Mutex
	building map[uuid.UUID]*listBuild
	// touched are the pairs the event being folded moves ties of, with
	// the customer view before it; only pairs of watched tenants are
	// noted. Under mu (write).
	touched []touchedPair
}

// EventsCacheLimits bound the tenants' event lists, which make a tenant's
// `events` page cost a binary search whatever the number of streams it
// sees. A list holds 4 bytes per event the tenant sees: 31,575 events,
// what the growth fixture's partner sees at 10,000,000 events, take 126
// KiB.
type EventsCacheLimits struct {
	// Tenants is the most tenants whose lists are held; 0 holds none
	// (every page merges the tenant's streams, as without the lists).
	Tenants int
	// Entries is the most header indices held in all lists together
	// (their capacity, 4 bytes each). A tenant that sees more than this
	// is never cached.
	Entries int
}

// DefaultEventsCacheLimits are the limits of a new model: 4,096 tenants
// and 16 Mi entries, 64 MiB at most, which is 1.4% of the 4.5 GiB the
// read models of a 10,000,000-event log take (docs/growth.md), and holds
// the lists of about 500 partners that each see 30,000 events. The
// tenants' bound keeps an eviction's scan (one pass over the lists) short.
var DefaultEventsCacheLimits = EventsCacheLimits{Tenants: 4096, Entries: 16 << 20}

// LimitEventsCache sets the bounds of the tenants' event lists (a new
// model has DefaultEventsCacheLimits), evicting the least recently read
// lists until those held fit. A list is not part of a snapshot: a model
// loaded from one starts with none.
func (m *Model) LimitEventsCache(l EventsCacheLimits) {
	m.mu.Lock()
	defer m.mu.Unlock()
	x := &m.lists
	x.limits = EventsCacheLimits{Tenants: max(l.Tenants, 0), Entries: max(l.Entries, 0)}
	x.evictTo(x.limits.Tenants, x.limits.Entries)
	for _, b := range x.building {
		b.dirty = true // built under the old limits: installed on none
	}
}

// EventsCacheHeld is how many tenants' event lists the model holds, and
// how many entries (4 bytes each) they take, for metrics.
func (m *Model) EventsCacheHeld() (tenants, entries int) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.lists.byTenant), m.lists.entries
}

// tenantEvents is one tenant's list. items is append-only: the fold
// appends under mu (write), and a reader copies the slice header under mu
// (read) and reads its items without it, as it reads a stream's list.
type tenantEvents struct {
	viewer domain.Actor // the caller it was built for, which streamVisible is asked with
	items  []int32
	used   atomic.Uint64 // the lru stamp of its last read
}

// listBuild is a list being built; dirty says that the fold changed what
// the tenant sees of the events before the build's view, so the build is
// not installed.
type listBuild struct {
	viewer domain.Actor
	dirty  bool
}

type touchedPair struct {
	tenant, customer uuid.UUID
	before           bool // the tenant saw the customer's streams before the event
}

// watching reports whether any tenant has a list or is having one built:
// otherwise the fold has nothing to do for the lists. Under mu (write).
func (x *eventLists) watching() bool {
	return len(x.byTenant) > 0 || len(x.building) > 0
}

// viewer is the actor a watched tenant's visibility is asked with, or
// false when the tenant is not watched. Under mu (write).
func (x *eventLists) viewer(tenant uuid.UUID) (domain.Actor, bool) {
	if e := x.byTenant[tenant]; e != nil {
		return e.viewer, true
	}
	if b := x.building[tenant]; b != nil {
		return b.viewer, true
	}
	return domain.Actor{}, false
}

// cached returns the tenant's list as of now, if it has one. Under mu
// (read).
func (x *eventLists) cached(tenant uuid.UUID) ([]int32, bool) {
	e := x.byTenant[tenant]
	if e == nil {
		return nil, false
	}
	e.used.Store(x.lru.Add(1))
	return e.items, true
}

// drop forgets a tenant's list, or spoils the build of it. Under mu
// (write).
func (x *eventLists) drop(tenant uuid.UUID) {
	if e := x.byTenant[tenant]; e != nil {
		x.entries -= cap(e.items)
		delete(x.byTenant, tenant)
	}
	if b := x.building[tenant]; b != nil {
		b.dirty = true
	}
}

// dropAll forgets every list and spoils every build. Under mu (write).
func (x *eventLists) dropAll() {
	x.byTenant, x.entries = nil, 0
	for _, b := range x.building {
		b.dirty = true
	}
}

// evictTo evicts the least recently read lists until at most tenants
// lists of at most entries in all are held. Under mu (write).
func (x *eventLists) evictTo(tenants, entries int) {
	for len(x.byTenant) > 0 && (len(x.byTenant) > tenants || x.entries > entries) {
		var oldest uuid.UUID
		least := ^uint64(0)
		for id, e := range x.byTenant {
			if u := e.used.Load(); u <= least {
				oldest, least = id, u
			}
		}
		x.drop(oldest)
	}
}

// appendTo adds header index hi to e's list, keeping the bound. Under mu
// (write).
func (x *eventLists) appendTo(e *tenantEvents, hi int32) {
	if n := len(e.items); n > 0 && e.items[n-1] == hi {
		return // a tenant named twice among the stream's candidates
	}
	before := cap(e.items)
	e.items = append(e.items, hi)
	if grown := cap(e.items) - before; grown > 0 {
		x.entries += grown
		if x.entries > x.limits.Entries {
			x.evictTo(x.limits.Tenants, x.limits.Entries)
		}
	}
}

// noteTies records, before the fold moves a tie of partner to customer,
// whether the partner sees the customer's streams, if it is watched.
// Under mu (write), from the fold.
func (m *Model) noteTies(partner, customer uuid.UUID) {
	x := &m.lists
	v, ok := x.viewer(partner)
	if !ok {
		return
	}
	for _, p := range x.touched {
		if p.tenant == partner && p.customer == customer {
			return // the first note is the view before the event
		}
	}
	x.touched = append(x.touched, touchedPair{tenant: partner, customer: customer, before: m.seesCustomerStreams(v, customer)})
}

// noteAudienceTies is noteTies for every tenant that may see customer's
// streams, and for onboarder: a CustomerOnboarded creates the customer,
// which every one of them may see thereafter, or moves its onboarder.
func (m *Model) noteAudienceTies(customer, onboarder uuid.UUID) {
	m.noteTies(onboarder, customer)
	for t := range m.customerAudience(customer) {
		m.noteTies(t, customer)
	}
}

// customerAudience names every tenant that may see customer's streams,
// perhaps more than once: the customer itself, its onboarder, and the
// partners of its relationships (the ACCEPTED ones among them). Who does
// is streamVisible's to decide. Under mu.
func (m *Model) customerAudience(customer uuid.UUID) func(yield func(uuid.UUID) bool) {
	return func(yield func(uuid.UUID) bool) {
		if !yield(customer) {
			return
		}
		if c := m.customers[customer]; c != nil && !yield(c.view.OnboardedBy) {
			return
		}
		t := m.eventIdx.byTenant[customer]
		if t == nil {
			return
		}
		for _, si := range t.rels {
			if r := m.rels[m.streamList.at(si).id]; r != nil && r.view.CustomerID == customer && !yield(r.view.PartnerID) {
				return
			}
		}
	}
}

// listsFolded keeps the lists exact once the event at header index hi, of
// stream si, is folded: first the tenants whose view of a customer with
// earlier events flipped lose their lists, then the event joins the list
// of every cached tenant that sees its stream. Under mu (write), from the
// fold, when watching.
func (m *Model) listsFolded(si, hi int32) {
	x := &m.lists
	for _, p := range x.touched {
		v, ok := x.viewer(p.tenant)
		if ok && m.seesCustomerStreams(v, p.customer) != p.before && m.customerHasEventsBefore(p.customer, hi) {
			x.drop(p.tenant)
		}
	}
	x.touched = x.touched[:0]
	if len(x.byTenant) == 0 {
		return
	}
	st := m.streamList.at(si)
	push := func(t uuid.UUID) bool {
		if e := x.byTenant[t]; e != nil && m.streamVisible(e.viewer, st) {
			x.appendTo(e, hi)
		}
		return true
	}
	switch st.cat {
	case catPartner:
		push(st.id)
	case catRelationship:
		if r := m.rels[st.id]; r != nil {
			push(r.view.PartnerID)
			push(r.view.CustomerID)
		}
	case catCustomer:
		m.customerAudience(st.id)(push)
	case catSubscription:
		if s := m.subs[st.id]; s != nil {
			m.customerAudience(s.view.CustomerID)(push)
		}
	}
}

// customerHasEventsBefore reports whether a stream of the customer (its
// own or a subscription's) holds an event before header index hi: only
// then can a change of who sees the customer change a list. Under mu.
func (m *Model) customerHasEventsBefore(customer uuid.UUID, hi int32) bool {
	t := m.eventIdx.byTenant[customer]
	if t == nil {
		return false
	}
	if t.customer >= 0 && m.streamList.at(t.customer).events[0] < hi {
		return true
	}
	for _, si := range t.subs {
		if m.streamList.at(si).events[0] < hi {
			return true
		}
	}
	return false
}

// startBuild registers the build of v's list from lists, the streams' lists
// visibleStreams named, or returns nil when the list is not to be built:
// the lists are off, the index has unplaced streams, another request is
// building it, or it would not fit. Under mu (read).
func (m *Model) startBuild(v domain.Actor, lists [][]int32) *listBuild {
	x := &m.lists
	if x.limits.Tenants == 0 || len(m.eventIdx.unplaced) > 0 {
		return nil
	}
	n := 0
	for _, l := range lists {
		n += len(l)
	}
	if listCap(n) > x.limits.Entries {
		return nil
	}
	x.buildMu.Lock()
	defer x.buildMu.Unlock()
	if x.building[v.TenantID] != nil {
		return nil
	}
	if x.building == nil {
		x.building = make(map[uuid.UUID]*listBuild)
	}
	b := &listBuild{viewer: v}
	x.building[v.TenantID] = b
	return b
}

// listCap is the capacity a list of n entries is built with: room for the
// events folded while it is built and for some after, so that the fold's
// first appends do not copy it.
func listCap(n int) int { return n + n/16 + 16 }

// buildEvents merges the streams' lists into b's list, without mu, and
// installs it unless the fold spoiled the build meanwhile. The list it
// returns is the tenant's as of the view the lists were taken with (the
// first n headers), which is what the request answers from either way.
func (m *Model) buildEvents(b *listBuild, lists [][]int32, n int) []int32 {
	items := mergeSorted(lists)
	m.mu.Lock()
	defer m.mu.Unlock()
	x := &m.lists
	delete(x.building, b.viewer.TenantID)
	if b.dirty || x.limits.Tenants == 0 || len(m.eventIdx.unplaced) > 0 {
		return items
	}
	e := &tenantEvents{viewer: b.viewer, items: items}
	// The events folded since the view: the fold pushed none of them,
	// the tenant having no list yet.
	for hi := n; hi < m.headers.len(); hi++ {
		if m.streamVisible(e.viewer, m.streamList.at(m.headers.at(hi).stream)) {
			e.items = append(e.items, int32(hi))
		}
	}
	if cap(e.items) > x.limits.Entries {
		return items
	}
	x.evictTo(x.limits.Tenants-1, x.limits.Entries-cap(e.items))
	if x.byTenant == nil {
		x.byTenant = make(map[uuid.UUID]*tenantEvents)
	}
	e.used.Store(x.lru.Add(1))
	x.byTenant[b.viewer.TenantID] = e
	x.entries += cap(e.items)
	return items
}

// mergeSorted merges sorted lists of distinct header indices into one
// sorted list of capacity listCap: adjacent runs are merged pairwise,
// round after round, so the cost is the entries times the logarithm of
// the number of lists.
func mergeSorted(lists [][]int32) []int32 {
	n := 0
	for _, l := range lists {
		n += len(l)
	}
	out := make([]int32, 0, listCap(n))
	bounds := make([]int, 0, len(lists)+1)
	for _, l := range lists {
		if len(l) > 0 {
			bounds = append(bounds, len(out))
			out = append(out, l...)
		}
	}
	bounds = append(bounds, n)
	if len(bounds) <= 2 {
		return out
	}
	src, dst := out[:n], make([]int32, n)
	for len(bounds) > 2 {
		runs := len(bounds) - 1
		j := 0
		for k := 0; k < runs; k += 2 {
			lo := bounds[k]
			if k+1 < runs {
				mergeRuns(dst[lo:bounds[k+2]], src[lo:bounds[k+1]], src[bounds[k+1]:bounds[k+2]])
			} else {
				copy(dst[lo:], src[lo:bounds[k+1]])
			}
			bounds[j] = lo // j <= k: the bounds still to be read are not overwritten
			j++
		}
		bounds[j] = n
		bounds = bounds[:j+1]
		src, dst = dst, src
	}
	if &src[0] != &out[:n][0] {
		copy(out, src)
	}
	return out
}

// mergeRuns merges sorted a and b into dst, which has room for both.
func mergeRuns(dst, a, b []int32) {
	i, j, k := 0, 0, 0
	for i < len(a) && j < len(b) {
		if a[i] < b[j] {
			dst[k] = a[i]
			i++
		} else {
			dst[k] = b[j]
			j++
		}
		k++
	}
	k += copy(dst[k:], a[i:])
	copy(dst[k:], b[j:])
}
