package projections_test

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/projections"
)

// world is one customer seen by every kind of caller.
type world struct {
	f *fixture
	// p1 onboarded c (full); p2 holds an ACCEPTED relationship (full); p3
	// sells s3 only (profile); p4 has a PENDING request (profile); p5 is a
	// competitor with nothing to do with c; t is both a partner (selling
	// sT to c) and a customer (onboarded by p1, with its own sub tOwn).
	p1, p2, p3, p4, p5, t uuid.UUID
	c                     uuid.UUID
	s1, s3, sT, tOwn      uuid.UUID
	r2, r4                uuid.UUID
}

func newWorld(t *testing.T) *world {
	t.Helper()
	f := newFixture(t)
	w := &world{f: f}
	w.p1, w.p2, w.p3, w.p4, w.p5 = f.enroll("P1"), f.enroll("P2"), f.enroll("P3"), f.enroll("P4"), f.enroll("P5")
	w.c = f.onboard(w.p1, "Northwind", false)
	w.t = newID()
	f.enrollID(w.t, "Both")
	f.emit(domain.CustomerStream(w.t), user(w.p1, domain.RoleSalesAgent), domain.CustomerOnboarded{
		CustomerID: w.t, Name: "Both Inc", Domain: "both.example", Cloud: domain.CloudPublic, OnboardedBy: w.p1,
	})
	w.s1 = f.record(w.c, "M365", domain.LicenseBased, domain.ChannelMicrosoftDirect, nil)
	w.s3 = f.record(w.c, "Azure", domain.UsageBased, domain.ChannelCSPPartner, &w.p3, "VM")
	w.sT = f.record(w.c, "Dynamics", domain.LicenseBased, domain.ChannelCSPPartner, &w.t)
	w.tOwn = f.record(w.t, "Office", domain.LicenseBased, domain.ChannelOpen, nil)
	w.r2 = f.request(w.p2, w.c, 0)
	f.accept(w.r2, w.p2, w.c)
	w.r4 = f.request(w.p4, w.c, 0)
	return w
}

func TestVisibilityByCaller(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	m := w.f.model
	type want struct {
		customers []uuid.UUID // Customers(), creation order
		subsOfC   []uuid.UUID // CustomerSubscriptions(c)
		relsOfC   []uuid.UUID // CustomerRelationships(c)
		allSubs   []uuid.UUID // Subscriptions()
		allRels   []uuid.UUID // Relationships()
		cStream   bool        // events of customer-c
		s1Stream  bool        // events of subscription-s1
		s3Stream  bool        // events of subscription-s3
		r4Stream  bool        // events of relationship-r4
	}
	cases := []struct {
		name string
		v    domain.Actor
		want want
	}{
		{"partner that onboarded", user(w.p1, domain.RoleSalesAgent), want{
			customers: []uuid.UUID{w.c, w.t}, subsOfC: []uuid.UUID{w.s1, w.s3, w.sT}, relsOfC: nil,
			allSubs: []uuid.UUID{w.s1, w.s3, w.sT, w.tOwn}, cStream: true, s1Stream: true, s3Stream: true}},
		{"partner with accepted relationship", user(w.p2, domain.RoleBillingAdmin), want{
			customers: []uuid.UUID{w.c}, subsOfC: []uuid.UUID{w.s1, w.s3, w.sT}, relsOfC: []uuid.UUID{w.r2},
			allSubs: []uuid.UUID{w.s1, w.s3, w.sT}, allRels: []uuid.UUID{w.r2}, cStream: true, s1Stream: true, s3Stream: true}},
		{"partner that only sells one", user(w.p3, domain.RoleSalesAgent), want{
			customers: []uuid.UUID{w.c}, subsOfC: []uuid.UUID{w.s3}, allSubs: []uuid.UUID{w.s3}}},
		{"partner with a pending request", user(w.p4, domain.RoleGlobalAdmin), want{
			customers: []uuid.UUID{w.c}, relsOfC: []uuid.UUID{w.r4}, allRels: []uuid.UUID{w.r4}, r4Stream: true}},
		{"competitor", user(w.p5, domain.RoleGlobalAdmin), want{}},
		{"customer user", user(w.c, domain.RoleUserAdmin), want{
			customers: []uuid.UUID{w.c}, subsOfC: []uuid.UUID{w.s1, w.s3, w.sT}, relsOfC: []uuid.UUID{w.r2, w.r4},
			allSubs: []uuid.UUID{w.s1, w.s3, w.sT}, allRels: []uuid.UUID{w.r2, w.r4},
			cStream: true, s1Stream: true, s3Stream: true, r4Stream: true}},
		{"tenant both partner and customer", user(w.t, domain.RoleGlobalAdmin), want{
			customers: []uuid.UUID{w.c, w.t}, subsOfC: []uuid.UUID{w.sT}, allSubs: []uuid.UUID{w.sT, w.tOwn}}},
		{"auditor", auditor, want{
			customers: []uuid.UUID{w.c, w.t}, subsOfC: []uuid.UUID{w.s1, w.s3, w.sT}, relsOfC: []uuid.UUID{w.r2, w.r4},
			allSubs: []uuid.UUID{w.s1, w.s3, w.sT, w.tOwn}, allRels: []uuid.UUID{w.r2, w.r4},
			cStream: true, s1Stream: true, s3Stream: true, r4Stream: true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := m.Customers(tc.v, projections.CustomerFilter{}, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			sameIDs(t, "Customers", ids(conn.Edges, func(e projections.CustomerEdge) uuid.UUID { return e.Node.ID }), tc.want.customers)
			if conn.TotalCount != len(tc.want.customers) {
				t.Fatalf("totalCount %d", conn.TotalCount)
			}
			_, seesC := m.Customer(tc.v, w.c)
			if seesC != contains(tc.want.customers, w.c) {
				t.Fatalf("Customer(c) visible = %v", seesC)
			}
			sameIDs(t, "CustomerSubscriptions", subIDs(m.CustomerSubscriptions(tc.v, w.c)), tc.want.subsOfC)
			sameIDs(t, "CustomerRelationships", relIDs(m.CustomerRelationships(tc.v, w.c)), tc.want.relsOfC)
			sc, err := m.Subscriptions(tc.v, projections.SubscriptionFilter{}, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			sameIDs(t, "Subscriptions", ids(sc.Edges, func(e projections.SubscriptionEdge) uuid.UUID { return e.Node.ID }), tc.want.allSubs)
			rc, err := m.Relationships(tc.v, projections.RelationshipFilter{}, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			sameIDs(t, "Relationships", ids(rc.Edges, func(e projections.RelationshipEdge) uuid.UUID { return e.Node.ID }), tc.want.allRels)
			for _, s := range []uuid.UUID{w.s1, w.s3, w.sT, w.tOwn} {
				if _, ok := m.Subscription(tc.v, s); ok != contains(tc.want.allSubs, s) {
					t.Fatalf("Subscription(%s) visible = %v", s, ok)
				}
			}
			for _, r := range []uuid.UUID{w.r2, w.r4} {
				if _, ok := m.Relationship(tc.v, r); ok != contains(tc.want.allRels, r) {
					t.Fatalf("Relationship(%s) visible = %v", r, ok)
				}
			}
			streams := map[string]bool{
				domain.CustomerStream(w.c):      tc.want.cStream,
				domain.SubscriptionStream(w.s1): tc.want.s1Stream,
				domain.SubscriptionStream(w.s3): tc.want.s3Stream,
				domain.RelationshipStream(w.r4): tc.want.r4Stream,
			}
			for stream, want := range streams {
				if got := m.StreamVisible(tc.v, stream); got != want {
					t.Fatalf("StreamVisible(%s) = %v, want %v", stream, got, want)
				}
				ev, err := m.Events(context.Background(), tc.v, projections.EventFilter{Stream: &stream}, nil, nil)
				if err != nil {
					t.Fatal(err)
				}
				if (ev.TotalCount > 0) != want {
					t.Fatalf("Events(%s) total %d, want visible=%v", stream, ev.TotalCount, want)
				}
			}
		})
	}
}

func TestPartnerProfilesAndViewer(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	m := w.f.model
	// Every caller sees partner profiles.
	if p, ok := m.Partner(w.p5); !ok || p.Name != "P5" {
		t.Fatalf("Partner = %+v %v", p, ok)
	}
	if _, ok := m.Partner(w.c); ok {
		t.Fatal("a customer is not a partner")
	}
	p, c := m.Viewer(user(w.t, domain.RoleGlobalAdmin))
	if p == nil || c == nil || p.ID != w.t || c.ID != w.t || !c.IsCSPPartner {
		t.Fatalf("Viewer(both) = %+v, %+v", p, c)
	}
	p, c = m.Viewer(user(w.c, domain.RoleGlobalAdmin))
	if p != nil || c == nil || c.IsCSPPartner {
		t.Fatalf("Viewer(customer) = %+v, %+v", p, c)
	}
	p, c = m.Viewer(user(newID(), domain.RoleGlobalAdmin))
	if p != nil || c != nil {
		t.Fatal("Viewer(stranger) is someone")
	}
}

func TestIsCSPPartnerByEnrolment(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	p := f.enroll("P")
	flagged := f.onboard(p, "Flagged", true)
	c := f.onboard(p, "Later partner", false)
	if cu, _ := f.model.Customer(auditor, flagged); !cu.IsCSPPartner {
		t.Fatal("the onboarding flag is not kept")
	}
	if cu, _ := f.model.Customer(auditor, c); cu.IsCSPPartner {
		t.Fatal("not a partner yet")
	}
	f.enrollID(c, "Now a partner")
	if cu, _ := f.model.Customer(auditor, c); !cu.IsCSPPartner {
		t.Fatal("a customer whose id is an enrolled partner's is a CSP partner")
	}
}

func contains(list []uuid.UUID, id uuid.UUID) bool {
	for _, x := range list {
		if x == id {
			return true
		}
	}
	return false
}
