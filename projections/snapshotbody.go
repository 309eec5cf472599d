package projections

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/eventstore"
)

// The body's sections, in file order (see snapshotcodec.go).
const (
	secMeta = iota
	secStreams
	secSubs
	secRels
	secCustomers // after subs and rels, whose arrays it points into
	secKeys      // access, pending; after rels
	secPartners
	secActors
	secHeaders
	secEventIndex
	numSections
)

// minBytes is the least an object of each section's kind takes in it (its
// ids): a count beyond len/minBytes is refused before anything is made.
var minBytes = [numSections]int{
	secStreams: 2, secSubs: 33, secRels: 49, secCustomers: 33, secPartners: 17,
	secActors: 17, secHeaders: 17, secEventIndex: 17,
}

// encodeBody encodes the copy's sections, each on a goroutine of its
// own; it runs without any lock.
func (c *copied) encodeBody() []*enc {
	// Map order is random: sorted, equal models write equal bytes.
	slices.SortFunc(c.access, func(a, b AccessSnapshot) int {
		return cmp.Or(bytes.Compare(a.Partner[:], b.Partner[:]), bytes.Compare(a.Customer[:], b.Customer[:]))
	})
	slices.SortFunc(c.pending, func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })
	slices.SortFunc(c.partners, func(a, b Partner) int { return bytes.Compare(a.ID[:], b.ID[:]) })

	// The copies stand in for the model's objects: the indices customers
	// and pending requests refer to, and a scratch model whose events index
	// is rebuilt from them, so that a load need not rebuild it.
	subs := make(map[uuid.UUID]*subState, len(c.subViews))
	subIndex := make(map[*subState]uint64, len(c.subs))
	rels := make(map[uuid.UUID]*relState, len(c.relViews))
	relIndex := make(map[*relState]uint64, len(c.rels))
	relAt := make(map[uuid.UUID]uint64, len(c.relViews))
	var scratch *Model
	var wg sync.WaitGroup
	wg.Go(func() {
		for i, p := range c.subs {
			subIndex[p] = uint64(i)
			subs[c.subViews[i].view.ID] = &c.subViews[i]
		}
	})
	wg.Go(func() {
		for i, p := range c.rels {
			relIndex[p] = uint64(i)
			rels[c.relViews[i].view.ID] = &c.relViews[i]
			relAt[c.relViews[i].view.ID] = uint64(i)
		}
	})
	wg.Wait()
	secs := make([]*enc, numSections)
	wg.Go(func() {
		customers := make([]*customerState, len(c.customers))
		for i := range c.customers {
			customers[i] = &c.customers[i]
		}
		scratch = &Model{subs: subs, rels: rels, streamList: chunkListOf(c.streams), customerOrder: chunkListOf(customers)}
		scratch.rebuildEventIndex()
		secs[secEventIndex] = encodeEventIndex(&scratch.eventIdx)
	})
	wg.Go(func() { secs[secSubs] = c.encodeSubs() })
	wg.Go(func() { secs[secStreams] = c.encodeStreams() })
	wg.Go(func() { secs[secHeaders] = c.encodeHeaders() })
	wg.Go(func() {
		secs[secPartners] = c.encodePartners()
		secs[secCustomers] = c.encodeCustomers(subIndex, relIndex)
		secs[secRels] = c.encodeRels()
		secs[secKeys] = c.encodeKeys(relAt)
		secs[secActors] = c.encodeActors()
	})
	wg.Wait()
	secs[secMeta] = c.encodeMeta(len(scratch.eventIdx.byTenant))
	return secs
}

// The meta section: the checkpoint and how many objects of each kind the
// other sections hold, so that the arrays they point into are made before
// they are decoded.
type bodyMeta struct {
	pos                                                      eventstore.Position
	events, partners, customers, subs, rels, streams, actors int
	tenants                                                  int
}

func (c *copied) encodeMeta(tenants int) *enc {
	e := newEnc(64)
	e.u(c.pos.Commit)
	e.u(c.pos.Prepare)
	for _, n := range []int{c.n, len(c.partners), len(c.customers), len(c.subs), len(c.rels), len(c.streams), len(c.actors), tenants} {
		e.u(uint64(n))
	}
	return e
}

func decodeBodyMeta(d *dec) bodyMeta {
	var b bodyMeta
	b.pos.Commit, b.pos.Prepare = d.u(), d.u()
	for _, p := range []*int{&b.events, &b.partners, &b.customers, &b.subs, &b.rels, &b.streams, &b.actors, &b.tenants} {
		*p = int(min(d.u(), 1<<40))
	}
	return b
}

func (c *copied) encodePartners() *enc {
	e := newEnc(len(c.partners) * 32)
	for i := range c.partners {
		p := &c.partners[i]
		e.id(p.ID)
		e.str(p.Name)
		sym(e, p.Cloud)
		e.time(p.EnrolledAt)
	}
	return e
}

func (c *copied) encodeCustomers(subIndex map[*subState]uint64, relIndex map[*relState]uint64) *enc {
	e := newEnc(len(c.customers) * 64)
	subs, rels := 0, 0
	for i := range c.customers {
		subs += len(c.customers[i].subs)
		rels += len(c.customers[i].rels)
	}
	e.u(uint64(subs))
	e.u(uint64(rels))
	for i := range c.customers {
		cs := &c.customers[i]
		v := &cs.view
		e.id(v.ID)
		e.str(v.Name)
		e.str(v.Domain)
		sym(e, v.Cloud)
		e.boolean(v.IsCSPPartner)
		e.id(v.OnboardedBy)
		e.time(v.CreatedAt)
		e.u(cs.pos.Commit)
		e.u(cs.pos.Prepare)
		e.listLen(len(cs.subs), cs.subs == nil)
		for _, p := range cs.subs {
			e.u(subIndex[p])
		}
		e.listLen(len(cs.rels), cs.rels == nil)
		for _, p := range cs.rels {
			e.u(relIndex[p])
		}
	}
	return e
}

func (c *copied) encodeSubs() *enc {
	e := newEnc(len(c.subs) * 96)
	// The sellers: each subscription names one by its index (0 for none),
	// and the load shares one pointer per partner, as the fold does.
	sellers := map[uuid.UUID]uint64{}
	var sellerList []uuid.UUID
	var services, ids, times, legacy, ptrs int
	for i := range c.subViews {
		v := &c.subViews[i].view
		if p := v.SellerPartnerID; p != nil {
			if _, ok := sellers[*p]; !ok {
				sellers[*p] = uint64(len(sellerList)) + 1
				sellerList = append(sellerList, *p)
			}
		}
		services += len(v.Services)
		ids += len(v.ReplacedByIDs) + len(c.subViews[i].replacedBy)
		times += b2i(v.TermEndsAt != nil) + b2i(v.CancelledAt != nil)
		legacy += b2i(v.LegacyDetails != nil)
		ptrs += b2i(v.ReplacesID != nil)
	}
	e.u(uint64(len(sellerList)))
	for _, id := range sellerList {
		e.id(id)
	}
	for _, n := range []int{services, ids, times, legacy, ptrs} {
		e.u(uint64(n))
	}
	for i := range c.subViews {
		s := &c.subViews[i]
		v := &s.view
		e.id(v.ID)
		e.id(v.CustomerID)
		sym(e, v.Offer)
		sym(e, v.BillingModel)
		sym(e, v.Channel)
		if v.SellerPartnerID == nil {
			e.u(0)
		} else {
			e.u(sellers[*v.SellerPartnerID])
		}
		e.timePtr(v.TermEndsAt)
		e.i(int64(v.Quantity))
		sym(e, v.Status)
		e.time(v.CreatedAt)
		e.timePtr(v.CancelledAt)
		e.listLen(len(v.Services), v.Services == nil)
		for _, sv := range v.Services {
			e.id(sv.ID)
			sym(e, sv.Name)
			sym(e, sv.Status)
		}
		e.opt(v.LegacyDetails != nil)
		if l := v.LegacyDetails; l != nil {
			e.str(l.AzureSubscriptionID)
			e.strPtr(l.AgreementNumber)
			e.strPtr(l.Notes)
		}
		e.idPtr(v.ReplacesID)
		e.ids(v.ReplacedByIDs)
		e.u(s.pos.Commit)
		e.u(s.pos.Prepare)
		e.ids(s.replacedBy)
	}
	return e
}

func b2i(v bool) int {
	if v {
		return 1
	}
	return 0
}

func (c *copied) encodeRels() *enc {
	e := newEnc(len(c.rels) * 80)
	times, msgs := 0, 0
	for i := range c.relViews {
		v := &c.relViews[i].view
		times += b2i(v.RespondedAt != nil) + b2i(v.TerminatedAt != nil)
		msgs += b2i(v.Message != nil)
	}
	e.u(uint64(times))
	e.u(uint64(msgs))
	for i := range c.relViews {
		r := &c.relViews[i]
		v := &r.view
		e.id(v.ID)
		e.id(v.PartnerID)
		e.id(v.CustomerID)
		sym(e, v.Status)
		e.strPtr(v.Message)
		e.time(v.RequestedAt)
		e.time(v.ExpiresAt)
		e.timePtr(v.RespondedAt)
		e.timePtr(v.TerminatedAt)
		e.u(r.pos.Commit)
		e.u(r.pos.Prepare)
	}
	return e
}

func (c *copied) encodeKeys(relAt map[uuid.UUID]uint64) *enc {
	e := newEnc(len(c.access)*40 + len(c.pending)*20)
	e.u(uint64(len(c.access)))
	for _, a := range c.access {
		e.id(a.Partner)
		e.id(a.Customer)
		e.i(int64(a.Accepted))
		e.i(int64(a.Relationships))
		e.i(int64(a.Sells))
	}
	// A pending request is its relationship's index; the id is kept too,
	// so that the map is filled without reading the relationships, which
	// another goroutine is decoding.
	e.u(uint64(len(c.pending)))
	for _, id := range c.pending {
		e.id(id)
		e.u(relAt[id])
	}
	return e
}

func (c *copied) encodeActors() *enc {
	e := newEnc(len(c.actors) * 24)
	for _, a := range c.actors {
		e.str(a.UserID)
		e.id(a.TenantID)
		sym(e, a.Role)
	}
	return e
}

func (c *copied) encodeStreams() *enc {
	e := newEnc(len(c.streams)*4 + c.n*2)
	e.u(uint64(c.n)) // the events the lists hold in all
	for i := range c.streams {
		st := &c.streams[i]
		e.str(st.name)
		e.u(uint64(len(st.events)))
		// Indices grow along a stream: each is written as the step from
		// the one before.
		prev := int32(-1)
		for _, hi := range st.events {
			e.u(uint64(hi - prev))
			prev = hi
		}
	}
	return e
}

func (c *copied) encodeHeaders() *enc {
	e := newEnc(c.n * 32)
	var prev header
	for i := range c.n {
		h := &c.chunks[i>>headerChunkBits][i&(headerChunk-1)]
		// Positions and times mostly grow by a little: deltas, signed.
		e.i(int64(h.pos.Commit - prev.pos.Commit))
		e.i(int64(h.pos.Prepare - prev.pos.Prepare))
		e.u(h.rev)
		e.i(h.recordedAt - prev.recordedAt)
		e.id(h.correlation)
		e.u(uint64(h.stream))
		e.u(uint64(h.actorTyp))
		prev = *h
	}
	return e
}

func encodeEventIndex(x *eventIndex) *enc {
	tenants := make([]uuid.UUID, 0, len(x.byTenant))
	lists, onboarded := 0, 0
	for id, t := range x.byTenant {
		tenants = append(tenants, id)
		lists += len(t.subs) + len(t.rels)
		onboarded += len(t.onboarded)
	}
	slices.SortFunc(tenants, func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })
	e := newEnc(len(tenants) * 40)
	e.u(uint64(lists))
	e.u(uint64(onboarded))
	e.u(uint64(len(tenants)))
	for _, id := range tenants {
		t := x.byTenant[id]
		e.id(id)
		e.i(int64(t.partner))
		e.i(int64(t.customer))
		e.listLen(len(t.subs), t.subs == nil)
		for _, si := range t.subs {
			e.u(uint64(si))
		}
		e.listLen(len(t.rels), t.rels == nil)
		for _, si := range t.rels {
			e.u(uint64(si))
		}
		e.ids(t.onboarded)
	}
	e.u(uint64(len(x.unplaced)))
	for _, si := range x.unplaced {
		e.u(uint64(si))
	}
	return e
}

// restoring is a restore under way. Sections are handed to it in file
// order as soon as their bytes are read (section): their symbols are made
// the model's shared strings there, in order, and each is then decoded on
// a goroutine of its own, filling maps no other touches, into arrays made
// beforehand (customers point at subscriptions another goroutine is
// filling in). wait ends the restore.
type restoring struct {
	m         *Model
	meta      bodyMeta
	subs      []subState
	rels      []relState
	customers []customerState
	started   int
	wg        sync.WaitGroup
	errs      [numSections]error
}

// section takes the next section of the body.
func (r *restoring) section(sec []byte) error {
	i := r.started
	if i >= numSections {
		return fmt.Errorf("%w: more than %d sections", errSnapshotBody, numSections)
	}
	r.started++
	d := newDec(sec)
	for k, v := range d.syms {
		d.syms[k] = intern(r.m, v)
	}
	if d.err != nil {
		return fmt.Errorf("section %d: %w", i, d.err)
	}
	if i == secMeta {
		r.meta = decodeBodyMeta(d)
		return d.done("meta")
	}
	n := map[int]int{secStreams: r.meta.streams, secSubs: r.meta.subs, secRels: r.meta.rels,
		secCustomers: r.meta.customers, secPartners: r.meta.partners, secActors: r.meta.actors,
		secHeaders: r.meta.events, secEventIndex: r.meta.tenants}[i]
	if minBytes[i] > 0 && n > len(sec)/minBytes[i] {
		return fmt.Errorf("%w: %d objects in section %d of %d bytes", errSnapshotBody, n, i, len(sec))
	}
	decode := map[int]func(*dec) error{
		secStreams: r.streams, secSubs: r.subscriptions, secRels: r.relationships,
		secCustomers: r.customerList, secKeys: r.keys, secPartners: r.partners,
		secActors: r.actors, secHeaders: r.headers, secEventIndex: r.eventIndex,
	}[i]
	switch i {
	case secSubs:
		r.subs = make([]subState, n)
	case secRels:
		r.rels = make([]relState, n)
	case secCustomers:
		r.customers = make([]customerState, n)
	}
	r.wg.Go(func() { r.errs[i] = decode(d) })
	return nil
}

// wait waits for the sections' decoding and finishes the model: it is
// called once, whether or not a section failed, so that no goroutine
// outlives the restore.
func (r *restoring) wait() (eventstore.Position, error) {
	r.wg.Wait()
	if r.started != numSections {
		return eventstore.Position{}, fmt.Errorf("%w: %d sections of %d", errSnapshotBody, r.started, numSections)
	}
	for _, err := range r.errs {
		if err != nil {
			return eventstore.Position{}, err
		}
	}
	m := r.m
	for id, rel := range m.pending {
		if rel.view.ID != id {
			return eventstore.Position{}, fmt.Errorf("%w: pending relationship %s is not the one at its index", errSnapshotBody, id)
		}
	}
	m.subOrder = chunkListOf(pointers(r.subs))
	m.relOrder = chunkListOf(pointers(r.rels))
	m.customerOrder = chunkListOf(pointers(r.customers))
	return r.meta.pos, nil
}

func (r *restoring) partners(d *dec) error {
	m := r.m
	ps := make([]Partner, r.meta.partners)
	m.partners = make(map[uuid.UUID]*Partner, len(ps))
	for i := range ps {
		p := &ps[i]
		p.ID = d.id()
		p.Name = d.str()
		p.Cloud = decSym[domain.Cloud](d)
		p.EnrolledAt = d.time()
		m.partners[p.ID] = p
	}
	return d.done("partners")
}

func (r *restoring) customerList(d *dec) error {
	m := r.m
	m.customers = make(map[uuid.UUID]*customerState, len(r.customers))
	subs := newBlock[*subState](d.count(1))
	rels := newBlock[*relState](d.count(1))
	for i := range r.customers {
		c := &r.customers[i]
		v := &c.view
		v.ID = d.id()
		v.Name = d.str()
		v.Domain = d.str()
		v.Cloud = decSym[domain.Cloud](d)
		v.IsCSPPartner = d.boolean()
		v.OnboardedBy = d.id()
		v.CreatedAt = d.time()
		c.pos.Commit, c.pos.Prepare = d.u(), d.u()
		c.lowerName = lower(v.Name)
		if n, isNil := d.listLen(1); !isNil {
			c.subs = subs.take(n)
			for k := range c.subs {
				c.subs[k] = at(d, r.subs)
			}
		}
		if n, isNil := d.listLen(1); !isNil {
			c.rels = rels.take(n)
			for k := range c.rels {
				c.rels[k] = at(d, r.rels)
			}
		}
		m.customers[v.ID] = c
		if d.err != nil {
			break
		}
	}
	return d.done("customers")
}

func (r *restoring) subscriptions(d *dec) error {
	m := r.m
	sellers := make([]*uuid.UUID, d.count(16)+1)
	for i := 1; i < len(sellers); i++ {
		id := d.id()
		sellers[i] = m.partnerRef(&id)
	}
	services := newBlock[Service](d.count(1))
	ids := newBlock[uuid.UUID](d.count(1))
	times := newBlock[time.Time](d.count(1))
	nLegacy := d.count(1)
	legacy := newBlock[domain.LegacyDetails](nLegacy)
	ptrs := newBlock[uuid.UUID](d.count(1))
	strs := newBlock[string](2 * nLegacy)
	m.subs = make(map[uuid.UUID]*subState, len(r.subs))
	for i := range r.subs {
		s := &r.subs[i]
		v := &s.view
		v.ID = d.id()
		v.CustomerID = d.id()
		v.Offer = decSym[string](d)
		v.BillingModel = decSym[domain.BillingModel](d)
		v.Channel = decSym[domain.Channel](d)
		v.SellerPartnerID = sellers[d.index(len(sellers))]
		if d.opt() {
			t := times.one()
			*t = d.time()
			v.TermEndsAt = t
		}
		v.Quantity = int(d.i())
		v.Status = decSym[domain.SubscriptionStatus](d)
		v.CreatedAt = d.time()
		if d.opt() {
			t := times.one()
			*t = d.time()
			v.CancelledAt = t
		}
		if n, isNil := d.listLen(17); !isNil {
			v.Services = services.take(n)
			for k := range v.Services {
				sv := &v.Services[k]
				sv.ID = d.id()
				sv.Name = decSym[string](d)
				sv.Status = decSym[domain.SubscriptionStatus](d)
			}
		}
		if d.opt() {
			l := legacy.one()
			l.AzureSubscriptionID = d.str()
			if d.opt() {
				p := strs.one()
				*p = d.str()
				l.AgreementNumber = p
			}
			if d.opt() {
				p := strs.one()
				*p = d.str()
				l.Notes = p
			}
			v.LegacyDetails = l
		}
		if d.opt() {
			p := ptrs.one()
			*p = d.id()
			v.ReplacesID = p
		}
		v.ReplacedByIDs = decIDs(d, &ids)
		s.pos.Commit, s.pos.Prepare = d.u(), d.u()
		s.replacedBy = decIDs(d, &ids)
		m.subs[v.ID] = s
		if d.err != nil {
			break
		}
	}
	return d.done("subscriptions")
}

// at is the element of s the next index names, nil (and d failed) when
// there is no such element.
func at[T any](d *dec, s []T) *T {
	i := d.index(len(s))
	if d.err != nil {
		return nil
	}
	return &s[i]
}

func decIDs(d *dec, b *block[uuid.UUID]) []uuid.UUID {
	n, isNil := d.listLen(16)
	if isNil {
		return nil
	}
	s := b.take(n)
	for k := range s {
		s[k] = d.id()
	}
	return s
}

func (r *restoring) relationships(d *dec) error {
	m := r.m
	times := newBlock[time.Time](d.count(1))
	msgs := newBlock[string](d.count(1))
	m.rels = make(map[uuid.UUID]*relState, len(r.rels))
	for i := range r.rels {
		rel := &r.rels[i]
		v := &rel.view
		v.ID = d.id()
		v.PartnerID = d.id()
		v.CustomerID = d.id()
		v.Status = decSym[domain.RelationshipStatus](d)
		if d.opt() {
			p := msgs.one()
			*p = d.str()
			v.Message = p
		}
		v.RequestedAt = d.time()
		v.ExpiresAt = d.time()
		if d.opt() {
			t := times.one()
			*t = d.time()
			v.RespondedAt = t
		}
		if d.opt() {
			t := times.one()
			*t = d.time()
			v.TerminatedAt = t
		}
		rel.pos.Commit, rel.pos.Prepare = d.u(), d.u()
		m.rels[v.ID] = rel
		if d.err != nil {
			break
		}
	}
	return d.done("relationships")
}

func (r *restoring) keys(d *dec) error {
	m := r.m
	n := d.count(32)
	as := make([]access, n)
	m.access = make(map[pairKey]*access, n)
	for i := range as {
		k := pairKey{partner: d.id(), customer: d.id()}
		as[i] = access{accepted: int(d.i()), relationships: int(d.i()), sells: int(d.i())}
		m.access[k] = &as[i]
	}
	n = d.count(17)
	m.pending = make(map[uuid.UUID]*relState, n)
	for range n {
		id := d.id()
		m.pending[id] = at(d, r.rels)
	}
	return d.done("access and pending")
}

func (r *restoring) actors(d *dec) error {
	m := r.m
	actors := make([]domain.Actor, r.meta.actors)
	m.actors = make(map[domain.Actor]int32, len(actors))
	for i := range actors {
		a := &actors[i]
		a.UserID = d.str()
		a.TenantID = d.id()
		a.Role = decSym[domain.Role](d)
		m.actors[*a] = int32(i)
	}
	m.actorList = chunkListOf(actors)
	if len(m.actors) != len(actors) {
		d.fail("an actor listed twice")
	}
	return d.done("actors")
}

func (r *restoring) streams(d *dec) error {
	m := r.m
	n := r.meta.events
	if total := d.u(); total != uint64(n) {
		d.fail("streams hold %d events, the index %d", total, n)
	}
	events := newBlock[int32](n)
	streams := make([]streamState, r.meta.streams)
	m.streams = newStreamIndex(len(streams))
	for i := range streams {
		st := &streams[i]
		st.name = d.str()
		catName, id, ok := domain.SplitStream(st.name)
		if !ok {
			d.fail("stream %q", st.name)
			break
		}
		st.cat, st.id = categoryOf(catName), id
		ref := refParsed(st.name, st.cat, id)
		k := d.count(1)
		st.events = events.take(k)
		prev := int64(-1)
		for j := range st.events {
			prev += int64(d.u())
			if prev >= int64(n) {
				d.fail("stream %q: event %d out of range", st.name, prev)
				break
			}
			st.events[j] = int32(prev)
		}
		m.streams.put(st.name, &ref, int32(i))
		if d.err != nil {
			break
		}
	}
	m.streamList = chunkListOf(streams)
	if d.err == nil && m.streams.len() != len(streams) {
		d.fail("a stream listed twice")
	}
	return d.done("streams")
}

func (r *restoring) headers(d *dec) error {
	m := r.m
	var prev header
	for range r.meta.events {
		h := header{}
		h.pos.Commit = prev.pos.Commit + uint64(d.i())
		h.pos.Prepare = prev.pos.Prepare + uint64(d.i())
		h.rev = d.u()
		h.recordedAt = prev.recordedAt + d.i()
		h.correlation = d.id()
		h.stream = int32(d.index(r.meta.streams))
		h.actorTyp = actorType(d.u())
		if d.err != nil {
			break
		}
		if int(h.actor()) >= r.meta.actors || int(h.typ()) >= len(eventTypes) {
			d.fail("index entry %d out of range", m.headers.len())
			break
		}
		m.headers.append(h)
		prev = h
	}
	return d.done("index")
}

func (r *restoring) eventIndex(d *dec) error {
	m := r.m
	lists := newBlock[int32](d.count(1))
	onboarded := newBlock[uuid.UUID](d.count(16))
	n := d.count(18)
	ts := make([]tenantStreams, n)
	x := eventIndex{byTenant: make(map[uuid.UUID]*tenantStreams, n)}
	streams := r.meta.streams
	stream := func() int32 { return int32(d.index(streams)) }
	ref := func() int32 {
		v := d.i()
		if v < -1 || v >= int64(streams) {
			d.fail("stream %d out of range", v)
			return -1
		}
		return int32(v)
	}
	list := func() []int32 {
		n, isNil := d.listLen(1)
		if isNil {
			return nil
		}
		l := lists.take(n)
		for k := range l {
			l[k] = stream()
		}
		return l
	}
	for i := range ts {
		t := &ts[i]
		id := d.id()
		t.partner, t.customer = ref(), ref()
		t.subs, t.rels = list(), list()
		t.onboarded = decIDs(d, &onboarded)
		x.byTenant[id] = t
		if d.err != nil {
			break
		}
	}
	k := d.count(1)
	if k > 0 {
		x.unplaced = make([]int32, k)
		for i := range x.unplaced {
			x.unplaced[i] = stream()
		}
	}
	m.eventIdx = x
	return d.done("events index")
}
