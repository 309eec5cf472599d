package projections_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/eventstore"
	"github.com/partnercenter/multichannel/projections"
)

// eventQueries are the filters and pages checked against the scan: every
// filter field, a stream of each category, pages before and after a
// cursor, and page sizes 0, 1, 2 and the default.
func eventQueries(m *projections.Model, streams []string, cursors []string, actorIDs []string, corr uuid.UUID, mid time.Time) []struct {
	name  string
	f     projections.EventFilter
	first *int
	after *string
} {
	type q = struct {
		name  string
		f     projections.EventFilter
		first *int
		after *string
	}
	ints := []*int{nil, ptr(0), ptr(1), ptr(2), ptr(100)}
	var out []q
	filters := []struct {
		name string
		f    projections.EventFilter
	}{
		{"none", projections.EventFilter{}},
		{"types", projections.EventFilter{Types: []string{domain.TypeRelationshipAccepted, domain.TypeSubscriptionCancelled}}},
		{"no types", projections.EventFilter{Types: []string{}}},
		{"unknown type", projections.EventFilter{Types: []string{"Nope"}}},
		{"correlation", projections.EventFilter{CorrelationID: &corr}},
		{"from", projections.EventFilter{From: &mid}},
		{"to", projections.EventFilter{To: &mid}},
	}
	for _, a := range actorIDs {
		filters = append(filters, struct {
			name string
			f    projections.EventFilter
		}{"actor " + a, projections.EventFilter{ActorUserID: &a}})
	}
	for _, s := range append(streams, "customer-"+uuid.Nil.String(), "elsewhere") {
		filters = append(filters, struct {
			name string
			f    projections.EventFilter
		}{"stream " + s, projections.EventFilter{Stream: &s, Types: nil}})
	}
	for _, fl := range filters {
		for _, n := range ints {
			out = append(out, q{fl.name, fl.f, n, nil})
			for _, c := range cursors {
				out = append(out, q{fl.name + " after " + c, fl.f, n, &c})
			}
		}
	}
	return out
}

// checkIndexAgainstScan asks every query of every viewer through the
// index and through the scan the index replaced: the pages must be equal.
func checkIndexAgainstScan(t *testing.T, m *projections.Model, viewers []domain.Actor, streams, cursors, actorIDs []string, corr uuid.UUID, mid time.Time) {
	t.Helper()
	qs := eventQueries(m, streams, cursors, actorIDs, corr, mid)
	for _, v := range viewers {
		for _, q := range qs {
			got, err := m.EventsIndexed(v, q.f, q.first, q.after)
			if err != nil {
				t.Fatalf("%v %s: %v", v, q.name, err)
			}
			want, _ := m.EventsScanned(v, q.f, q.first, q.after)
			got.Examined, want.Examined = 0, 0
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("%s (%s) %s first=%v:\nindex %v\nscan  %v", v.TenantID, v.Role, q.name, q.first, got, want)
			}
		}
	}
}

// TestEventsIndexMatchesScan: the index answers exactly what the scan of
// the whole log answered, for every kind of caller (docs/domain.md, "What
// each caller sees"), every filter and cursor, also after a relationship
// is terminated (the customer's history disappears again), declined, and
// for a tenant that is both partner and customer.
func TestEventsIndexMatchesScan(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	f := w.f
	m := f.model
	stranger := newID()
	viewers := []domain.Actor{
		user(w.p1, domain.RoleSalesAgent), user(w.p2, domain.RoleBillingAdmin), user(w.p3, domain.RoleSalesAgent),
		user(w.p4, domain.RoleGlobalAdmin), user(w.p5, domain.RoleGlobalAdmin), user(w.c, domain.RoleUserAdmin),
		user(w.t, domain.RoleGlobalAdmin), user(stranger, domain.RoleGlobalAdmin), auditor,
	}
	streams := []string{
		domain.CustomerStream(w.c), domain.CustomerStream(w.t), domain.PartnerStream(w.p1),
		domain.SubscriptionStream(w.s1), domain.SubscriptionStream(w.s3), domain.SubscriptionStream(w.tOwn),
		domain.RelationshipStream(w.r2), domain.RelationshipStream(w.r4),
	}
	check := func(step string) {
		t.Helper()
		all, err := f.store.ReadAll(t.Context(), eventstore.Start, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		var cursors []string
		for _, i := range []int{0, 3, len(all) / 2, len(all) - 2, len(all) - 1} {
			cursors = append(cursors, all[i].Position.String())
		}
		md, err := domain.DecodeMetadata(all[len(all)/2].Metadata)
		if err != nil {
			t.Fatal(err)
		}
		actorIDs := []string{user(w.p1, domain.RoleSalesAgent).UserID, user(w.c, domain.RoleUserAdmin).UserID, "nobody"}
		t.Run(step, func(t *testing.T) {
			checkIndexAgainstScan(t, m, viewers, streams, cursors, actorIDs, md.CorrelationID, md.RecordedAt)
		})
	}
	check("world")

	// p2's accepted relationship ends: c's history is p2's no more.
	f.emit(domain.RelationshipStream(w.r2), user(w.c, domain.RoleGlobalAdmin),
		domain.RelationshipTerminated{RelationshipID: w.r2, PartnerID: w.p2, CustomerID: w.c})
	// p4's request is declined; t asks c too, and c accepts.
	f.emit(domain.RelationshipStream(w.r4), user(w.c, domain.RoleGlobalAdmin),
		domain.RelationshipDeclined{RelationshipID: w.r4, PartnerID: w.p4, CustomerID: w.c})
	rt := f.request(w.t, w.c, 0)
	f.accept(rt, w.t, w.c)
	streams = append(streams, domain.RelationshipStream(rt))
	// p5 onboards a customer of its own; p3 asks t (a customer too).
	c5 := f.onboard(w.p5, "Contoso", false)
	f.record(c5, "M365", domain.LicenseBased, domain.ChannelMicrosoftDirect, nil)
	f.request(w.p3, w.t, 0)
	viewers = append(viewers, user(c5, domain.RoleUserAdmin))
	check("after terminate, decline, accept, onboard")
}

// TestEventsIndexMatchesScanOnCorpus: the same on a synthetic log with
// the product's mix (many partners, each seeing about 1% of it).
func TestEventsIndexMatchesScanOnCorpus(t *testing.T) {
	t.Parallel()
	c := buildCorpus(t, 3000)
	m := projections.New(nil)
	for _, e := range c.events {
		if err := m.Apply(e); err != nil {
			t.Fatal(err)
		}
	}
	var viewers []domain.Actor
	seen := map[uuid.UUID]bool{}
	for _, e := range c.events[:400] {
		_, id, _ := domain.SplitStream(e.Stream)
		if cat, _, _ := domain.SplitStream(e.Stream); (cat == domain.CategoryPartner || cat == domain.CategoryCustomer) && !seen[id] && len(viewers) < 12 {
			seen[id] = true
			viewers = append(viewers, domain.Actor{UserID: "u", TenantID: id, Role: domain.RoleSalesAgent})
		}
	}
	viewers = append(viewers, auditor, domain.Actor{UserID: "u", TenantID: newID(), Role: domain.RoleGlobalAdmin})
	cursors := []string{c.events[10].Position.String(), c.events[1500].Position.String(), c.events[2999].Position.String()}
	md, err := domain.DecodeMetadata(c.events[1200].Metadata)
	if err != nil {
		t.Fatal(err)
	}
	checkIndexAgainstScan(t, m, viewers, []string{c.events[0].Stream, c.events[300].Stream}, cursors,
		[]string{md.Actor.UserID}, md.CorrelationID, md.RecordedAt)
}

// TestEventsCostFollowsWhatTheCallerSees: on a log of 20,000 events, a
// caller who sees nothing reads no header at all, and a partner that sees
// about 1% of the log reads a few headers per stream it sees (binary
// searches and the page), never the log; the scan read every header.
func TestEventsCostFollowsWhatTheCallerSees(t *testing.T) {
	t.Parallel()
	c := buildCorpus(t, 20_000)
	m, pid := foldCorpus(t, c)
	partner := domain.Actor{UserID: "agent", TenantID: pid, Role: domain.RoleSalesAgent}
	nobody := domain.Actor{UserID: "agent", TenantID: newID(), Role: domain.RoleSalesAgent}

	none, err := m.EventsIndexed(nobody, projections.EventFilter{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if none.Examined != 0 || none.Total != 0 {
		t.Fatalf("a caller who sees nothing: %d headers read, totalCount %d; want 0 and 0", none.Examined, none.Total)
	}
	cur := c.events[len(c.events)/2].Position.String()
	for _, after := range []*string{nil, &cur} {
		got, err := m.EventsIndexed(partner, projections.EventFilter{}, nil, after)
		if err != nil {
			t.Fatal(err)
		}
		scan, _ := m.EventsScanned(partner, projections.EventFilter{}, nil, after)
		if got.Total == 0 || got.Total*20 > len(c.events) {
			t.Fatalf("the partner sees %d of %d events; the corpus should give it about 1%%", got.Total, len(c.events))
		}
		if got.Examined > got.Total {
			t.Errorf("after %v: %d headers read for %d visible events: the index must not read more than the caller sees", after, got.Examined, got.Total)
		}
		if scan.Examined < len(c.events) {
			t.Errorf("the scan read %d headers; the baseline should read the log (%d)", scan.Examined, len(c.events))
		}
	}
	// A filter reads each visible event once, still not the log.
	typ := projections.EventFilter{Types: []string{domain.TypeCustomerOnboarded}}
	got, err := m.EventsIndexed(partner, typ, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	all, _ := m.EventsIndexed(partner, projections.EventFilter{}, nil, nil)
	if got.Examined > all.Total+len(got.Refs) {
		t.Errorf("a filtered query read %d headers for %d visible events", got.Examined, all.Total)
	}
}
