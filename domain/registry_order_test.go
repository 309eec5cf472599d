package domain_test

import (
	"slices"
	"testing"

	"github.com/partnercenter/multichannel/domain"
)

// TestEventTypesOrder pins the order of EventTypes: read-model snapshots
// store a type's index in it, so a type may be appended, never moved.
func TestEventTypesOrder(t *testing.T) {
	t.Parallel()
	want := []string{
		domain.TypePartnerEnrolled, domain.TypeCustomerOnboarded, domain.TypeExternalSubscriptionRecorded,
		domain.TypeRelationshipRequested, domain.TypeRelationshipAccepted, domain.TypeRelationshipDeclined,
		domain.TypeRelationshipExpired, domain.TypeRelationshipTerminated, domain.TypeSubscriptionCancelled,
		domain.TypeSubscriptionSwitched, domain.TypeAzureSubscriptionCreated, domain.TypeLegacyServiceCancelled,
	}
	got := domain.EventTypes()
	if len(got) < len(want) || !slices.Equal(got[:len(want)], want) {
		t.Fatalf("EventTypes() = %v, want it to begin with %v", got, want)
	}
	for _, typ := range got {
		if _, ok := domain.SchemaVersion(typ); !ok {
			t.Errorf("%s is listed but not registered", typ)
		}
	}
}
