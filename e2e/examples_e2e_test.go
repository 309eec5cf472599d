package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/examples"
	"github.com/partnercenter/multichannel/graph"
	"github.com/partnercenter/multichannel/internal/app"
)

// TestExamplesTellTheStory runs every example operation (examples/*.graphql),
// as the demo role its comment names, against a development server started
// with -seed, in the order of the story, and checks what each answers: so
// that the examples the docs and the playground show work, and keep working.
func TestExamplesTellTheStory(t *testing.T) {
	ts := startServer(t, func(s *setup) { s.Env = "development"; s.Seed = true })
	all, err := examples.All()
	if err != nil {
		t.Fatal(err)
	}
	byPrefix := map[string]examples.Example{}
	for _, e := range all {
		byPrefix[e.Name[:2]] = e
	}
	roles := map[string]*user{
		"Contoso CSP, Global admin":                ts.user(app.DemoPartnerID, domain.RoleGlobalAdmin),
		"Contoso CSP, Sales agent":                 ts.user(app.DemoPartnerID, domain.RoleSalesAgent),
		"Contoso CSP, Billing admin (may not act)": ts.user(app.DemoPartnerID, domain.RoleBillingAdmin),
		"Auditor (reads everything)":               ts.user(app.DemoPartnerID, domain.RoleAuditor),
		"Fabrikam (customer), Global admin":        ts.user(app.DemoCustomerID, domain.RoleGlobalAdmin),
	}
	auditor := roles["Auditor (reads everything)"]
	ran := map[string]bool{}
	// run runs one operation of an example as its role, with the example's
	// own Variables line overridden by set; code "" must succeed.
	run := func(prefix, op, code string, set map[string]any) map[string]any {
		t.Helper()
		e, ok := byPrefix[prefix]
		if !ok {
			t.Fatalf("no example %s-*.graphql", prefix)
		}
		u := roles[e.Role]
		if u == nil {
			t.Fatalf("%s: no test user for role %q", e.Name, e.Role)
		}
		vars := map[string]any{}
		if e.Variables != nil {
			if err := json.Unmarshal(e.Variables, &vars); err != nil {
				t.Fatal(err)
			}
		}
		for k, v := range set {
			vars[k] = v
		}
		before := ts.eventCount(auditor)
		r := runOperation(t, u, e.Document, op, vars)
		ran[e.Name] = true
		if got := r.code(); got != code {
			t.Fatalf("%s %s: code %q, want %q: %+v", e.Name, op, got, code, r.Errors)
		}
		var data map[string]any
		json.Unmarshal(r.Data, &data)
		if code != "" {
			if after := ts.eventCount(auditor); after != before {
				t.Fatalf("%s %s: refused, yet %d events were written", e.Name, op, after-before)
			}
			if data != nil && pick(data, firstKey(data)) != nil {
				t.Fatalf("%s %s: refused with data %v", e.Name, op, data)
			}
		}
		return data
	}

	// Who am I, and the seeded customer's plan.
	if got := pick(run("01", "Viewer", "", nil), "viewer", "partner", "name"); got != "Contoso CSP" {
		t.Fatalf("viewer's partner: %v", got)
	}
	ids := map[string]string{} // Fabrikam's subscriptions by offer
	for _, it := range pick(run("02", "SupportPlan", "", nil), "supportPlan", "items").([]any) {
		if got := pick(it, "nextAction"); got != "REQUEST_RELATIONSHIP" {
			t.Errorf("before a relationship, %v's next action is %v", pick(it, "subscription", "offer"), got)
		}
		ids[pick(it, "subscription", "offer").(string)] = pick(it, "subscription", "id").(string)
	}
	if len(ids) != 4 {
		t.Fatalf("the seeded plan has %d subscriptions: %v", len(ids), ids)
	}

	// Seeded, Contoso is enrolled already; a new customer with a
	// subscription of each row.
	run("03", "EnrollPartner", "CONFLICT", nil)
	run("04", "OnboardCustomer", "", nil)
	for _, op := range []string{"RecordLicenseFromMicrosoft", "RecordLicenseFromCspPartner", "RecordAzureFromEnterpriseAgreement", "RecordFromSyndicationPartner"} {
		run("05", op, "", nil)
	}
	tailspinAzure := pick(run("05", "RecordAzureFromPartner", "", nil), "recordExternalSubscription", "id")
	run("11", "SwitchWithoutRelationship", "RELATIONSHIP_REQUIRED", map[string]any{"tailspinAzureFromPartnerId": tailspinAzure})

	// The relationship, requested and accepted.
	run("06", "RequestRelationship", "", nil)
	pending := pick(run("07", "PendingRequests", "", nil), "relationships", "edges").([]any)
	if len(pending) != 1 {
		t.Fatalf("pending requests: %v", pending)
	}
	rel := pick(pending[0], "node", "id")
	if got := pick(run("07", "AcceptRelationship", "", map[string]any{"relationshipId": rel}), "acceptResellerRelationship", "status"); got != "ACCEPTED" {
		t.Fatalf("accepted: %v", got)
	}

	// Row 4: the switch.
	sw := run("08", "SwitchSubscription", "", map[string]any{"subscriptionId": ids["Azure plan"]})
	if got := pick(sw, "switchSubscription", "sellerPartner", "name"); got != "Contoso CSP" {
		t.Fatalf("switched to %v", got)
	}

	// The refusals, each writing nothing.
	run("11", "SwitchBeforeTermEnd", "TERM_NOT_ENDED", map[string]any{"licenseFromCspPartnerId": ids["Microsoft 365 Business Premium"]})
	run("11", "SwitchLicenseFromMicrosoft", "NOT_ELIGIBLE", map[string]any{"licenseFromMicrosoftId": ids["Microsoft 365 E3"]})
	run("11", "OnboardInAnotherCloud", "CLOUD_MISMATCH", nil)
	run("11", "OnboardCspPartnerAsCustomer", "", nil)
	run("11", "RequestFromCspPartner", "PARTNER_TO_PARTNER_RESALE", nil)
	run("11", "RecordWithoutQuantity", "BAD_USER_INPUT", nil)
	run("11", "UnknownSubscription", "NOT_FOUND", nil)
	run("12", "WhatABillingAdminSees", "", nil)
	run("12", "RequestAsBillingAdmin", "FORBIDDEN", nil)

	// Row 3: the new Azure subscription, then the legacy services.
	legacy := map[string]any{"legacySubscriptionId": ids["Azure plan (EA)"]}
	az := run("09", "CreateAzureSubscription", "", legacy)
	if got := pick(az, "createAzureSubscription", "replaces", "id"); got != ids["Azure plan (EA)"] {
		t.Fatalf("the new Azure subscription replaces %v", got)
	}
	services := pick(run("10", "LegacyServices", "", legacy), "subscription", "services").([]any)
	one := run("10", "CancelOneService", "", map[string]any{"legacySubscriptionId": legacy["legacySubscriptionId"], "serviceId": pick(services[0], "id")})
	if got := pick(one, "cancelLegacyService", "status"); got != "ACTIVE" {
		t.Fatalf("after one service, the legacy subscription is %v", got)
	}
	if got := pick(run("10", "CancelWholeLegacySubscription", "", legacy), "cancelLegacyService", "status"); got != "CANCELLED" {
		t.Fatalf("cancelled whole, the legacy subscription is %v", got)
	}

	// The reads: history, the log, as of an instant.
	hist := run("13", "CustomerHistory", "", nil)
	if h := pick(hist, "customer", "history", "edges").([]any); len(h) == 0 || pick(h[0], "node", "type") != "CustomerOnboarded" {
		t.Fatalf("customer history: %v", h)
	}
	log := run("14", "EventLog", "", map[string]any{"first": 100})
	var switched, accepted map[string]any
	for _, e := range pick(log, "events", "edges").([]any) {
		switch pick(e, "node", "type") {
		case "SubscriptionSwitched":
			switched = pick(e, "node").(map[string]any)
		case "RelationshipAccepted":
			accepted = pick(e, "node").(map[string]any)
		}
	}
	if switched == nil || accepted == nil {
		t.Fatalf("the filtered log lacks the switch or the acceptance: %v", log)
	}
	// As docs/domain.md says, revisions count from 0: the acceptance is its
	// relationship stream's second event.
	if got := accepted["revision"]; got != 1.0 {
		t.Errorf("the acceptance's revision is %v, want 1", got)
	}
	if got := pick(run("14", "EventsOfOneRequest", "", map[string]any{"correlationId": switched["correlationId"]}), "causation").([]any); len(got) != 1 {
		t.Fatalf("the switch's request made %v", got)
	}
	at, err := time.Parse(time.RFC3339Nano, switched["recordedAt"].(string))
	if err != nil {
		t.Fatal(err)
	}
	asOf := run("15", "CustomerAsOf", "", map[string]any{"at": at.Add(-time.Millisecond).Format(time.RFC3339Nano)})
	for _, s := range pick(asOf, "customerAsOf", "subscriptions").([]any) {
		if pick(s, "offer") == "Azure plan" && pick(s, "sellerPartner", "name") != "Northwind CSP" {
			t.Fatalf("before the switch, the Azure plan was sold by %v", pick(s, "sellerPartner", "name"))
		}
	}

	// The live feed, resuming after the acceptance: first the switch that
	// followed it, then a live event.
	e := byPrefix["16"]
	c, err := dialWS(t, ts, roles[e.Role].token)
	if err != nil {
		t.Fatal(err)
	}
	c.send(map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{
		"query": e.Document, "operationName": "LiveEvents", "variables": map[string]any{"after": accepted["position"]}}})
	ran[e.Name] = true
	want := "SubscriptionSwitched"
	for seen := 0; want != ""; seen++ {
		if seen > 100 {
			t.Fatalf("no %s in the feed", want)
		}
		msg, err := c.read(10 * time.Second)
		if err != nil {
			t.Fatalf("waiting for %s: %v", want, err)
		}
		if msg["type"] != "next" {
			t.Fatalf("feed: %v", msg)
		}
		if pick(msg, "payload", "data", "eventAppended", "type") != want {
			continue
		}
		if want == "SubscriptionSwitched" {
			want = "RelationshipRequested"
			run("06", "RequestRelationship", "", map[string]any{"customerId": "44444444-4444-4444-8444-444444444444"})
		} else {
			want = ""
		}
	}

	// The schema codegen tools read: served without a token in development.
	resp, err := http.Get(ts.url + "/schema.graphql")
	if err != nil {
		t.Fatal(err)
	}
	sdl, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Equal(sdl, graph.SDL()) {
		t.Errorf("GET /schema.graphql: HTTP %d, %d bytes, want the served SDL", resp.StatusCode, len(sdl))
	}

	for _, e := range all {
		if !ran[e.Name] {
			t.Errorf("%s is not run by this test", e.Name)
		}
	}
}

// runOperation posts one named operation of a document.
func runOperation(t *testing.T, u *user, doc, op string, vars map[string]any) gqlResponse {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": doc, "operationName": op, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, u.ts.url+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+u.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST /graphql: %v", err)
	}
	defer resp.Body.Close()
	var out gqlResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("decode response (HTTP %d): %v", resp.StatusCode, err)
	}
	return out
}

// pick walks a decoded JSON value by object keys; nil where a key is
// missing or a value is not an object.
func pick(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func firstKey(m map[string]any) string {
	for k := range m {
		return k
	}
	return ""
}
