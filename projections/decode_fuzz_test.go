package projections

import (
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
)

// FuzzDecodeEvent checks decodeEvent's fast path against
// domain.DecodeEvent, the reference: for any bytes and any type, either
// both refuse them, or both decode the same event. (What the fast path
// refuses goes to the reference anyway, so only its acceptances can be
// wrong.)
func FuzzDecodeEvent(f *testing.F) {
	id := uuid.MustParse("01a23c37-a0f8-7ccc-b457-6c69fcc1130f")
	at := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	msg := "hello"
	for _, e := range []domain.Event{
		domain.PartnerEnrolled{PartnerID: id, Name: "Fabrikam"},
		domain.CustomerOnboarded{CustomerID: id, Name: "Contoso", Domain: "contoso.example", OnboardedBy: id},
		domain.ExternalSubscriptionRecorded{SubscriptionID: id, CustomerID: id, Offer: "E3", Quantity: 3, TermEndsAt: &at,
			Services: []domain.Service{{ID: id, Name: "a"}}},
		domain.RelationshipRequested{RelationshipID: id, PartnerID: id, CustomerID: id, Message: &msg, RequestedAt: at, ExpiresAt: at},
		domain.RelationshipAccepted{RelationshipID: id},
		domain.SubscriptionSwitched{SubscriptionID: id, ToPartnerID: id},
		domain.LegacyServiceCancelled{SubscriptionID: id, ServiceID: &id},
	} {
		b, _, err := domain.EncodeEvent(e)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(e.EventType(), b)
	}
	f.Add(domain.TypeCustomerOnboarded, []byte(`{"customerId":"01a23c37-a0f8-7ccc-b457-6c69fcc1130f","NAME":"x","name":"y","isCspPartner":true}`))
	f.Add(domain.TypePartnerEnrolled, []byte(`{"partnerId":null,"name":12}`))
	f.Add(domain.TypeRelationshipRequested, []byte(`{"requestedAt":"2026-01-02T03:04:05+01:00","attempt":1.5}`))
	f.Add(domain.TypeExternalSubscriptionRecorded, []byte(`{"quantity":1e2,"services":null} `))
	f.Fuzz(func(t *testing.T, typ string, b []byte) {
		dec, ok := fastDecoders[typ]
		if !ok || !plainJSON(b) {
			return
		}
		fast, err := dec.decode(b)
		if err != nil {
			return
		}
		ref, err := domain.DecodeEvent(typ, dec.version, b)
		if err != nil {
			t.Fatalf("the fast path decodes %q as %#v, the reference refuses it: %v", b, fast, err)
		}
		if !reflect.DeepEqual(fast, ref) {
			t.Fatalf("%q: fast %#v, reference %#v", b, fast, ref)
		}
	})
}
