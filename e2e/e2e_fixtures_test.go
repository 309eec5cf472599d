package e2e

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
)

const (
	mEnroll    = `mutation($in: EnrollPartnerInput!) { enrollPartner(input: $in) { id name cloud enrolledAt } }`
	mOnboard   = `mutation($in: OnboardCustomerInput!) { onboardCustomer(input: $in) { id name domain cloud isCspPartner } }`
	mRecord    = `mutation($in: RecordExternalSubscriptionInput!) { recordExternalSubscription(input: $in) { id status channel billingModel sellerPartnerId quantity termEndsAt services { id name status } customer { id } } }`
	mRequest   = `mutation($in: RequestResellerRelationshipInput!) { requestResellerRelationship(input: $in) { id status requestedAt expiresAt respondedAt message partner { id } customer { id } } }`
	mAccept    = `mutation($id: ID!) { acceptResellerRelationship(relationshipId: $id) { id status respondedAt } }`
	mDecline   = `mutation($id: ID!) { declineResellerRelationship(relationshipId: $id) { id status respondedAt } }`
	mTerminate = `mutation($id: ID!) { terminateResellerRelationship(relationshipId: $id) { id status terminatedAt } }`
	mCancel    = `mutation($id: ID!) { cancelSubscription(subscriptionId: $id) { id status cancelledAt } }`
	mSwitch    = `mutation($id: ID!) { switchSubscription(input: {subscriptionId: $id}) { id status channel sellerPartnerId sellerPartner { id name } } }`
	mCreateAz  = `mutation($in: CreateAzureSubscriptionInput!) { createAzureSubscription(input: $in) { id channel billingModel sellerPartnerId quantity services { id } replaces { id } legacyDetails { azureSubscriptionId agreementNumber notes } } }`
	mCancelLeg = `mutation($in: CancelLegacyServiceInput!) { cancelLegacyService(input: $in) { id status services { id name status } replacedBy { id } } }`
)

// world is a set of tenants for a scenario: partners A (the one acting) and
// B (a competitor), a government-cloud partner G, and customer C onboarded
// by A.
type world struct {
	ts                         *testServer
	a, b, g                    uuid.UUID // partner tenants
	c                          uuid.UUID // customer tenant, onboarded by A
	aGA, aSales, bGA, gGA, cGA *user
	auditor                    *user
}

func newWorld(t *testing.T, ts *testServer) *world {
	t.Helper()
	w := &world{ts: ts, a: uuid.New(), b: uuid.New(), g: uuid.New(), c: uuid.New()}
	w.aGA = ts.user(w.a, domain.RoleGlobalAdmin)
	w.aSales = ts.user(w.a, domain.RoleSalesAgent)
	w.bGA = ts.user(w.b, domain.RoleGlobalAdmin)
	w.gGA = ts.user(w.g, domain.RoleGlobalAdmin)
	w.cGA = ts.user(w.c, domain.RoleGlobalAdmin)
	w.auditor = ts.user(uuid.New(), domain.RoleAuditor)
	w.enroll(w.aGA, "Contoso CSP", "PUBLIC")
	w.enroll(w.bGA, "Northwind CSP", "PUBLIC")
	w.enroll(w.gGA, "Gov CSP", "US_GOVERNMENT")
	w.onboard(w.aSales, w.c, "Fabrikam", false)
	return w
}

func (w *world) enroll(u *user, name, cloud string) {
	w.ts.t.Helper()
	u.ok(nil, mEnroll, map[string]any{"in": map[string]any{"name": name, "cloud": cloud}})
}

func (w *world) onboard(u *user, id uuid.UUID, name string, csp bool) {
	w.ts.t.Helper()
	u.ok(nil, mOnboard, map[string]any{"in": map[string]any{"id": id.String(), "name": name, "domain": "x" + id.String()[:8] + ".example.com", "cloud": "PUBLIC", "isCspPartner": csp}})
}

type subOut struct {
	ID              string
	Status          string
	Channel         string
	BillingModel    string
	SellerPartnerID *string
	Quantity        int
	TermEndsAt      *string
	Services        []struct{ ID, Name, Status string }
	Customer        struct{ ID string }
	Replaces        *struct{ ID string }
	ReplacedBy      []struct{ ID string }
	SellerPartner   *struct{ ID, Name string }
	CancelledAt     *string
	LegacyDetails   *struct{ AzureSubscriptionID, AgreementNumber, Notes *string }
}

// record records a subscription for customer c as its Global admin.
func (w *world) record(customer uuid.UUID, billing, channel string, seller *uuid.UUID, termEnds *time.Time, services ...string) subOut {
	w.ts.t.Helper()
	in := map[string]any{"customerId": customer.String(), "offer": "Offer " + channel, "billingModel": billing, "channel": channel, "quantity": 5}
	if seller != nil {
		in["sellerPartnerId"] = seller.String()
	}
	if termEnds != nil {
		in["termEndsAt"] = termEnds.UTC().Format(time.RFC3339Nano)
	}
	if len(services) > 0 {
		var ss []map[string]any
		for _, s := range services {
			ss = append(ss, map[string]any{"name": s})
		}
		in["services"] = ss
	}
	var d struct{ RecordExternalSubscription subOut }
	w.ts.user(customer, domain.RoleGlobalAdmin).ok(&d, mRecord, map[string]any{"in": in})
	return d.RecordExternalSubscription
}

type relOut struct {
	ID           string
	Status       string
	RequestedAt  string
	ExpiresAt    string
	RespondedAt  *string
	TerminatedAt *string
}

// relate makes partner p's acting user request a relationship with customer
// and, if accept, has the customer's Global admin accept it.
func (w *world) relate(p *user, customer uuid.UUID, accept bool) string {
	w.ts.t.Helper()
	var d struct{ RequestResellerRelationship relOut }
	p.ok(&d, mRequest, map[string]any{"in": map[string]any{"customerId": customer.String()}})
	id := d.RequestResellerRelationship.ID
	if accept {
		w.ts.user(customer, domain.RoleGlobalAdmin).ok(nil, mAccept, map[string]any{"id": id})
	}
	return id
}

func ptr[T any](v T) *T { return &v }
