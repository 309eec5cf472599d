package e2e

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
)

// TestEndToEnd drives every row of the decision table and of "who may do
// what" through real HTTP GraphQL requests against the real server, once per
// store.
func TestEndToEnd(t *testing.T) {
	t.Parallel()
	for name, opts := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ts := startServer(t, opts...)
			t.Run("authentication", func(t *testing.T) { testAuthentication(t, ts.forTest(t)) })
			t.Run("enrollPartner", func(t *testing.T) { testEnrollPartner(t, ts.forTest(t)) })
			t.Run("onboardCustomer", func(t *testing.T) { testOnboardCustomer(t, ts.forTest(t)) })
			t.Run("recordExternalSubscription", func(t *testing.T) { testRecordExternalSubscription(t, ts.forTest(t)) })
			t.Run("requestResellerRelationship", func(t *testing.T) { testRequestRelationship(t, ts.forTest(t)) })
			t.Run("acceptDeclineTerminate", func(t *testing.T) { testAnswerRelationship(t, ts.forTest(t)) })
			t.Run("cancelSubscription", func(t *testing.T) { testCancelSubscription(t, ts.forTest(t)) })
			t.Run("switchSubscription", func(t *testing.T) { testSwitchSubscription(t, ts.forTest(t)) })
			t.Run("azureReplacement", func(t *testing.T) { testAzureReplacement(t, ts.forTest(t)) })
			t.Run("customerIsCSPPartner", func(t *testing.T) { testCustomerIsPartner(t, ts.forTest(t)) })
			t.Run("syndication", func(t *testing.T) { testSyndication(t, ts.forTest(t)) })
			t.Run("visibility", func(t *testing.T) { testVisibility(t, ts.forTest(t)) })
			t.Run("pagination", func(t *testing.T) { testPagination(t, ts.forTest(t)) })
			t.Run("supportPlan", func(t *testing.T) { testSupportPlan(t, ts.forTest(t)) })
			t.Run("idempotency", func(t *testing.T) { testIdempotency(t, ts.forTest(t)) })
			t.Run("eventsAndAsOf", func(t *testing.T) { testEventsAndAsOf(t, ts.forTest(t)) })
			t.Run("auditExport", func(t *testing.T) { testAuditExport(t, ts.forTest(t)) })
			t.Run("liveFeed", func(t *testing.T) { testLiveFeed(t, ts.forTest(t)) })
			// Moves the server's clock: keep it last.
			t.Run("expiryAndTermEnd", func(t *testing.T) { testExpiryAndTermEnd(t, ts.forTest(t)) })
		})
	}
}

func testAuthentication(t *testing.T, ts *testServer) {
	q := `{ viewer { userId tenantId role } }`
	ts.anonymous().refused("UNAUTHENTICATED", q, nil)
	bad := ts.user(uuid.New(), domain.RoleGlobalAdmin)
	bad.token = tamper(bad.token)
	bad.refused("UNAUTHENTICATED", q, nil)
	// A mutation without a token writes nothing.
	ts.anonymous().refused("UNAUTHENTICATED", mEnroll, map[string]any{"in": map[string]any{"name": "X", "cloud": "PUBLIC"}})

	u := ts.user(uuid.New(), domain.RoleSalesAgent)
	var d struct {
		Viewer struct {
			UserID, TenantID, Role string
			Partner                *struct{ ID string }
		}
	}
	u.ok(&d, `{ viewer { userId tenantId role partner { id } } }`, nil)
	if d.Viewer.TenantID != u.tenant.String() || d.Viewer.Role != "SALES_AGENT" || d.Viewer.Partner != nil {
		t.Fatalf("viewer = %+v", d.Viewer)
	}
}

func testEnrollPartner(t *testing.T, ts *testServer) {
	tenant := uuid.New()
	auditor := ts.user(uuid.New(), domain.RoleAuditor)
	in := map[string]any{"in": map[string]any{"name": "Adatum CSP", "cloud": "PUBLIC"}}
	before := ts.eventCount(auditor)
	for _, role := range []domain.Role{domain.RoleUserAdmin, domain.RoleSalesAgent, domain.RoleAdminAgent, domain.RoleBillingAdmin, domain.RoleAuditor} {
		ts.user(tenant, role).refused("FORBIDDEN", mEnroll, in)
	}
	ga := ts.user(tenant, domain.RoleGlobalAdmin)
	ga.refused("BAD_USER_INPUT", mEnroll, map[string]any{"in": map[string]any{"name": "  ", "cloud": "PUBLIC"}})
	if after := ts.eventCount(auditor); after != before {
		t.Fatalf("refused mutations wrote %d events", after-before)
	}
	var d struct {
		EnrollPartner struct{ ID, Name, Cloud, EnrolledAt string }
	}
	ga.ok(&d, mEnroll, in)
	if d.EnrollPartner.ID != tenant.String() || d.EnrollPartner.Name != "Adatum CSP" {
		t.Fatalf("enrolled %+v", d.EnrollPartner)
	}
	if _, err := time.Parse(time.RFC3339, d.EnrollPartner.EnrolledAt); err != nil || d.EnrollPartner.EnrolledAt[len(d.EnrollPartner.EnrolledAt)-1] != 'Z' {
		t.Fatalf("enrolledAt %q is not UTC RFC 3339", d.EnrollPartner.EnrolledAt)
	}
	ga.refused("CONFLICT", mEnroll, in)
	// Read-your-writes: visible to the next query.
	var p struct{ Partner struct{ Name string } }
	ts.user(uuid.New(), domain.RoleSalesAgent).ok(&p, `query($id: ID!) { partner(id: $id) { name } }`, map[string]any{"id": tenant.String()})
	if p.Partner.Name != "Adatum CSP" {
		t.Fatalf("partner not visible after enrolment: %+v", p)
	}
}

func testOnboardCustomer(t *testing.T, ts *testServer) {
	w := newWorld(t, ts)
	in := func(id uuid.UUID, domainName, cloud string) map[string]any {
		return map[string]any{"in": map[string]any{"id": id.String(), "name": "Tailspin", "domain": domainName, "cloud": cloud}}
	}
	id := uuid.New()
	for _, role := range []domain.Role{domain.RoleAdminAgent, domain.RoleBillingAdmin, domain.RoleAuditor} {
		ts.user(w.a, role).refused("FORBIDDEN", mOnboard, in(id, "tailspin.example.com", "PUBLIC"))
	}
	// A customer tenant (not a partner) may never onboard.
	w.cGA.refused("FORBIDDEN", mOnboard, in(id, "tailspin.example.com", "PUBLIC"))
	w.aGA.refused("BAD_USER_INPUT", mOnboard, in(id, "not a host", "PUBLIC"))
	w.aGA.refused("BAD_USER_INPUT", mOnboard, map[string]any{"in": map[string]any{"id": "not-a-uuid", "name": "T", "domain": "t.example.com", "cloud": "PUBLIC"}})
	w.aGA.refused("CLOUD_MISMATCH", mOnboard, in(id, "tailspin.example.com", "US_GOVERNMENT"))
	for _, role := range []domain.Role{domain.RoleGlobalAdmin, domain.RoleUserAdmin, domain.RoleSalesAgent} {
		var d struct{ OnboardCustomer struct{ ID string } }
		nid := uuid.New()
		ts.user(w.a, role).ok(&d, mOnboard, in(nid, "t"+nid.String()[:6]+".example.com", "PUBLIC"))
		if d.OnboardCustomer.ID != nid.String() {
			t.Fatalf("onboarded %v, want %v", d.OnboardCustomer.ID, nid)
		}
	}
	w.aGA.refused("CONFLICT", mOnboard, in(w.c, "fabrikam.example.com", "PUBLIC"))
	// Without an id, one is generated.
	var d struct{ OnboardCustomer struct{ ID string } }
	w.aGA.ok(&d, mOnboard, map[string]any{"in": map[string]any{"name": "Generated", "domain": "gen.example.com", "cloud": "PUBLIC"}})
	if _, err := uuid.Parse(d.OnboardCustomer.ID); err != nil {
		t.Fatalf("generated id %q", d.OnboardCustomer.ID)
	}
}

func testRecordExternalSubscription(t *testing.T, ts *testServer) {
	w := newWorld(t, ts)
	end := time.Now().Add(30 * 24 * time.Hour)
	base := func() map[string]any {
		return map[string]any{"customerId": w.c.String(), "offer": "Microsoft 365 E3", "billingModel": "LICENSE_BASED", "channel": "MICROSOFT_DIRECT", "quantity": 3, "termEndsAt": end.UTC().Format(time.RFC3339)}
	}
	with := func(k string, v any) map[string]any {
		in := base()
		if v == nil {
			delete(in, k)
		} else {
			in[k] = v
		}
		return map[string]any{"in": in}
	}
	// Who: the customer's GA and UA, the partner that sees it fully.
	for _, u := range []*user{w.cGA, ts.user(w.c, domain.RoleUserAdmin), w.aGA, w.aSales} {
		u.ok(nil, mRecord, with("quantity", 1))
	}
	ts.user(w.c, domain.RoleSalesAgent).refused("FORBIDDEN", mRecord, with("quantity", 1))
	ts.user(w.c, domain.RoleBillingAdmin).refused("FORBIDDEN", mRecord, with("quantity", 1))
	w.auditor.refused("FORBIDDEN", mRecord, with("quantity", 1))
	// A partner that does not see the customer: NOT_FOUND.
	w.bGA.refused("NOT_FOUND", mRecord, with("quantity", 1))
	// Input alone: BAD_USER_INPUT.
	w.cGA.refused("BAD_USER_INPUT", mRecord, with("offer", ""))
	w.cGA.refused("BAD_USER_INPUT", mRecord, with("quantity", 0))
	w.cGA.refused("BAD_USER_INPUT", mRecord, with("termEndsAt", nil))
	w.cGA.refused("BAD_USER_INPUT", mRecord, with("customerId", "nope"))
	usage := base()
	usage["billingModel"] = "USAGE_BASED"
	w.cGA.refused("BAD_USER_INPUT", mRecord, map[string]any{"in": usage})
	csp := base()
	csp["channel"] = "CSP_PARTNER"
	w.cGA.refused("BAD_USER_INPUT", mRecord, map[string]any{"in": csp})
	w.cGA.refused("BAD_USER_INPUT", mRecord, with("sellerPartnerId", w.b.String()))
	// Stored objects: NOT_FOUND for an unknown seller, CLOUD_MISMATCH.
	csp["sellerPartnerId"] = uuid.NewString()
	w.cGA.refused("NOT_FOUND", mRecord, map[string]any{"in": csp})
	csp["sellerPartnerId"] = w.g.String()
	w.cGA.refused("CLOUD_MISMATCH", mRecord, map[string]any{"in": csp})
	csp["sellerPartnerId"] = w.b.String()
	var d struct{ RecordExternalSubscription subOut }
	w.cGA.ok(&d, mRecord, map[string]any{"in": csp})
	s := d.RecordExternalSubscription
	if s.Status != "ACTIVE" || s.SellerPartnerID == nil || *s.SellerPartnerID != w.b.String() || s.Customer.ID != w.c.String() {
		t.Fatalf("recorded %+v", s)
	}
	// B now sells one of C's subscriptions: it sees C's profile, not C
	// fully, so recording for C is FORBIDDEN rather than NOT_FOUND.
	w.bGA.refused("FORBIDDEN", mRecord, with("quantity", 1))
}

func testRequestRelationship(t *testing.T, ts *testServer) {
	w := newWorld(t, ts)
	in := func(c string) map[string]any {
		return map[string]any{"in": map[string]any{"customerId": c, "message": "Let us help"}}
	}
	for _, role := range []domain.Role{domain.RoleAdminAgent, domain.RoleBillingAdmin, domain.RoleAuditor} {
		ts.user(w.b, role).refused("FORBIDDEN", mRequest, in(w.c.String()))
	}
	w.cGA.refused("FORBIDDEN", mRequest, in(w.c.String()))
	w.bGA.refused("BAD_USER_INPUT", mRequest, in("123"))
	w.bGA.refused("NOT_FOUND", mRequest, in(uuid.NewString()))
	w.gGA.refused("CLOUD_MISMATCH", mRequest, in(w.c.String()))
	// B does not see C yet, and may still ask (any existing customer).
	var d struct{ RequestResellerRelationship relOut }
	w.bGA.ok(&d, mRequest, in(w.c.String()))
	r := d.RequestResellerRelationship
	req, _ := time.Parse(time.RFC3339, r.RequestedAt)
	exp, _ := time.Parse(time.RFC3339, r.ExpiresAt)
	if r.Status != "PENDING" || exp.Sub(req) != 90*24*time.Hour || r.RespondedAt != nil {
		t.Fatalf("requested %+v", r)
	}
	w.bGA.refused("CONFLICT", mRequest, in(w.c.String()))
	// Another partner may ask the same customer at the same time.
	w.aGA.ok(nil, mRequest, in(w.c.String()))

	// Concurrent requests: by different partners all succeed; by one pair,
	// exactly one wins and the others get CONFLICT.
	target := uuid.New()
	w.onboard(w.aGA, target, "Contended", false)
	partners := make([]*user, 6)
	for i := range partners {
		id := uuid.New()
		partners[i] = ts.user(id, domain.RoleGlobalAdmin)
		w.enroll(partners[i], "Concurrent CSP", "PUBLIC")
	}
	codes := make([]string, 2*len(partners))
	var wg sync.WaitGroup
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = partners[i/2].do(mRequest, in(target.String())).code()
		}()
	}
	wg.Wait()
	for i := 0; i < len(codes); i += 2 {
		pair := []string{codes[i], codes[i+1]}
		slices.Sort(pair)
		if pair[0] != "" || pair[1] != "CONFLICT" {
			t.Fatalf("partner %d's two concurrent requests: %q, want one success and one CONFLICT", i/2, pair)
		}
	}
}

func testAnswerRelationship(t *testing.T, ts *testServer) {
	w := newWorld(t, ts)
	id := w.relate(w.bGA, w.c, false)
	vars := map[string]any{"id": id}
	for _, u := range []*user{ts.user(w.c, domain.RoleUserAdmin), ts.user(w.c, domain.RoleSalesAgent), w.bGA, w.auditor} {
		u.refused("FORBIDDEN", mAccept, vars)
		u.refused("FORBIDDEN", mDecline, vars)
	}
	other := uuid.New()
	w.onboard(w.aGA, other, "Other", false)
	ts.user(other, domain.RoleGlobalAdmin).refused("NOT_FOUND", mAccept, vars)
	w.cGA.refused("BAD_USER_INPUT", mAccept, map[string]any{"id": "x"})
	w.cGA.refused("NOT_FOUND", mAccept, map[string]any{"id": uuid.NewString()})
	// Terminating a pending request is not allowed.
	w.bGA.refused("INVALID_STATE", mTerminate, vars)
	var d struct{ AcceptResellerRelationship relOut }
	w.cGA.ok(&d, mAccept, vars)
	if d.AcceptResellerRelationship.Status != "ACCEPTED" || d.AcceptResellerRelationship.RespondedAt == nil {
		t.Fatalf("accepted %+v", d.AcceptResellerRelationship)
	}
	w.cGA.refused("INVALID_STATE", mAccept, vars)
	w.cGA.refused("INVALID_STATE", mDecline, vars)
	// The accepted pair may not ask again.
	w.bGA.refused("CONFLICT", mRequest, map[string]any{"in": map[string]any{"customerId": w.c.String()}})
	// Termination: the partner (acting roles) or the customer's GA.
	ts.user(w.b, domain.RoleBillingAdmin).refused("FORBIDDEN", mTerminate, vars)
	ts.user(w.c, domain.RoleUserAdmin).refused("FORBIDDEN", mTerminate, vars)
	w.aGA.refused("NOT_FOUND", mTerminate, vars)
	var term struct{ TerminateResellerRelationship relOut }
	ts.user(w.b, domain.RoleSalesAgent).ok(&term, mTerminate, vars)
	if term.TerminateResellerRelationship.Status != "TERMINATED" || term.TerminateResellerRelationship.TerminatedAt == nil {
		t.Fatalf("terminated %+v", term)
	}
	w.cGA.refused("INVALID_STATE", mTerminate, vars)
	// After termination the pair may ask again; the customer declines.
	id2 := w.relate(w.bGA, w.c, false)
	var dec struct{ DeclineResellerRelationship relOut }
	w.cGA.ok(&dec, mDecline, map[string]any{"id": id2})
	if dec.DeclineResellerRelationship.Status != "DECLINED" {
		t.Fatalf("declined %+v", dec)
	}
	// The customer's GA terminates an accepted one too.
	id3 := w.relate(w.bGA, w.c, true)
	w.cGA.ok(nil, mTerminate, map[string]any{"id": id3})
}

func testCancelSubscription(t *testing.T, ts *testServer) {
	w := newWorld(t, ts)
	sold := w.record(w.c, "USAGE_BASED", "CSP_PARTNER", &w.b, nil, "VMs")
	direct := w.record(w.c, "USAGE_BASED", "MICROSOFT_DIRECT", nil, nil, "VMs")
	// A sees C fully (it onboarded C) but does not sell `sold`: FORBIDDEN.
	w.aGA.refused("FORBIDDEN", mCancel, map[string]any{"id": sold.ID})
	// A partner that does not see it: NOT_FOUND.
	w.gGA.refused("NOT_FOUND", mCancel, map[string]any{"id": direct.ID})
	ts.user(w.b, domain.RoleBillingAdmin).refused("FORBIDDEN", mCancel, map[string]any{"id": sold.ID})
	w.auditor.refused("FORBIDDEN", mCancel, map[string]any{"id": sold.ID})
	ts.user(w.c, domain.RoleSalesAgent).refused("FORBIDDEN", mCancel, map[string]any{"id": direct.ID})
	// The seller cancels.
	var d struct{ CancelSubscription subOut }
	ts.user(w.b, domain.RoleSalesAgent).ok(&d, mCancel, map[string]any{"id": sold.ID})
	if d.CancelSubscription.Status != "CANCELLED" || d.CancelSubscription.CancelledAt == nil {
		t.Fatalf("cancelled %+v", d.CancelSubscription)
	}
	w.bGA.refused("INVALID_STATE", mCancel, map[string]any{"id": sold.ID})
	// The customer's UA cancels its own.
	ts.user(w.c, domain.RoleUserAdmin).ok(nil, mCancel, map[string]any{"id": direct.ID})
	w.cGA.refused("INVALID_STATE", mCancel, map[string]any{"id": direct.ID})
}

func testSwitchSubscription(t *testing.T, ts *testServer) {
	w := newWorld(t, ts)
	usage := w.record(w.c, "USAGE_BASED", "CSP_PARTNER", &w.b, nil, "App Service")
	license := w.record(w.c, "LICENSE_BASED", "CSP_PARTNER", &w.b, ptr(time.Now().Add(24*time.Hour)))
	direct := w.record(w.c, "LICENSE_BASED", "OPEN", nil, ptr(time.Now().Add(24*time.Hour)))
	for _, role := range []domain.Role{domain.RoleAdminAgent, domain.RoleBillingAdmin, domain.RoleAuditor} {
		ts.user(w.a, role).refused("FORBIDDEN", mSwitch, map[string]any{"id": usage.ID})
	}
	w.cGA.refused("FORBIDDEN", mSwitch, map[string]any{"id": usage.ID})
	w.gGA.refused("NOT_FOUND", mSwitch, map[string]any{"id": usage.ID})
	w.aGA.refused("BAD_USER_INPUT", mSwitch, map[string]any{"id": "zzz"})
	// Row LICENSE_FROM_OTHER_CHANNEL: a relationship is all it needs; switching it is not eligible.
	w.aGA.refused("NOT_ELIGIBLE", mSwitch, map[string]any{"id": direct.ID})
	// No accepted relationship yet.
	w.aGA.refused("RELATIONSHIP_REQUIRED", mSwitch, map[string]any{"id": usage.ID})
	w.relate(w.aGA, w.c, false)
	w.aGA.refused("RELATIONSHIP_REQUIRED", mSwitch, map[string]any{"id": usage.ID})
	var rels struct {
		Relationships struct {
			Edges []struct{ Node struct{ ID string } }
		}
	}
	w.aGA.ok(&rels, `query($c: ID!) { relationships(filter: {customerId: $c, status: PENDING}) { edges { node { id } } } }`, map[string]any{"c": w.c.String()})
	if len(rels.Relationships.Edges) != 1 {
		t.Fatalf("pending relationships: %+v", rels)
	}
	w.cGA.ok(nil, mAccept, map[string]any{"id": rels.Relationships.Edges[0].Node.ID})
	// Row LICENSE_FROM_CSP_PARTNER before the term end.
	w.aGA.refused("TERM_NOT_ENDED", mSwitch, map[string]any{"id": license.ID})
	// Row USAGE_FROM_PARTNER: switch.
	var d struct{ SwitchSubscription subOut }
	ts.user(w.a, domain.RoleUserAdmin).ok(&d, mSwitch, map[string]any{"id": usage.ID})
	s := d.SwitchSubscription
	if s.ID != usage.ID || s.SellerPartnerID == nil || *s.SellerPartnerID != w.a.String() || s.Channel != "CSP_PARTNER" || s.SellerPartner == nil || s.SellerPartner.Name != "Contoso CSP" {
		t.Fatalf("switched %+v", s)
	}
	w.aGA.refused("INVALID_STATE", mSwitch, map[string]any{"id": usage.ID})
	// Once the customer cancels it, there is nothing to switch.
	w.cGA.ok(nil, mCancel, map[string]any{"id": license.ID})
	w.aGA.refused("INVALID_STATE", mSwitch, map[string]any{"id": license.ID})
}

func testAzureReplacement(t *testing.T, ts *testServer) {
	w := newWorld(t, ts)
	legacy := w.record(w.c, "USAGE_BASED", "ENTERPRISE_AGREEMENT", nil, nil, "Virtual Machines", "SQL Database", "Storage")
	fromPartner := w.record(w.c, "USAGE_BASED", "CSP_PARTNER", &w.b, nil, "VMs")
	in := func(customer, legacyID string) map[string]any {
		return map[string]any{"in": map[string]any{"customerId": customer, "legacySubscriptionId": legacyID, "offer": "Azure plan",
			"legacyDetails": map[string]any{"azureSubscriptionId": "a1b2-legacy", "agreementNumber": "EA-42", "notes": "moved"}}}
	}
	cancelIn := func(service *string) map[string]any {
		m := map[string]any{"legacySubscriptionId": legacy.ID}
		if service != nil {
			m["serviceId"] = *service
		}
		return map[string]any{"in": m}
	}
	ts.user(w.a, domain.RoleBillingAdmin).refused("FORBIDDEN", mCreateAz, in(w.c.String(), legacy.ID))
	w.cGA.refused("FORBIDDEN", mCreateAz, in(w.c.String(), legacy.ID))
	other := uuid.New()
	w.onboard(w.aGA, other, "Other", false)
	w.aGA.refused("BAD_USER_INPUT", mCreateAz, in(other.String(), legacy.ID))
	w.aGA.refused("NOT_ELIGIBLE", mCreateAz, in(w.c.String(), fromPartner.ID))
	w.aGA.refused("RELATIONSHIP_REQUIRED", mCreateAz, in(w.c.String(), legacy.ID))
	w.aGA.refused("RELATIONSHIP_REQUIRED", mCancelLeg, cancelIn(nil))
	w.relate(w.aGA, w.c, true)
	w.aGA.refused("INVALID_STATE", mCancelLeg, cancelIn(&legacy.Services[0].ID))

	var d struct{ CreateAzureSubscription subOut }
	w.aSales.ok(&d, mCreateAz, in(w.c.String(), legacy.ID))
	n := d.CreateAzureSubscription
	if n.Channel != "CSP_PARTNER" || n.BillingModel != "USAGE_BASED" || n.Quantity != 1 || len(n.Services) != 0 ||
		n.SellerPartnerID == nil || *n.SellerPartnerID != w.a.String() || n.Replaces == nil || n.Replaces.ID != legacy.ID ||
		n.LegacyDetails == nil || *n.LegacyDetails.AzureSubscriptionID != "a1b2-legacy" {
		t.Fatalf("created %+v", n)
	}
	w.aGA.refused("CONFLICT", mCreateAz, in(w.c.String(), legacy.ID))

	w.aGA.refused("NOT_FOUND", mCancelLeg, cancelIn(ptr(uuid.NewString())))
	var c struct{ CancelLegacyService subOut }
	for i, svc := range legacy.Services {
		w.aGA.ok(&c, mCancelLeg, cancelIn(&svc.ID))
		if c.CancelLegacyService.ID != legacy.ID || c.CancelLegacyService.Services[i].Status != "CANCELLED" {
			t.Fatalf("cancel service %d: %+v", i, c.CancelLegacyService)
		}
		w.aGA.refused("INVALID_STATE", mCancelLeg, cancelIn(&svc.ID))
	}
	// Cancelling the last service leaves it active: Azure CSP coexists.
	if c.CancelLegacyService.Status != "ACTIVE" || len(c.CancelLegacyService.ReplacedBy) != 1 {
		t.Fatalf("after the last service: %+v", c.CancelLegacyService)
	}
	w.aGA.ok(&c, mCancelLeg, cancelIn(nil))
	if c.CancelLegacyService.Status != "CANCELLED" {
		t.Fatalf("cancel whole: %+v", c.CancelLegacyService)
	}
	w.aGA.refused("INVALID_STATE", mCancelLeg, cancelIn(nil))

	// A whole cancellation cancels every service in one event.
	legacy2 := w.record(w.c, "USAGE_BASED", "ADVISOR", nil, nil, "A", "B")
	w.aGA.ok(nil, mCreateAz, in(w.c.String(), legacy2.ID))
	w.aGA.ok(&c, mCancelLeg, map[string]any{"in": map[string]any{"legacySubscriptionId": legacy2.ID}})
	for _, s := range c.CancelLegacyService.Services {
		if s.Status != "CANCELLED" {
			t.Fatalf("service left active: %+v", c.CancelLegacyService)
		}
	}
	// The legacy one cancelled: no more replacements.
	w.aGA.refused("INVALID_STATE", mCreateAz, in(w.c.String(), legacy2.ID))
}

func testCustomerIsPartner(t *testing.T, ts *testServer) {
	w := newWorld(t, ts)
	// B is an enrolled partner; A onboards B's tenant as a customer without the flag.
	w.onboard(w.aGA, w.b, "Northwind as a customer", false)
	var d struct{ Customer struct{ IsCspPartner bool } }
	w.aGA.ok(&d, `query($id: ID!) { customer(id: $id) { isCspPartner } }`, map[string]any{"id": w.b.String()})
	if !d.Customer.IsCspPartner {
		t.Fatal("a customer whose id is an enrolled partner's must read isCspPartner")
	}
	w.aGA.refused("PARTNER_TO_PARTNER_RESALE", mRequest, map[string]any{"in": map[string]any{"customerId": w.b.String()}})
	flagged := uuid.New()
	w.onboard(w.aGA, flagged, "Flagged CSP", true)
	w.aGA.refused("PARTNER_TO_PARTNER_RESALE", mRequest, map[string]any{"in": map[string]any{"customerId": flagged.String()}})
	s := w.record(flagged, "USAGE_BASED", "CSP_PARTNER", &w.b, nil)
	w.aGA.refused("PARTNER_TO_PARTNER_RESALE", mSwitch, map[string]any{"id": s.ID})
}

func testSyndication(t *testing.T, ts *testServer) {
	w := newWorld(t, ts)
	s := w.record(w.c, "USAGE_BASED", "SYNDICATION_PARTNER", nil, nil, "VMs")
	w.relate(w.aGA, w.c, true)
	w.aGA.refused("NOT_ELIGIBLE", mSwitch, map[string]any{"id": s.ID})
	w.aGA.refused("NOT_ELIGIBLE", mCreateAz, map[string]any{"in": map[string]any{"customerId": w.c.String(), "legacySubscriptionId": s.ID, "offer": "Azure plan", "legacyDetails": map[string]any{"azureSubscriptionId": "x"}}})
}
