package domain_test

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
)

// fold rebuilds an aggregate from its given events.
func fold[T any, P interface {
	*T
	Apply(domain.Event) error
}](t *testing.T, events ...domain.Event) P {
	t.Helper()
	var agg P = new(T)
	for _, e := range events {
		if err := agg.Apply(e); err != nil {
			t.Fatalf("given %s: %v", e.EventType(), err)
		}
	}
	return agg
}

// then checks a command's outcome: the wanted events, or an error matching
// the wanted sentinel (and no events).
func then(t *testing.T, got []domain.Event, err error, want []domain.Event, wantErr error) {
	t.Helper()
	if wantErr != nil {
		if !errors.Is(err, wantErr) {
			t.Fatalf("error = %v, want %v", err, wantErr)
		}
		var de *domain.Error
		if !errors.As(err, &de) {
			t.Fatalf("error %v is not a *domain.Error", err)
		}
		if len(got) != 0 {
			t.Fatalf("refused with %v but returned events %+v", err, got)
		}
		return
	}
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("events =\n%+v\nwant\n%+v", got, want)
	}
}

var (
	t0      = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	pA      = uuid.MustParse("0195d2a0-0000-7000-8000-00000000000a")
	pB      = uuid.MustParse("0195d2a0-0000-7000-8000-00000000000b")
	pG      = uuid.MustParse("0195d2a0-0000-7000-8000-000000000009")
	custC   = uuid.MustParse("0195d2a0-0000-7000-8000-0000000000c0")
	custCSP = uuid.MustParse("0195d2a0-0000-7000-8000-0000000000c1")
	custGov = uuid.MustParse("0195d2a0-0000-7000-8000-0000000000c2")
	subID   = uuid.MustParse("0195d2a0-0000-7000-8000-000000000050")
	svc1    = uuid.MustParse("0195d2a0-0000-7000-8000-0000000005e1")
	svc2    = uuid.MustParse("0195d2a0-0000-7000-8000-0000000005e2")
)

func ptr[T any](v T) *T { return &v }

func enrolled(id uuid.UUID, cloud domain.Cloud) domain.PartnerEnrolled {
	return domain.PartnerEnrolled{PartnerID: id, Name: "P " + id.String()[:4], Cloud: cloud}
}

func onboarded(id, by uuid.UUID, cloud domain.Cloud, csp bool) domain.CustomerOnboarded {
	return domain.CustomerOnboarded{CustomerID: id, Name: "C", Domain: "c.example.com", Cloud: cloud, IsCSPPartner: csp, OnboardedBy: by}
}

func partner(t *testing.T, id uuid.UUID, cloud domain.Cloud) *domain.Partner {
	return fold[domain.Partner](t, enrolled(id, cloud))
}

func customer(t *testing.T, id uuid.UUID, cloud domain.Cloud, csp bool) *domain.Customer {
	return fold[domain.Customer](t, onboarded(id, pA, cloud, csp))
}

func requested(p, c uuid.UUID, attempt int, at time.Time) domain.RelationshipRequested {
	return domain.RelationshipRequested{
		RelationshipID: domain.RelationshipID(p, c, attempt), PartnerID: p, CustomerID: c, Attempt: attempt,
		RequestedAt: at, ExpiresAt: at.Add(domain.RelationshipTTL),
	}
}

func accepted(p, c uuid.UUID, attempt int) domain.RelationshipAccepted {
	return domain.RelationshipAccepted{RelationshipID: domain.RelationshipID(p, c, attempt), PartnerID: p, CustomerID: c}
}

// recorded is an external subscription of custC.
func recorded(billing domain.BillingModel, channel domain.Channel, seller *uuid.UUID, term *time.Time, services ...domain.Service) domain.ExternalSubscriptionRecorded {
	return domain.ExternalSubscriptionRecorded{
		SubscriptionID: subID, CustomerID: custC, Offer: "Offer", BillingModel: billing, Channel: channel,
		SellerPartnerID: seller, TermEndsAt: term, Quantity: 3, Services: services,
	}
}
