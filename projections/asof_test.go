package projections_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
)

func TestCustomerAsOf(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	p := f.enroll("P")
	q := f.enroll("Q")
	beforeCustomer := f.at.Add(-time.Millisecond)
	onboardedAt := f.at
	c := f.onboard(p, "Northwind", false)
	recordedAt := f.at
	s1 := f.record(c, "M365", domain.LicenseBased, domain.ChannelOpen, nil)
	s2 := f.record(c, "Azure", domain.UsageBased, domain.ChannelCSPPartner, &q, "VM")
	requestedAt := f.at
	r := f.request(q, c, 0)
	cancelledAt := f.at
	f.emit(domain.SubscriptionStream(s1), user(c, domain.RoleGlobalAdmin), domain.SubscriptionCancelled{SubscriptionID: s1, CustomerID: c})
	enrolledAt := f.at
	f.enrollID(c, "Northwind as a partner")
	// Far later, the model's clock is past the request's expiry.
	f.now = requestedAt.Add(200 * 24 * time.Hour)

	pv := user(p, domain.RoleGlobalAdmin)
	at := func(v domain.Actor, when time.Time) (subs, rels []uuid.UUID, isCSP bool, relStatus domain.RelationshipStatus) {
		t.Helper()
		a, err := f.model.CustomerAsOf(ctx, v, c, when)
		if err != nil {
			t.Fatalf("as of %s: %v", when, err)
		}
		if a.Customer.ID != c || a.Customer.Name != "Northwind" || !a.At.Equal(when) {
			t.Fatalf("as of %s: customer %+v", when, a.Customer)
		}
		for _, r := range a.Relationships {
			relStatus = r.Status
		}
		return subIDs(a.Subscriptions), relIDs(a.Relationships), a.Customer.IsCSPPartner, relStatus
	}

	if _, err := f.model.CustomerAsOf(ctx, pv, c, beforeCustomer); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("before onboarding: %v", err)
	}
	subs, rels, csp, _ := at(pv, onboardedAt)
	if len(subs) != 0 || len(rels) != 0 || csp {
		t.Fatalf("at onboarding: %v %v %v", subs, rels, csp)
	}
	subs, _, _, _ = at(pv, recordedAt) // recordedAt <= at is inclusive
	sameIDs(t, "at first record", subs, []uuid.UUID{s1})

	subs, rels, _, st := at(auditor, requestedAt)
	sameIDs(t, "subs at request", subs, []uuid.UUID{s1, s2})
	sameIDs(t, "rels at request", rels, []uuid.UUID{r})
	if st != domain.Pending {
		t.Fatalf("status at request: %s", st)
	}
	a, _ := f.model.CustomerAsOf(ctx, auditor, c, cancelledAt.Add(-time.Millisecond))
	if a.Subscriptions[0].Status != domain.StatusActive {
		t.Fatal("cancelled before it was")
	}
	a, _ = f.model.CustomerAsOf(ctx, auditor, c, cancelledAt)
	if a.Subscriptions[0].Status != domain.StatusCancelled || !a.Subscriptions[0].CancelledAt.Equal(cancelledAt) {
		t.Fatalf("after cancel: %+v", a.Subscriptions[0])
	}
	if _, _, csp, _ := at(auditor, enrolledAt.Add(-time.Millisecond)); csp {
		t.Fatal("a CSP partner before it enrolled")
	}
	if _, _, csp, _ := at(auditor, enrolledAt); !csp {
		t.Fatal("not a CSP partner once enrolled")
	}
	// Relationship status is evaluated at `at`: PENDING just before its
	// expiry, EXPIRED from expiresAt on.
	expires := requestedAt.Add(domain.RelationshipTTL)
	if _, _, _, st := at(auditor, expires.Add(-time.Millisecond)); st != domain.Pending {
		t.Fatalf("just before expiry: %s", st)
	}
	if _, _, _, st := at(auditor, expires); st != domain.Expired {
		t.Fatalf("at expiry: %s", st)
	}

	// Visibility is judged now: Q sees the profile and the subscription it
	// sells, and its own relationship; a stranger sees nothing.
	subs, rels, _, _ = at(user(q, domain.RoleSalesAgent), requestedAt)
	sameIDs(t, "Q's subs", subs, []uuid.UUID{s2})
	sameIDs(t, "Q's rels", rels, []uuid.UUID{r})
	subs, rels, _, _ = at(pv, requestedAt)
	sameIDs(t, "P's subs", subs, []uuid.UUID{s1, s2})
	if len(rels) != 0 {
		t.Fatalf("P sees Q's relationship: %v", rels)
	}
	stranger := f.enroll("Stranger")
	if _, err := f.model.CustomerAsOf(ctx, user(stranger, domain.RoleGlobalAdmin), c, requestedAt); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("stranger: %v", err)
	}
	if _, err := f.model.CustomerAsOf(ctx, auditor, newID(), requestedAt); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("unknown id: %v", err)
	}
}
