package projections

import (
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
)

// For the API (graph): the caller-scoped reads behind the contract's
// queries, each a copy. The reads that take payloads from the log are in
// events.go, history.go and asof*.go; the visibility they all apply is in
// visibility.go.

// Views: copies, so that nothing the writer changes is shared.

func (m *Model) customerView(c *customerState) Customer {
	out := c.view
	// A customer whose id is an enrolled partner's is a CSP partner,
	// whatever the onboarding flag said.
	if _, isPartner := m.partners[c.view.ID]; isPartner {
		out.IsCSPPartner = true
	}
	return out
}

func subscriptionView(s *subState) Subscription {
	out := s.view
	out.Services = slices.Clone(s.view.Services)
	out.ReplacedByIDs = slices.Clone(s.view.ReplacedByIDs)
	if out.ReplacedByIDs == nil {
		out.ReplacedByIDs = []uuid.UUID{}
	}
	if out.Services == nil {
		out.Services = []Service{}
	}
	return out
}

// effectiveStatus is a relationship's status at now: the domain's rule
// (PENDING reads EXPIRED from expiresAt on) on the recorded status.
func effectiveStatus(r *Relationship, now time.Time) domain.RelationshipStatus {
	return domain.EffectiveRelationshipStatus(r.Status, r.ExpiresAt, now)
}

func relationshipView(r *relState, now time.Time) Relationship {
	out := r.view
	out.Status = effectiveStatus(&r.view, now)
	return out
}

// Partner returns an enrolled partner's profile; partner profiles are
// visible to every authenticated caller.
func (m *Model) Partner(id uuid.UUID) (Partner, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	p := m.partners[id]
	if p == nil {
		return Partner{}, false
	}
	return *p, true
}

// Viewer returns the caller's own tenant as a partner (when enrolled) and
// as a customer (when onboarded); either may be nil.
func (m *Model) Viewer(v domain.Actor) (partner *Partner, customer *Customer) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if p := m.partners[v.TenantID]; p != nil {
		cp := *p
		partner = &cp
	}
	if c := m.customers[v.TenantID]; c != nil {
		cv := m.customerView(c)
		customer = &cv
	}
	return partner, customer
}

// Customer returns a customer the caller sees (fully or its profile);
// false means unknown or not visible, which callers must not tell apart.
func (m *Model) Customer(v domain.Actor, id uuid.UUID) (Customer, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	c := m.customers[id]
	if c == nil || !m.seesProfile(v, c) {
		return Customer{}, false
	}
	return m.customerView(c), true
}

// CustomerSubscriptions returns the customer's subscriptions the caller
// sees, in creation order: all of them when it sees the customer fully,
// else those it sells.
func (m *Model) CustomerSubscriptions(v domain.Actor, customerID uuid.UUID) []Subscription {
	m.mu.RLock()
	defer m.mu.RUnlock()
	c := m.customers[customerID]
	if c == nil {
		return []Subscription{}
	}
	out := make([]Subscription, 0, len(c.subs))
	for _, s := range c.subs {
		if m.seesSubscription(v, s) {
			out = append(out, subscriptionView(s))
		}
	}
	return out
}

// CustomerRelationships returns the customer's relationships the caller
// sees, in creation order: a partner sees its own only.
func (m *Model) CustomerRelationships(v domain.Actor, customerID uuid.UUID) []Relationship {
	now := m.now()
	m.mu.RLock()
	defer m.mu.RUnlock()
	c := m.customers[customerID]
	if c == nil {
		return []Relationship{}
	}
	out := make([]Relationship, 0, len(c.rels))
	for _, r := range c.rels {
		if seesRelationship(v, r) {
			out = append(out, relationshipView(r, now))
		}
	}
	return out
}

// Subscription returns a subscription the caller sees.
func (m *Model) Subscription(v domain.Actor, id uuid.UUID) (Subscription, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	s := m.subs[id]
	if s == nil || !m.seesSubscription(v, s) {
		return Subscription{}, false
	}
	return subscriptionView(s), true
}

// Relationship returns a relationship the caller sees, with its effective
// status.
func (m *Model) Relationship(v domain.Actor, id uuid.UUID) (Relationship, bool) {
	now := m.now()
	m.mu.RLock()
	defer m.mu.RUnlock()
	r := m.rels[id]
	if r == nil || !seesRelationship(v, r) {
		return Relationship{}, false
	}
	return relationshipView(r, now), true
}

// Customers lists the customers the caller sees, in creation order.
func (m *Model) Customers(v domain.Actor, f CustomerFilter, first *int, after *string) (CustomerConnection, error) {
	req, err := parsePage(cursorCustomer, first, after)
	if err != nil {
		return CustomerConnection{}, err
	}
	var needle string
	if f.NameContains != nil {
		needle = strings.ToLower(*f.NameContains)
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	var p pager[Customer]
	p.req = req
	for c := range m.customerOrder.all {
		if f.Cloud != nil && c.view.Cloud != *f.Cloud {
			continue
		}
		if needle != "" && !strings.Contains(c.lowerName, needle) {
			continue
		}
		if !m.seesProfile(v, c) {
			continue
		}
		p.add(c.pos, func() Customer { return m.customerView(c) })
	}
	edges := make([]CustomerEdge, len(p.items))
	for i, it := range p.items {
		edges[i] = CustomerEdge{Cursor: cursorCustomer + p.positions[i].String(), Node: it}
	}
	return CustomerConnection{Edges: edges, PageInfo: p.info(cursorCustomer), TotalCount: p.total}, nil
}

// Subscriptions lists the subscriptions the caller sees, in creation order.
func (m *Model) Subscriptions(v domain.Actor, f SubscriptionFilter, first *int, after *string) (SubscriptionConnection, error) {
	req, err := parsePage(cursorSubscription, first, after)
	if err != nil {
		return SubscriptionConnection{}, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	list := m.subOrder.all
	if f.CustomerID != nil {
		// A customer's subscriptions are kept in creation order too.
		var subs []*subState
		if c := m.customers[*f.CustomerID]; c != nil {
			subs = c.subs
		}
		list = slices.Values(subs)
	}
	var p pager[Subscription]
	p.req = req
	for s := range list {
		if f.CustomerID != nil && s.view.CustomerID != *f.CustomerID ||
			f.BillingModel != nil && s.view.BillingModel != *f.BillingModel ||
			f.Channel != nil && s.view.Channel != *f.Channel ||
			f.Status != nil && s.view.Status != *f.Status {
			continue
		}
		if !m.seesSubscription(v, s) {
			continue
		}
		p.add(s.pos, func() Subscription { return subscriptionView(s) })
	}
	edges := make([]SubscriptionEdge, len(p.items))
	for i, it := range p.items {
		edges[i] = SubscriptionEdge{Cursor: cursorSubscription + p.positions[i].String(), Node: it}
	}
	return SubscriptionConnection{Edges: edges, PageInfo: p.info(cursorSubscription), TotalCount: p.total}, nil
}

// Relationships lists the relationships the caller sees, in creation
// order; the status filter matches the effective status.
func (m *Model) Relationships(v domain.Actor, f RelationshipFilter, first *int, after *string) (RelationshipConnection, error) {
	req, err := parsePage(cursorRelationship, first, after)
	if err != nil {
		return RelationshipConnection{}, err
	}
	now := m.now()
	m.mu.RLock()
	defer m.mu.RUnlock()
	list := m.relOrder.all
	if f.CustomerID != nil {
		var rels []*relState
		if c := m.customers[*f.CustomerID]; c != nil {
			rels = c.rels
		}
		list = slices.Values(rels)
	}
	var p pager[Relationship]
	p.req = req
	for r := range list {
		if f.CustomerID != nil && r.view.CustomerID != *f.CustomerID ||
			f.PartnerID != nil && r.view.PartnerID != *f.PartnerID ||
			f.Status != nil && effectiveStatus(&r.view, now) != *f.Status {
			continue
		}
		if !seesRelationship(v, r) {
			continue
		}
		p.add(r.pos, func() Relationship { return relationshipView(r, now) })
	}
	edges := make([]RelationshipEdge, len(p.items))
	for i, it := range p.items {
		edges[i] = RelationshipEdge{Cursor: cursorRelationship + p.positions[i].String(), Node: it}
	}
	return RelationshipConnection{Edges: edges, PageInfo: p.info(cursorRelationship), TotalCount: p.total}, nil
}

// SupportPlan is a calling partner's next step for each subscription of
// the customer it may see. Customer users and auditors are FORBIDDEN (the
// plan is a partner's); a customer the caller cannot see is NOT_FOUND.
func (m *Model) SupportPlan(v domain.Actor, customerID uuid.UUID) (SupportPlan, error) {
	now := m.now()
	m.mu.RLock()
	defer m.mu.RUnlock()
	if v.Audits() {
		return SupportPlan{}, domain.Errorf(domain.CodeForbidden, "the support plan is a partner's next steps; auditors read customers instead")
	}
	if _, isPartner := m.partners[v.TenantID]; !isPartner {
		return SupportPlan{}, domain.Errorf(domain.CodeForbidden, "only a partner has a support plan")
	}
	c := m.customers[customerID]
	if c == nil || !m.seesProfile(v, c) {
		return SupportPlan{}, domain.Errorf(domain.CodeNotFound, "customer %s not found", customerID)
	}
	cust := m.customerView(c)
	var accepted, pending bool
	for _, r := range c.rels {
		if r.view.PartnerID != v.TenantID {
			continue
		}
		switch effectiveStatus(&r.view, now) {
		case domain.Accepted:
			accepted = true
		case domain.Pending:
			pending = true
		}
	}
	plan := SupportPlan{Customer: cust, Items: []SupportPlanItem{}}
	for _, s := range c.subs {
		if !m.seesSubscription(v, s) {
			continue
		}
		sc := domain.ClassifySubscription(cust.IsCSPPartner, s.view.Channel, s.view.BillingModel)
		action, code, why := domain.DecideNextAction(domain.PlanSituation{
			Case:                 sc,
			Cancelled:            s.view.Status == domain.StatusCancelled,
			CallerSells:          s.view.SellerPartnerID != nil && *s.view.SellerPartnerID == v.TenantID,
			RelationshipAccepted: accepted,
			RequestPending:       pending,
			TermEndsAt:           s.view.TermEndsAt,
			ReplacedByCaller:     slices.Contains(s.replacedBy, v.TenantID),
			Now:                  now,
		})
		item := SupportPlanItem{Subscription: subscriptionView(s), Case: sc, NextAction: action, Explanation: why}
		if code != "" {
			item.RefusalCode = &code
		}
		plan.Items = append(plan.Items, item)
	}
	return plan, nil
}

func sortRelsByExpiry(rs []*relState) {
	slices.SortFunc(rs, func(a, b *relState) int {
		if c := a.view.ExpiresAt.Compare(b.view.ExpiresAt); c != 0 {
			return c
		}
		return comparePos(a.pos, b.pos)
	})
}
