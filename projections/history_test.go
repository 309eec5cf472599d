package projections_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/eventstore"
	"github.com/partnercenter/multichannel/projections"
)

func historyRevs(t *testing.T, c projections.EventConnection) []uint64 {
	t.Helper()
	out := []uint64{}
	for _, e := range c.Edges {
		out = append(out, e.Node.Revision)
	}
	return out
}

func equalRevs(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestHistory(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	p, q, other := f.enroll("P"), f.enroll("Q"), f.enroll("Other")
	c := f.onboard(p, "Northwind", false)
	s := f.record(c, "Azure", domain.UsageBased, domain.ChannelEnterpriseAgreement, nil, "VM", "SQL")
	r := f.request(q, c, 0)
	f.accept(r, q, c)
	for i := 0; i < 3; i++ {
		f.emit(domain.SubscriptionStream(s), user(q, domain.RoleSalesAgent), domain.SubscriptionSwitched{SubscriptionID: s, CustomerID: c, ToPartnerID: q})
	}
	stream := domain.SubscriptionStream(s)
	pv := user(p, domain.RoleSalesAgent)

	all, err := f.model.History(ctx, pv, stream, nil, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := historyRevs(t, all); !equalRevs(got, []uint64{0, 1, 2, 3}) || all.TotalCount != 4 || all.PageInfo.HasNextPage {
		t.Fatalf("oldest first: %v, %+v", got, all.PageInfo)
	}
	// Newest first, two at a time, continuing from the cursor.
	page1, err := f.model.History(ctx, pv, stream, ptr(2), nil, true)
	if err != nil {
		t.Fatal(err)
	}
	if got := historyRevs(t, page1); !equalRevs(got, []uint64{3, 2}) || !page1.PageInfo.HasNextPage || page1.PageInfo.HasPreviousPage {
		t.Fatalf("newest first page 1: %v %+v", got, page1.PageInfo)
	}
	page2, err := f.model.History(ctx, pv, stream, ptr(2), page1.PageInfo.EndCursor, true)
	if err != nil {
		t.Fatal(err)
	}
	if got := historyRevs(t, page2); !equalRevs(got, []uint64{1, 0}) || page2.PageInfo.HasNextPage || !page2.PageInfo.HasPreviousPage {
		t.Fatalf("newest first page 2: %v %+v", got, page2.PageInfo)
	}
	// A partner with nothing to do with the customer sees an empty history,
	// as for a stream that does not exist.
	for _, st := range []string{stream, domain.SubscriptionStream(newID())} {
		none, err := f.model.History(ctx, user(other, domain.RoleSalesAgent), st, nil, nil, false)
		if err != nil || len(none.Edges) != 0 || none.TotalCount != 0 {
			t.Fatalf("invisible %s: %+v %v", st, none, err)
		}
	}
	if _, err := f.model.History(ctx, pv, stream, ptr(101), nil, false); !errors.Is(err, domain.ErrBadUserInput) {
		t.Fatalf("first 101: %v", err)
	}
	if _, err := f.model.History(ctx, pv, stream, nil, ptr("cu:1-1"), false); !errors.Is(err, domain.ErrBadUserInput) {
		t.Fatalf("foreign cursor: %v", err)
	}
}

func TestCausation(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	p, q := f.enroll("P"), f.enroll("Q")
	c := f.onboard(p, "Northwind", false)
	s := f.record(c, "Azure", domain.UsageBased, domain.ChannelEnterpriseAgreement, nil, "VM", "SQL")
	// One request writing two events to one stream.
	f.emit(domain.SubscriptionStream(s), user(c, domain.RoleGlobalAdmin),
		domain.SubscriptionSwitched{SubscriptionID: s, CustomerID: c, ToPartnerID: q},
		domain.SubscriptionCancelled{SubscriptionID: s, CustomerID: c})
	evs, err := f.model.Causation(ctx, auditor, lastCorrelation(t, f))
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[0].Type != domain.TypeSubscriptionSwitched || evs[1].Type != domain.TypeSubscriptionCancelled ||
		evs[0].CausationID == nil || *evs[0].CausationID != evs[0].CorrelationID {
		t.Fatalf("causation: %+v", evs)
	}
	// Q sees nothing of the customer it has no tie to.
	if evs, err := f.model.Causation(ctx, user(q, domain.RoleSalesAgent), evs[0].CorrelationID); err != nil || len(evs) != 0 {
		t.Fatalf("invisible causation: %+v %v", evs, err)
	}
	if evs, err := f.model.Causation(ctx, auditor, newID()); err != nil || len(evs) != 0 {
		t.Fatalf("unknown correlation: %+v %v", evs, err)
	}
}

func lastCorrelation(t *testing.T, f *fixture) uuid.UUID {
	t.Helper()
	evs, err := f.store.ReadAll(context.Background(), eventstore.Start, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	md, err := domain.DecodeMetadata(evs[len(evs)-1].Metadata)
	if err != nil {
		t.Fatal(err)
	}
	return md.CorrelationID
}

func TestAsOfPoint(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	p, q := f.enroll("P"), f.enroll("Q")
	c := f.onboard(p, "Northwind", false)
	legacy := f.record(c, "Azure", domain.UsageBased, domain.ChannelEnterpriseAgreement, nil, "VM")
	recordedPos := f.model.Position()
	recordedAt := f.at.Add(-time.Second)
	r := f.request(q, c, 0)
	requestedPos := f.model.Position()
	f.accept(r, q, c)
	repl := domain.ReplacementID(legacy, q)
	f.emit(domain.SubscriptionStream(repl), user(q, domain.RoleSalesAgent), domain.AzureSubscriptionCreated{
		SubscriptionID: repl, CustomerID: c, PartnerID: q, LegacySubscriptionID: legacy, Offer: "Azure plan",
		LegacyDetails: domain.LegacyDetails{AzureSubscriptionID: "x"},
	})
	f.emit(domain.SubscriptionStream(legacy), user(q, domain.RoleSalesAgent), domain.LegacyServiceCancelled{
		SubscriptionID: legacy, CustomerID: c, PartnerID: q,
	})
	f.now = f.at.Add(200 * 24 * time.Hour) // past the request's expiry, now
	pv := user(p, domain.RoleGlobalAdmin)

	atPos := func(pos eventstore.Position) projections.AsOfPoint { return projections.AsOfPoint{Position: &pos} }
	s, err := f.model.SubscriptionAsOf(ctx, pv, legacy, atPos(recordedPos))
	if err != nil || s.Status != domain.StatusActive || len(s.ReplacedByIDs) != 0 {
		t.Fatalf("legacy at its record: %+v %v", s, err)
	}
	s, err = f.model.SubscriptionAsOf(ctx, pv, legacy, projections.AsOfPoint{At: &recordedAt})
	if err != nil || s.Status != domain.StatusActive {
		t.Fatalf("legacy at its record's instant: %+v %v", s, err)
	}
	s, err = f.model.SubscriptionAsOf(ctx, pv, legacy, atPos(f.model.Position()))
	if err != nil || s.Status != domain.StatusCancelled || len(s.ReplacedByIDs) != 1 || s.ReplacedByIDs[0] != repl {
		t.Fatalf("legacy now: %+v %v", s, err)
	}
	if _, err := f.model.SubscriptionAsOf(ctx, pv, repl, atPos(recordedPos)); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("replacement before it existed: %v", err)
	}
	// The relationship as of the request reads PENDING (its instant is the
	// request's), though today's clock is past the expiry.
	rel, err := f.model.RelationshipAsOf(ctx, pv, r, atPos(requestedPos))
	if !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("P must not see Q's relationship: %+v %v", rel, err)
	}
	qv := user(q, domain.RoleSalesAgent)
	rel, err = f.model.RelationshipAsOf(ctx, qv, r, atPos(requestedPos))
	if err != nil || rel.Status != domain.Pending {
		t.Fatalf("relationship at request: %+v %v", rel, err)
	}
	later := f.at.Add(100 * 24 * time.Hour)
	rel, err = f.model.RelationshipAsOf(ctx, qv, r, projections.AsOfPoint{At: &later})
	if err != nil || rel.Status != domain.Accepted {
		t.Fatalf("relationship later: %+v %v", rel, err)
	}
	a, err := f.model.CustomerAsOfPosition(ctx, pv, c, recordedPos)
	if err != nil || len(a.Subscriptions) != 1 || len(a.Relationships) != 0 {
		t.Fatalf("customer at record: %+v %v", a, err)
	}
	if _, err := f.model.CustomerAsOfPosition(ctx, pv, c, eventstore.Start); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("customer before the log: %v", err)
	}
	for _, bad := range []struct {
		at  *time.Time
		pos *string
	}{{nil, nil}, {&recordedAt, ptr("1-1")}, {nil, ptr("nope")}} {
		if _, err := projections.NewAsOfPoint(bad.at, bad.pos); !errors.Is(err, domain.ErrBadUserInput) {
			t.Fatalf("NewAsOfPoint(%v, %v): %v", bad.at, bad.pos, err)
		}
	}
}
