package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/internal/auth"
)

func testVisibility(t *testing.T, ts *testServer) {
	w := newWorld(t, ts)
	direct := w.record(w.c, "LICENSE_BASED", "MICROSOFT_DIRECT", nil, ptr(time.Now().Add(time.Hour)))
	soldByB := w.record(w.c, "USAGE_BASED", "CSP_PARTNER", &w.b, nil)
	q := `query($id: ID!) { customer(id: $id) { id name subscriptions { id } relationships { id partner { id } } } }`
	type cust struct {
		Customer *struct {
			ID            string
			Subscriptions []struct{ ID string }
			Relationships []struct {
				ID      string
				Partner struct{ ID string }
			}
		}
	}
	// A onboarded C: sees it fully.
	var a cust
	w.aGA.ok(&a, q, map[string]any{"id": w.c.String()})
	if a.Customer == nil || len(a.Customer.Subscriptions) != 2 {
		t.Fatalf("A's view: %+v", a)
	}
	// B sells one subscription: sees the profile and that one only.
	var b cust
	w.bGA.ok(&b, q, map[string]any{"id": w.c.String()})
	if b.Customer == nil || len(b.Customer.Subscriptions) != 1 || b.Customer.Subscriptions[0].ID != soldByB.ID {
		t.Fatalf("B's view: %+v", b)
	}
	// G sees nothing: NOT_FOUND, indistinguishable from an unknown id.
	r := w.gGA.refused("NOT_FOUND", q, map[string]any{"id": w.c.String()})
	r2 := w.gGA.refused("NOT_FOUND", q, map[string]any{"id": uuid.NewString()})
	if string(r.Data) != string(r2.Data) || r.Errors[0].Message != r2.Errors[0].Message {
		t.Fatalf("invisible and unknown differ: %s %v / %s %v", r.Data, r.Errors, r2.Data, r2.Errors)
	}
	w.gGA.refused("NOT_FOUND", `query($id: ID!) { subscription(id: $id) { id } }`, map[string]any{"id": direct.ID})
	// Relationships: each partner sees its own only; the customer sees all.
	relB := w.relate(w.bGA, w.c, false)
	relA := w.relate(w.aGA, w.c, false)
	w.bGA.ok(&b, q, map[string]any{"id": w.c.String()})
	if len(b.Customer.Relationships) != 1 || b.Customer.Relationships[0].ID != relB {
		t.Fatalf("B sees relationships %+v", b.Customer.Relationships)
	}
	var c cust
	w.cGA.ok(&c, q, map[string]any{"id": w.c.String()})
	if len(c.Customer.Relationships) != 2 || len(c.Customer.Subscriptions) != 2 ||
		c.Customer.Relationships[0].ID != relB || c.Customer.Relationships[1].ID != relA {
		t.Fatalf("the customer's own view (relationships %s then %s): %+v", relB, relA, c)
	}
	var au cust
	w.auditor.ok(&au, q, map[string]any{"id": w.c.String()})
	if len(au.Customer.Relationships) != 2 {
		t.Fatalf("the auditor's view: %+v", au)
	}
	// A customer user does not see another customer.
	other := uuid.New()
	w.onboard(w.aGA, other, "Other", false)
	w.cGA.refused("NOT_FOUND", q, map[string]any{"id": other.String()})
	// Partner profiles are visible to everyone authenticated.
	var p struct{ Partner struct{ Name string } }
	w.cGA.ok(&p, `query($id: ID!) { partner(id: $id) { name } }`, map[string]any{"id": w.b.String()})
	if p.Partner.Name != "Northwind CSP" {
		t.Fatalf("partner profile: %+v", p)
	}
	// The auditor reads everything and changes nothing.
	w.auditor.refused("FORBIDDEN", mCancel, map[string]any{"id": direct.ID})
}

func testPagination(t *testing.T, ts *testServer) {
	w := newWorld(t, ts)
	var ids []string
	for i := 0; i < 5; i++ {
		ids = append(ids, w.record(w.c, "USAGE_BASED", "OPEN", nil, nil).ID)
	}
	q := `query($c: ID!, $first: Int, $after: String) { subscriptions(filter: {customerId: $c}, first: $first, after: $after) {
		totalCount edges { cursor node { id } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }`
	type page struct {
		Subscriptions struct {
			TotalCount int
			Edges      []struct {
				Cursor string
				Node   struct{ ID string }
			}
			PageInfo struct {
				HasNextPage, HasPreviousPage bool
				StartCursor, EndCursor       *string
			}
		}
	}
	var p1 page
	w.aGA.ok(&p1, q, map[string]any{"c": w.c.String(), "first": 2})
	s := p1.Subscriptions
	if s.TotalCount != 5 || len(s.Edges) != 2 || !s.PageInfo.HasNextPage || s.Edges[0].Node.ID != ids[0] || s.Edges[1].Node.ID != ids[1] {
		t.Fatalf("page 1: %+v", s)
	}
	// New writes between pages do not move the cursor.
	ids = append(ids, w.record(w.c, "USAGE_BASED", "OPEN", nil, nil).ID)
	var p2 page
	w.aGA.ok(&p2, q, map[string]any{"c": w.c.String(), "first": 3, "after": *s.PageInfo.EndCursor})
	if got := p2.Subscriptions; len(got.Edges) != 3 || got.Edges[0].Node.ID != ids[2] || got.TotalCount != 6 || !got.PageInfo.HasNextPage {
		t.Fatalf("page 2: %+v", got)
	}
	var all page
	w.aGA.ok(&all, q, map[string]any{"c": w.c.String()})
	if len(all.Subscriptions.Edges) != 6 || all.Subscriptions.PageInfo.HasNextPage {
		t.Fatalf("default page: %+v", all.Subscriptions)
	}
	w.aGA.refused("BAD_USER_INPUT", q, map[string]any{"c": w.c.String(), "first": 101})
	w.aGA.refused("BAD_USER_INPUT", q, map[string]any{"c": w.c.String(), "first": -1})
	w.aGA.refused("BAD_USER_INPUT", q, map[string]any{"c": w.c.String(), "after": "not-a-cursor"})
	w.aGA.ok(nil, q, map[string]any{"c": w.c.String(), "first": 100})
	// Customers and relationships are connections too.
	var cs struct{ Customers struct{ TotalCount int } }
	w.aGA.ok(&cs, `{ customers(filter: {nameContains: "fabri"}) { totalCount edges { node { id } } } }`, nil)
	if cs.Customers.TotalCount < 1 {
		t.Fatalf("customers: %+v", cs)
	}
}

func testSupportPlan(t *testing.T, ts *testServer) {
	w := newWorld(t, ts)
	later := time.Now().Add(48 * time.Hour)
	lic := w.record(w.c, "LICENSE_BASED", "MICROSOFT_DIRECT", nil, &later)
	licCSP := w.record(w.c, "LICENSE_BASED", "CSP_PARTNER", &w.b, &later)
	usage := w.record(w.c, "USAGE_BASED", "ENTERPRISE_AGREEMENT", nil, nil, "VMs")
	usageP := w.record(w.c, "USAGE_BASED", "CSP_PARTNER", &w.b, nil)
	synd := w.record(w.c, "USAGE_BASED", "SYNDICATION_PARTNER", nil, nil)
	q := `query($c: ID!) { supportPlan(customerId: $c) { customer { id } items { subscription { id } case nextAction refusalCode explanation } } }`
	type plan struct {
		SupportPlan struct {
			Items []struct {
				Subscription                  struct{ ID string }
				Case, NextAction, Explanation string
				RefusalCode                   *string
			}
		}
	}
	check := func(want map[string][3]string) {
		t.Helper()
		var p plan
		w.aGA.ok(&p, q, map[string]any{"c": w.c.String()})
		if len(p.SupportPlan.Items) != len(want) {
			t.Fatalf("plan has %d items, want %d: %+v", len(p.SupportPlan.Items), len(want), p)
		}
		for _, it := range p.SupportPlan.Items {
			wt := want[it.Subscription.ID]
			code := ""
			if it.RefusalCode != nil {
				code = *it.RefusalCode
			}
			if it.Case != wt[0] || it.NextAction != wt[1] || code != wt[2] || it.Explanation == "" {
				t.Errorf("%s: got (%s, %s, %q), want %v", it.Subscription.ID, it.Case, it.NextAction, code, wt)
			}
		}
	}
	check(map[string][3]string{
		lic.ID:    {"LICENSE_FROM_OTHER_CHANNEL", "REQUEST_RELATIONSHIP", ""},
		licCSP.ID: {"LICENSE_FROM_CSP_PARTNER", "REQUEST_RELATIONSHIP", ""},
		usage.ID:  {"USAGE_FROM_OTHER_CHANNEL", "REQUEST_RELATIONSHIP", ""},
		usageP.ID: {"USAGE_FROM_PARTNER", "REQUEST_RELATIONSHIP", ""},
		synd.ID:   {"SYNDICATION_PARTNER", "NOT_ALLOWED", "NOT_ELIGIBLE"},
	})
	rel := w.relate(w.aGA, w.c, false)
	check(map[string][3]string{
		lic.ID:    {"LICENSE_FROM_OTHER_CHANNEL", "AWAIT_CUSTOMER_ACCEPTANCE", ""},
		licCSP.ID: {"LICENSE_FROM_CSP_PARTNER", "AWAIT_CUSTOMER_ACCEPTANCE", ""},
		usage.ID:  {"USAGE_FROM_OTHER_CHANNEL", "AWAIT_CUSTOMER_ACCEPTANCE", ""},
		usageP.ID: {"USAGE_FROM_PARTNER", "AWAIT_CUSTOMER_ACCEPTANCE", ""},
		synd.ID:   {"SYNDICATION_PARTNER", "NOT_ALLOWED", "NOT_ELIGIBLE"},
	})
	w.cGA.ok(nil, mAccept, map[string]any{"id": rel})
	check(map[string][3]string{
		lic.ID:    {"LICENSE_FROM_OTHER_CHANNEL", "NONE", ""},
		licCSP.ID: {"LICENSE_FROM_CSP_PARTNER", "WAIT_FOR_TERM_END", "TERM_NOT_ENDED"},
		usage.ID:  {"USAGE_FROM_OTHER_CHANNEL", "CREATE_AZURE_SUBSCRIPTION", ""},
		usageP.ID: {"USAGE_FROM_PARTNER", "SWITCH_SUBSCRIPTION", ""},
		synd.ID:   {"SYNDICATION_PARTNER", "NOT_ALLOWED", "NOT_ELIGIBLE"},
	})
	var created struct{ CreateAzureSubscription struct{ ID string } }
	w.aGA.ok(&created, mCreateAz, map[string]any{"in": map[string]any{"customerId": w.c.String(), "legacySubscriptionId": usage.ID, "offer": "Azure plan", "legacyDetails": map[string]any{"azureSubscriptionId": "x"}}})
	w.aGA.ok(nil, mSwitch, map[string]any{"id": usageP.ID})
	w.cGA.ok(nil, mCancel, map[string]any{"id": lic.ID})
	check(map[string][3]string{
		lic.ID:                             {"LICENSE_FROM_OTHER_CHANNEL", "NOT_ALLOWED", "INVALID_STATE"},
		licCSP.ID:                          {"LICENSE_FROM_CSP_PARTNER", "WAIT_FOR_TERM_END", "TERM_NOT_ENDED"},
		usage.ID:                           {"USAGE_FROM_OTHER_CHANNEL", "CANCEL_LEGACY_SERVICES", ""},
		usageP.ID:                          {"USAGE_FROM_PARTNER", "NONE", ""},
		synd.ID:                            {"SYNDICATION_PARTNER", "NOT_ALLOWED", "NOT_ELIGIBLE"},
		created.CreateAzureSubscription.ID: {"USAGE_FROM_PARTNER", "NONE", ""},
	})
	w.cGA.refused("FORBIDDEN", q, map[string]any{"c": w.c.String()})
	w.auditor.refused("FORBIDDEN", q, map[string]any{"c": w.c.String()})
	w.gGA.refused("NOT_FOUND", q, map[string]any{"c": w.c.String()})
}

func testIdempotency(t *testing.T, ts *testServer) {
	w := newWorld(t, ts)
	vars := map[string]any{"in": map[string]any{"customerId": w.c.String()}}
	before := ts.eventCount(w.auditor)
	key := "idem-" + uuid.NewString()
	r1 := w.aGA.do(mRequest, vars, "Idempotency-Key", key)
	r2 := w.aGA.do(mRequest, vars, "Idempotency-Key", key)
	if len(r1.Errors) > 0 || len(r2.Errors) > 0 {
		t.Fatalf("errors: %v / %v", r1.Errors, r2.Errors)
	}
	var d1, d2 struct{ RequestResellerRelationship relOut }
	json.Unmarshal(r1.Data, &d1)
	json.Unmarshal(r2.Data, &d2)
	if d1.RequestResellerRelationship.ID == "" || d1.RequestResellerRelationship.ID != d2.RequestResellerRelationship.ID {
		t.Fatalf("repeat answered another object: %s / %s", r1.Data, r2.Data)
	}
	if n := ts.eventCount(w.auditor) - before; n != 1 {
		t.Fatalf("the repeated request appended %d events, want 1", n)
	}
	// The same user (sub and tenant) repeating the key in a role that may
	// not act is refused as the first request would be, not answered the
	// earlier object.
	for _, role := range []domain.Role{domain.RoleAuditor, domain.RoleBillingAdmin} {
		a := domain.Actor{UserID: w.aGA.id, TenantID: w.aGA.tenant, Role: role}
		tok, err := auth.MintHS256([]byte(testSecret), a, time.Hour, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		same := &user{ts: ts, id: a.UserID, tenant: a.TenantID, role: role, token: tok}
		if r := same.do(mRequest, vars, "Idempotency-Key", key); r.code() != "FORBIDDEN" {
			t.Fatalf("repeat as %s: %s %+v, want FORBIDDEN", role, r.Data, r.Errors)
		}
	}
	// Same key, another request: BAD_USER_INPUT.
	r3 := w.aGA.do(mRequest, map[string]any{"in": map[string]any{"customerId": w.c.String(), "message": "other"}}, "Idempotency-Key", key)
	if r3.code() != "BAD_USER_INPUT" {
		t.Fatalf("reused key: %+v", r3.Errors)
	}
	// Concurrent duplicates: one append, one answer.
	key2 := "idem-" + uuid.NewString()
	c2 := uuid.New()
	w.onboard(w.aGA, c2, "Concurrent", false)
	before = ts.eventCount(w.auditor)
	var wg sync.WaitGroup
	answers := make([]gqlResponse, 8)
	for i := range answers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i] = w.bGA.do(mRequest, map[string]any{"in": map[string]any{"customerId": c2.String()}}, "Idempotency-Key", key2)
		}()
	}
	wg.Wait()
	for _, a := range answers {
		if len(a.Errors) > 0 || string(a.Data) != string(answers[0].Data) {
			t.Fatalf("concurrent duplicates answered differently: %s %v / %s", a.Data, a.Errors, answers[0].Data)
		}
	}
	if n := ts.eventCount(w.auditor) - before; n != 1 {
		t.Fatalf("concurrent duplicates appended %d events, want 1", n)
	}
	// A refused attempt records nothing, so its repeat runs again.
	key3 := "idem-" + uuid.NewString()
	bad := map[string]any{"in": map[string]any{"customerId": uuid.NewString()}}
	if r := w.aGA.do(mRequest, bad, "Idempotency-Key", key3); r.code() != "NOT_FOUND" {
		t.Fatalf("first refused attempt: %+v", r.Errors)
	}
	if r := w.aGA.do(mRequest, bad, "Idempotency-Key", key3); r.code() != "NOT_FOUND" {
		t.Fatalf("repeat of a refused attempt: %+v", r.Errors)
	}
	// A key of bytes the log could not give back as they came is refused,
	// and nothing is written.
	before = ts.eventCount(w.auditor)
	if r := w.aSales.do(mOnboard, onboardVars(uuid.New()), "Idempotency-Key", "caf\xe9"); r.code() != "BAD_USER_INPUT" {
		t.Fatalf("a key that is not printable ASCII: %+v", r.Errors)
	}
	if n := ts.eventCount(w.auditor) - before; n != 0 {
		t.Fatalf("%d events written under a refused key", n)
	}
}

func testEventsAndAsOf(t *testing.T, ts *testServer) {
	w := newWorld(t, ts)
	// The subscription below must be recorded at a later millisecond than
	// the customer, so that "just before it" still has the customer.
	ts.advance(time.Second)
	corr := uuid.New()
	r := w.cGA.do(mRecord, map[string]any{"in": map[string]any{"customerId": w.c.String(), "offer": "E5", "billingModel": "USAGE_BASED", "channel": "OPEN", "quantity": 2}}, "X-Correlation-ID", corr.String())
	if len(r.Errors) > 0 {
		t.Fatal(r.Errors)
	}
	if got := r.header.Get("X-Correlation-ID"); got != corr.String() {
		t.Fatalf("correlation id echoed %q, want %s", got, corr)
	}
	q := `query($f: EventFilter, $first: Int, $after: String) { events(filter: $f, first: $first, after: $after) { totalCount
		edges { cursor node { id stream revision position type schemaVersion recordedAt actor { userId tenantId role } correlationId causationId data } } pageInfo { hasNextPage endCursor } } }`
	type evs struct {
		Events struct {
			TotalCount int
			Edges      []struct {
				Node struct {
					ID, Stream, Position, Type, RecordedAt, CorrelationID string
					Revision, SchemaVersion                               int
					Actor                                                 struct{ UserID, TenantID, Role string }
					Data                                                  map[string]any
				}
			}
			PageInfo struct {
				HasNextPage bool
				EndCursor   *string
			}
		}
	}
	var e evs
	w.auditor.ok(&e, q, map[string]any{"f": map[string]any{"correlationId": corr.String()}})
	if e.Events.TotalCount != 1 || len(e.Events.Edges) != 1 {
		t.Fatalf("events by correlation: %+v", e)
	}
	n := e.Events.Edges[0].Node
	if n.Type != "ExternalSubscriptionRecorded" || n.Actor.TenantID != w.c.String() || n.Actor.Role != "GLOBAL_ADMIN" || n.SchemaVersion != 1 || n.Data["offer"] != "E5" || !strings.HasPrefix(n.Stream, "subscription-") {
		t.Fatalf("event %+v", n)
	}
	// Filters: stream, types, actor, time range (from inclusive, to exclusive).
	var byStream evs
	w.auditor.ok(&byStream, q, map[string]any{"f": map[string]any{"stream": "customer-" + w.c.String()}})
	if byStream.Events.TotalCount != 1 || byStream.Events.Edges[0].Node.Type != "CustomerOnboarded" {
		t.Fatalf("by stream: %+v", byStream)
	}
	at, _ := time.Parse(time.RFC3339, n.RecordedAt)
	var inRange, outRange evs
	w.auditor.ok(&inRange, q, map[string]any{"f": map[string]any{"correlationId": corr.String(), "from": at.Format(time.RFC3339Nano), "to": at.Add(time.Millisecond).Format(time.RFC3339Nano)}})
	w.auditor.ok(&outRange, q, map[string]any{"f": map[string]any{"correlationId": corr.String(), "to": at.Format(time.RFC3339Nano)}})
	if inRange.Events.TotalCount != 1 || outRange.Events.TotalCount != 0 {
		t.Fatalf("time range: in %d, out %d", inRange.Events.TotalCount, outRange.Events.TotalCount)
	}
	var byType evs
	w.auditor.ok(&byType, q, map[string]any{"f": map[string]any{"types": []string{"PartnerEnrolled", "CustomerOnboarded"}, "actorUserId": w.gGA.id}, "first": 5})
	if byType.Events.TotalCount != 1 || byType.Events.Edges[0].Node.Stream != "partner-"+w.g.String() || byType.Events.Edges[0].Node.Actor.UserID != w.gGA.id {
		t.Fatalf("by type and actor: %+v", byType)
	}
	// A partner sees only the streams it may see: G sees none of C's.
	var g evs
	w.gGA.ok(&g, q, map[string]any{"f": map[string]any{"correlationId": corr.String()}})
	if g.Events.TotalCount != 0 {
		t.Fatalf("G sees C's events: %+v", g)
	}
	// customerAsOf: before the subscription, the customer had none.
	aq := `query($id: ID!, $at: Time!) { customerAsOf(id: $id, at: $at) { id name subscriptions { id } } }`
	var before, after struct {
		CustomerAsOf *struct {
			ID            string
			Subscriptions []struct{ ID string }
		}
	}
	w.aGA.ok(&before, aq, map[string]any{"id": w.c.String(), "at": at.Add(-time.Millisecond).Format(time.RFC3339Nano)})
	w.aGA.ok(&after, aq, map[string]any{"id": w.c.String(), "at": at.Format(time.RFC3339Nano)})
	if before.CustomerAsOf == nil || len(before.CustomerAsOf.Subscriptions) != 0 || after.CustomerAsOf == nil || len(after.CustomerAsOf.Subscriptions) != 1 {
		t.Fatalf("as of: before %+v, after %+v", before.CustomerAsOf, after.CustomerAsOf)
	}
	w.gGA.refused("NOT_FOUND", aq, map[string]any{"id": w.c.String(), "at": at.Format(time.RFC3339Nano)})
	w.auditor.refused("BAD_USER_INPUT", q, map[string]any{"after": "garbage"})
	w.auditor.refused("BAD_USER_INPUT", q, map[string]any{"first": 1000})
}

// wsClient is a graphql-transport-ws client.
type wsClient struct {
	t    *testing.T
	conn *websocket.Conn
}

func dialWS(t *testing.T, ts *testServer, token string) (*wsClient, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, strings.Replace(ts.url, "http", "ws", 1)+"/graphql", &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c := &wsClient{t: t, conn: conn}
	payload := map[string]any{}
	if token != "" {
		payload["Authorization"] = "Bearer " + token
	}
	c.send(map[string]any{"type": "connection_init", "payload": payload})
	msg, err := c.read(10 * time.Second)
	if err != nil {
		return nil, err
	}
	if msg["type"] != "connection_ack" {
		t.Fatalf("want connection_ack, got %v", msg)
	}
	t.Cleanup(func() { conn.Close(websocket.StatusNormalClosure, "") })
	return c, nil
}

func (c *wsClient) send(v any) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := wsjson.Write(ctx, c.conn, v); err != nil {
		c.t.Fatalf("ws write: %v", err)
	}
}

func (c *wsClient) read(timeout time.Duration) (map[string]any, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		var m map[string]any
		if err := wsjson.Read(ctx, c.conn, &m); err != nil {
			return nil, err
		}
		if m["type"] == "ping" || m["type"] == "pong" || m["type"] == "ka" {
			continue
		}
		return m, nil
	}
}

func testLiveFeed(t *testing.T, ts *testServer) {
	w := newWorld(t, ts)
	// No token: the server closes with 4403.
	if _, err := dialWS(t, ts, ""); websocket.CloseStatus(err) != 4403 {
		t.Fatalf("without a token: %v (close status %d), want 4403", err, websocket.CloseStatus(err))
	}
	bad := tamper(w.aGA.token)
	if _, err := dialWS(t, ts, bad); websocket.CloseStatus(err) != 4403 {
		t.Fatalf("bad token: %v, want 4403", err)
	}
	// C's Global admin follows its own streams.
	c, err := dialWS(t, ts, w.cGA.token)
	if err != nil {
		t.Fatal(err)
	}
	// The feed resumes after the last event C sees now: a subscription
	// without `after` starts wherever the log is when the server gets to
	// it, which on a busy machine may be after the writes below.
	var seen struct {
		Events struct {
			Edges []struct{ Node struct{ Position string } }
		}
	}
	w.cGA.ok(&seen, `{ events(first: 100) { edges { node { position } } } }`, nil)
	var head any
	if n := len(seen.Events.Edges); n > 0 {
		head = seen.Events.Edges[n-1].Node.Position
	}
	c.send(map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{
		"query":     `subscription($after: String) { eventAppended(after: $after) { type stream position actor { role } } }`,
		"variables": map[string]any{"after": head}}})
	// G's events are not C's: they must not arrive; C's own must.
	w.onboardedGovCustomer(t)
	s := w.record(w.c, "USAGE_BASED", "OPEN", nil, nil)
	msg, err := c.read(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(msg["payload"])
	if msg["type"] != "next" || !strings.Contains(string(data), "subscription-"+s.ID) || !strings.Contains(string(data), "ExternalSubscriptionRecorded") {
		t.Fatalf("live event: %v", msg)
	}
	// With `after`, the feed first replays what followed that position.
	var e struct {
		Events struct {
			Edges []struct{ Node struct{ Position string } }
		}
	}
	w.cGA.ok(&e, `query($s: String) { events(filter: {stream: $s}) { edges { node { position } } } }`, map[string]any{"s": "customer-" + w.c.String()})
	c.send(map[string]any{"id": "2", "type": "subscribe", "payload": map[string]any{
		"query":     `subscription($after: String) { eventAppended(after: $after, filter: {types: ["ExternalSubscriptionRecorded"]}) { type stream } }`,
		"variables": map[string]any{"after": e.Events.Edges[0].Node.Position}}})
	got := 0
	for got < 1 {
		msg, err := c.read(10 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if msg["id"] == "2" && msg["type"] == "next" {
			data, _ := json.Marshal(msg["payload"])
			if !strings.Contains(string(data), s.ID) {
				t.Fatalf("replayed %s", data)
			}
			got++
		}
	}
}

func testExpiryAndTermEnd(t *testing.T, ts *testServer) {
	w := newWorld(t, ts)
	license := w.record(w.c, "LICENSE_BASED", "CSP_PARTNER", &w.b, ptr(time.Now().Add(24*time.Hour)))
	w.relate(w.aGA, w.c, true)
	gov := w.onboardedGovCustomer(t)
	pending := w.relate(w.gGA, gov, false)
	w.aGA.refused("TERM_NOT_ENDED", mSwitch, map[string]any{"id": license.ID})
	ts.advance(91 * 24 * time.Hour)
	// The term has ended: the switch is allowed.
	var d struct{ SwitchSubscription subOut }
	w.aGA.ok(&d, mSwitch, map[string]any{"id": license.ID})
	if *d.SwitchSubscription.SellerPartnerID != w.a.String() {
		t.Fatalf("switched %+v", d)
	}
	// The request past 90 days reads EXPIRED at once, and cannot be accepted.
	q := `query($id: ID!) { relationship(id: $id) { status respondedAt } }`
	var r struct{ Relationship relOut }
	w.gGA.ok(&r, q, map[string]any{"id": pending})
	if r.Relationship.Status != "EXPIRED" || r.Relationship.RespondedAt != nil {
		t.Fatalf("expired request reads %+v", r.Relationship)
	}
	ts.user(gov, domain.RoleGlobalAdmin).refused("INVALID_STATE", mAccept, map[string]any{"id": pending})
	// The sweep records RelationshipExpired with the SYSTEM actor.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var e struct{ Events struct{ TotalCount int } }
		w.auditor.ok(&e, `query($s: String) { events(filter: {stream: $s, types: ["RelationshipExpired"]}) { totalCount edges { node { actor { role } } } } }`, map[string]any{"s": "relationship-" + pending})
		if e.Events.TotalCount == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("RelationshipExpired was not recorded by the sweep")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// onboardedGovCustomer onboards a government-cloud customer by partner G.
func (w *world) onboardedGovCustomer(t *testing.T) uuid.UUID {
	t.Helper()
	id := uuid.New()
	w.gGA.ok(nil, mOnboard, map[string]any{"in": map[string]any{"id": id.String(), "name": "Agency", "domain": "agency.example.gov", "cloud": "US_GOVERNMENT"}})
	return id
}
