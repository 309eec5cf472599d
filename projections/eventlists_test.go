package projections_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/projections"
)

// walkEvents walks every page of size 3 with cursors, through ask, and
// returns the pages' items, totals and hasNextPage flags.
func walkEvents(t *testing.T, ask func(first *int, after *string) (projections.EventsPage, error)) string {
	t.Helper()
	var b strings.Builder
	var after *string
	for range 1000 {
		pg, err := ask(ptr(3), after)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%v total=%d before=%d more=%v\n", pg.Refs, pg.Total, pg.Before, pg.More)
		if !pg.More {
			return b.String()
		}
		last := pg.Refs[len(pg.Refs)-1]
		pos := last[strings.LastIndex(last, "@")+1:]
		after = &pos
	}
	t.Fatal("the pages do not end")
	return ""
}

// checkLists asks each viewer's pages through its list, through the
// streams and through the scan: all three must be equal.
func checkLists(t *testing.T, m *projections.Model, step string, viewers []domain.Actor) {
	t.Helper()
	for _, v := range viewers {
		listed := walkEvents(t, func(n *int, a *string) (projections.EventsPage, error) {
			return m.EventsIndexed(v, projections.EventFilter{}, n, a)
		})
		streams := walkEvents(t, func(n *int, a *string) (projections.EventsPage, error) {
			return m.EventsStreams(v, projections.EventFilter{}, n, a)
		})
		scan := walkEvents(t, func(n *int, a *string) (projections.EventsPage, error) {
			return m.EventsScanned(v, projections.EventFilter{}, n, a)
		})
		if listed != scan || streams != scan {
			t.Fatalf("%s: %s (%s):\nlist    %s\nstreams %s\nscan    %s", step, v.TenantID, v.Role, listed, streams, scan)
		}
		typ := projections.EventFilter{Types: []string{domain.TypeSubscriptionCancelled, domain.TypeRelationshipAccepted}}
		got, _ := m.EventsIndexed(v, typ, nil, nil)
		want, _ := m.EventsScanned(v, typ, nil, nil)
		got.Examined, want.Examined = 0, 0
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%s: %s filtered:\nlist %v\nscan %v", step, v.TenantID, got, want)
		}
	}
}

// TestEventListsFollowTheFold: the tenants' lists answer what the scan
// answers after every event, through every change of what a tenant sees:
// a relationship accepted and terminated, a customer onboarded, a new
// subscription of a customer a listed partner sees, a competitor that
// sees nothing, and lists evicted by a bound of two tenants, then of a
// few entries.
func TestEventListsFollowTheFold(t *testing.T) {
	t.Parallel()
	for _, limits := range []projections.EventsCacheLimits{
		projections.DefaultEventsCacheLimits,
		{Tenants: 2, Entries: 1 << 20},
		{Tenants: 100, Entries: 40},
	} {
		t.Run(fmt.Sprint(limits), func(t *testing.T) {
			f := newFixture(t)
			m := f.model
			m.LimitEventsCache(limits)
			p, q, rival := f.enroll("P"), f.enroll("Q"), f.enroll("Rival")
			c := f.onboard(p, "Northwind", false)
			viewers := []domain.Actor{
				user(p, domain.RoleGlobalAdmin), user(q, domain.RoleGlobalAdmin), user(rival, domain.RoleGlobalAdmin),
				user(c, domain.RoleGlobalAdmin), user(q, domain.RoleSalesAgent),
			}
			step := 0
			check := func(what string) {
				t.Helper()
				step++
				checkLists(t, m, fmt.Sprintf("%d %s", step, what), viewers)
			}
			check("onboarded")
			s1 := f.record(c, "M365", domain.LicenseBased, domain.ChannelMicrosoftDirect, nil)
			check("subscription")
			r := f.request(q, c, 0)
			check("requested")
			f.accept(r, q, c)
			check("accepted")
			f.record(c, "Azure", domain.UsageBased, domain.ChannelEnterpriseAgreement, nil, "VM")
			check("a new subscription q sees")
			f.emit(domain.SubscriptionStream(s1), user(c, domain.RoleGlobalAdmin), domain.SubscriptionCancelled{SubscriptionID: s1, CustomerID: c})
			check("cancelled")
			f.emit(domain.RelationshipStream(r), user(c, domain.RoleGlobalAdmin),
				domain.RelationshipTerminated{RelationshipID: r, PartnerID: q, CustomerID: c})
			check("terminated")
			d := f.onboard(q, "Contoso", false)
			viewers = append(viewers, user(d, domain.RoleUserAdmin))
			check("q onboards")
			f.record(d, "M365", domain.LicenseBased, domain.ChannelCSPPartner, &p)
			check("p sells to d")
			r2 := f.request(q, c, 1)
			f.accept(r2, q, c)
			check("accepted again")
			rr := f.request(rival, d, 0)
			check("rival asks")
			f.emit(domain.RelationshipStream(rr), user(d, domain.RoleGlobalAdmin),
				domain.RelationshipDeclined{RelationshipID: rr, PartnerID: rival, CustomerID: d})
			check("declined")
			// d onboarded again, by p this time: q's view of d moves to p.
			f.emit(domain.CustomerStream(d), user(p, domain.RoleSalesAgent), domain.CustomerOnboarded{
				CustomerID: d, Name: "Contoso", Domain: "contoso.example", Cloud: domain.CloudPublic, OnboardedBy: p,
			})
			check("onboarder moved")
			if tenants, entries := m.EventsCacheHeld(); tenants > limits.Tenants || entries > limits.Entries {
				t.Fatalf("%d lists of %d entries held, over %v", tenants, entries, limits)
			}
		})
	}
}

// TestEventListsCostAPageAndALogarithm: with its list, a partner's page
// reads the page's headers and a binary search's, whatever the number of
// streams it sees; through the streams it reads a few per stream.
func TestEventListsCostAPageAndALogarithm(t *testing.T) {
	t.Parallel()
	c := buildCorpus(t, 20_000)
	m, pid := foldCorpus(t, c)
	partner := domain.Actor{UserID: "agent", TenantID: pid, Role: domain.RoleGlobalAdmin}
	if _, err := m.EventsIndexed(partner, projections.EventFilter{}, nil, nil); err != nil { // builds the list
		t.Fatal(err)
	}
	if tenants, _ := m.EventsCacheHeld(); tenants != 1 {
		t.Fatalf("%d lists held after the partner's first page; want 1", tenants)
	}
	cur := c.events[len(c.events)/2].Position.String()
	for _, after := range []*string{nil, &cur} {
		got, err := m.EventsIndexed(partner, projections.EventFilter{}, nil, after)
		if err != nil {
			t.Fatal(err)
		}
		streams, _ := m.EventsStreams(partner, projections.EventFilter{}, nil, after)
		logn := 1
		for n := got.Total; n > 1; n /= 2 {
			logn++
		}
		if got.Examined > len(got.Refs)+logn {
			t.Errorf("after %v: %d headers read for a page of %d of %d events; want at most %d", after, got.Examined, len(got.Refs), got.Total, len(got.Refs)+logn)
		}
		if after != nil && streams.Examined <= 2*got.Examined {
			t.Errorf("through the streams %d headers read, with the list %d: the corpus should give the partner many streams", streams.Examined, got.Examined)
		}
	}
}
