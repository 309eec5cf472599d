package projections_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/projections"
)

func customerIDs(c projections.CustomerConnection) []uuid.UUID {
	return ids(c.Edges, func(e projections.CustomerEdge) uuid.UUID { return e.Node.ID })
}

func TestCustomersPagination(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	p := f.enroll("P")
	q := f.enroll("Q")
	pv := user(p, domain.RoleSalesAgent)
	// An older customer of Q's, invisible to P for now.
	older := f.onboard(q, "Older", false)
	var mine []uuid.UUID
	for i := range 25 {
		mine = append(mine, f.onboard(p, fmt.Sprintf("Customer %02d", i), false))
	}

	page, err := f.model.Customers(pv, projections.CustomerFilter{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	sameIDs(t, "page 1 (default 20)", customerIDs(page), mine[:20])
	if page.TotalCount != 25 || !page.PageInfo.HasNextPage || page.PageInfo.HasPreviousPage ||
		*page.PageInfo.StartCursor != page.Edges[0].Cursor || *page.PageInfo.EndCursor != page.Edges[19].Cursor {
		t.Fatalf("page 1 info: %+v total %d", page.PageInfo, page.TotalCount)
	}

	// New writes between pages: a customer created after (it is last), and
	// an older customer that becomes visible (it sorts before the cursor).
	// The next page continues where the first ended.
	newest := f.onboard(p, "Customer newest", false)
	f.request(p, older, 0)
	page2, err := f.model.Customers(pv, projections.CustomerFilter{}, ptr(10), page.PageInfo.EndCursor)
	if err != nil {
		t.Fatal(err)
	}
	sameIDs(t, "page 2", customerIDs(page2), append(append([]uuid.UUID{}, mine[20:]...), newest))
	if page2.TotalCount != 27 || page2.PageInfo.HasNextPage || !page2.PageInfo.HasPreviousPage {
		t.Fatalf("page 2 info: %+v total %d", page2.PageInfo, page2.TotalCount)
	}

	// first = 0: no edges, but there is a next page.
	page0, err := f.model.Customers(pv, projections.CustomerFilter{}, ptr(0), nil)
	if err != nil || len(page0.Edges) != 0 || !page0.PageInfo.HasNextPage || page0.PageInfo.StartCursor != nil {
		t.Fatalf("first 0: %+v %v", page0, err)
	}
	if all, err := f.model.Customers(pv, projections.CustomerFilter{}, ptr(100), nil); err != nil || len(all.Edges) != 27 {
		t.Fatalf("first 100: %d %v", len(all.Edges), err)
	}

	// Bounds and cursors the server did not issue.
	sub := f.record(mine[0], "X", domain.UsageBased, domain.ChannelOpen, nil)
	sc, _ := f.model.Subscriptions(pv, projections.SubscriptionFilter{}, nil, nil)
	if sc.Edges[0].Node.ID != sub {
		t.Fatal("subscription not listed")
	}
	for _, tc := range []struct {
		name  string
		first *int
		after *string
	}{
		{"first -1", ptr(-1), nil},
		{"first 101", ptr(101), nil},
		{"garbage cursor", nil, ptr("garbage")},
		{"empty cursor", nil, ptr("")},
		{"another list's cursor", nil, &sc.Edges[0].Cursor},
		{"an event position", nil, ptr("1-1")},
	} {
		_, err := f.model.Customers(pv, projections.CustomerFilter{}, tc.first, tc.after)
		if !errors.Is(err, domain.ErrBadUserInput) {
			t.Errorf("%s: err = %v, want BAD_USER_INPUT", tc.name, err)
		}
	}
}

func TestCustomerFilters(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	p := f.enroll("P")
	a := f.onboard(p, "Northwind Traders", false)
	f.onboard(p, "Contoso", false)
	gov := newID()
	f.emit(domain.CustomerStream(gov), user(p, domain.RoleSalesAgent), domain.CustomerOnboarded{
		CustomerID: gov, Name: "NORTHWIND Gov", Domain: "gov.example", Cloud: domain.CloudUSGovernment, OnboardedBy: p,
	})
	conn, _ := f.model.Customers(auditor, projections.CustomerFilter{NameContains: ptr("northwind")}, nil, nil)
	sameIDs(t, "nameContains", customerIDs(conn), []uuid.UUID{a, gov})
	conn, _ = f.model.Customers(auditor, projections.CustomerFilter{NameContains: ptr("north"), Cloud: ptr(domain.CloudUSGovernment)}, nil, nil)
	sameIDs(t, "cloud+name", customerIDs(conn), []uuid.UUID{gov})
	if conn.TotalCount != 1 {
		t.Fatalf("totalCount %d", conn.TotalCount)
	}
}

func TestSubscriptionAndRelationshipFilters(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	m := w.f.model
	sc, err := m.Subscriptions(auditor, projections.SubscriptionFilter{CustomerID: &w.c, Channel: ptr(domain.ChannelCSPPartner)}, ptr(1), nil)
	if err != nil {
		t.Fatal(err)
	}
	if sc.TotalCount != 2 || len(sc.Edges) != 1 || sc.Edges[0].Node.ID != w.s3 || !sc.PageInfo.HasNextPage {
		t.Fatalf("page 1: %+v", sc)
	}
	sc, _ = m.Subscriptions(auditor, projections.SubscriptionFilter{CustomerID: &w.c, Channel: ptr(domain.ChannelCSPPartner)}, ptr(1), sc.PageInfo.EndCursor)
	if len(sc.Edges) != 1 || sc.Edges[0].Node.ID != w.sT || sc.PageInfo.HasNextPage {
		t.Fatalf("page 2: %+v", sc)
	}
	sc, _ = m.Subscriptions(auditor, projections.SubscriptionFilter{BillingModel: ptr(domain.UsageBased)}, nil, nil)
	sameIDs(t, "usage", ids(sc.Edges, func(e projections.SubscriptionEdge) uuid.UUID { return e.Node.ID }), []uuid.UUID{w.s3})
	w.f.emit(domain.SubscriptionStream(w.s1), user(w.c, domain.RoleGlobalAdmin), domain.SubscriptionCancelled{SubscriptionID: w.s1, CustomerID: w.c})
	sc, _ = m.Subscriptions(auditor, projections.SubscriptionFilter{Status: ptr(domain.StatusCancelled)}, nil, nil)
	sameIDs(t, "cancelled", ids(sc.Edges, func(e projections.SubscriptionEdge) uuid.UUID { return e.Node.ID }), []uuid.UUID{w.s1})

	rc, _ := m.Relationships(auditor, projections.RelationshipFilter{PartnerID: &w.p4}, nil, nil)
	sameIDs(t, "by partner", ids(rc.Edges, func(e projections.RelationshipEdge) uuid.UUID { return e.Node.ID }), []uuid.UUID{w.r4})
	rc, _ = m.Relationships(auditor, projections.RelationshipFilter{CustomerID: &w.c, Status: ptr(domain.Accepted)}, nil, nil)
	sameIDs(t, "accepted", ids(rc.Edges, func(e projections.RelationshipEdge) uuid.UUID { return e.Node.ID }), []uuid.UUID{w.r2})
	if _, err := m.Relationships(auditor, projections.RelationshipFilter{}, ptr(1000), nil); !errors.Is(err, domain.ErrBadUserInput) {
		t.Fatalf("first 1000: %v", err)
	}
}
