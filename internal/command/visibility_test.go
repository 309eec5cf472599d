package command_test

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/internal/command"
	"github.com/partnercenter/multichannel/projections"
)

// TestAcceptedAttemptBehindALaterOne: a request made once the pair's
// earlier one reads EXPIRED, and that earlier one's acceptance on a clock a
// moment behind (another server's, or a mutation that read the clock
// first), both succeed: they append to different streams. The pair then
// holds an ACCEPTED relationship that is not its latest attempt. The domain's
// table asks whether the partner holds an accepted relationship, so the
// command side must see the customer fully, allow what needs the
// relationship and refuse a new request, as the read models do.
func TestAcceptedAttemptBehindALaterOne(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	first := w.relate(w.b, w.c, false)
	expiry := w.clock.now().Truncate(time.Millisecond).Add(domain.RelationshipTTL)
	sold := w.record(w.c, domain.UsageBased, domain.ChannelCSPPartner, &w.a, nil)

	w.clock.set(expiry)
	second := w.must(w.h.RequestResellerRelationship(ctx(), w.as(w.b, domain.RoleGlobalAdmin), command.RequestResellerRelationship{CustomerID: w.c.String()}))
	w.clock.set(expiry.Add(-time.Millisecond))
	w.must(w.h.AcceptResellerRelationship(ctx(), w.as(w.c, domain.RoleGlobalAdmin), first.String()))

	// The read models, folded from the same log, see C fully for B.
	m := projections.New(w.clock.now)
	for _, e := range w.store.all() {
		if err := m.Apply(e); err != nil {
			t.Fatal(err)
		}
	}
	b := domain.Actor{UserID: "user", TenantID: w.b, Role: domain.RoleGlobalAdmin}
	if subs := m.CustomerSubscriptions(b, w.c); len(subs) != 1 || subs[0].ID != sold {
		t.Fatalf("read models: B sees %v of C's subscriptions, want all (%s)", subs, sold)
	}

	w.run(
		step{"B records for C, which it sees fully", func() (uuid.UUID, error) {
			return w.h.RecordExternalSubscription(ctx(), w.as(w.b, domain.RoleSalesAgent), command.RecordExternalSubscription{
				CustomerID: w.c.String(), Offer: "Offer", BillingModel: domain.UsageBased, Channel: domain.ChannelOpen, Quantity: 1})
		}, nil, nil},
		step{"B switches A's subscription: the relationship is accepted", func() (uuid.UUID, error) {
			return w.h.SwitchSubscription(ctx(), w.as(w.b, domain.RoleSalesAgent), sold.String())
		}, nil, &sold},
		step{"C declines the later attempt", func() (uuid.UUID, error) {
			return w.h.DeclineResellerRelationship(ctx(), w.as(w.c, domain.RoleGlobalAdmin), second.String())
		}, nil, &second},
		step{"B asks again: the accepted one holds", func() (uuid.UUID, error) {
			return w.h.RequestResellerRelationship(ctx(), w.as(w.b, domain.RoleGlobalAdmin), command.RequestResellerRelationship{CustomerID: w.c.String()})
		}, domain.ErrConflict, nil},
	)
}
