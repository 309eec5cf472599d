package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/eventstore"
	"github.com/partnercenter/multichannel/eventstore/sqlite"
	"github.com/partnercenter/multichannel/graph"
	"github.com/partnercenter/multichannel/internal/audit"
	"github.com/partnercenter/multichannel/internal/auth"
	"github.com/partnercenter/multichannel/projections"
)

// auditAPI serves the GraphQL API over real HTTP on a generated log.
type auditAPI struct {
	t      *testing.T
	url    string
	secret []byte
	store  *sqlite.Store
	model  *projections.Model
}

func newAuditAPI(t *testing.T, events int64) *auditAPI {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := audit.Generate(context.Background(), st, events, audit.GenerateOptions{Seed: 3}); err != nil {
		t.Fatal(err)
	}
	m := projections.New(nil)
	m.ReadLogFrom(st)
	if _, err := audit.Replay(context.Background(), st, m, audit.ReplayOptions{}); err != nil {
		t.Fatal(err)
	}
	secret := []byte("audit-test-secret-0123456789abcdef")
	srv := graph.NewServer(&graph.Resolver{Model: m, Store: st}, graph.Options{})
	ts := httptest.NewServer(auth.Middleware(auth.NewHS256Verifier(secret))(srv))
	t.Cleanup(ts.Close)
	return &auditAPI{t: t, url: ts.URL, secret: secret, store: st, model: m}
}

type gqlResponse struct {
	Data   json.RawMessage `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
}

func (a *auditAPI) do(actor domain.Actor, query string, vars map[string]any) gqlResponse {
	a.t.Helper()
	tok, err := auth.MintHS256(a.secret, actor, time.Minute, time.Now())
	if err != nil {
		a.t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, a.url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out gqlResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		a.t.Fatal(err)
	}
	return out
}

func code(r gqlResponse) string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

var theAuditor = domain.Actor{UserID: "auditor", TenantID: uuid.MustParse("00000000-0000-7000-8000-00000000a0d1"), Role: domain.RoleAuditor}

func TestVerifyIntegrityQuery(t *testing.T) {
	api := newAuditAPI(t, 600)
	const q = `query($n: Int, $d: String) { verifyIntegrity(upToCount: $n, expectedDigest: $d) {
		eventCount streamCount intactCount brokenCount broken { stream } digest position extendsExpected } }`
	r := api.do(theAuditor, q, nil)
	var got struct {
		VerifyIntegrity struct {
			EventCount, StreamCount, IntactCount, BrokenCount int
			Digest                                            string
			Position                                          *string
			ExtendsExpected                                   *bool
		}
	}
	if err := json.Unmarshal(r.Data, &got); err != nil || len(r.Errors) > 0 {
		t.Fatalf("%s %+v %v", r.Data, r.Errors, err)
	}
	v := got.VerifyIntegrity
	if v.EventCount != 600 || v.BrokenCount != 0 || v.IntactCount != v.StreamCount || !strings.HasPrefix(v.Digest, "600:") ||
		v.Position == nil || *v.Position != api.model.Position().String() || v.ExtendsExpected != nil {
		t.Fatalf("report %+v", v)
	}
	// A digest of the first 100 events, checked against the whole log.
	r = api.do(theAuditor, q, map[string]any{"n": 100})
	json.Unmarshal(r.Data, &got)
	d100 := got.VerifyIntegrity.Digest
	r = api.do(theAuditor, q, map[string]any{"d": d100})
	json.Unmarshal(r.Data, &got)
	if got.VerifyIntegrity.ExtendsExpected == nil || !*got.VerifyIntegrity.ExtendsExpected || got.VerifyIntegrity.EventCount != 600 {
		t.Fatalf("extends %s: %+v", d100, got.VerifyIntegrity)
	}
	for _, c := range []struct {
		actor domain.Actor
		vars  map[string]any
		code  string
	}{
		{domain.Actor{UserID: "u", TenantID: uuid.Must(uuid.NewV7()), Role: domain.RoleGlobalAdmin}, nil, "FORBIDDEN"},
		{domain.Actor{UserID: "u", TenantID: uuid.Must(uuid.NewV7()), Role: domain.RoleBillingAdmin}, nil, "FORBIDDEN"},
		{theAuditor, map[string]any{"n": 0}, "BAD_USER_INPUT"},
		{theAuditor, map[string]any{"d": "deadbeef"}, "BAD_USER_INPUT"},
	} {
		if r := api.do(c.actor, q, c.vars); code(r) != c.code {
			t.Errorf("%s %v: %s, want %s", c.actor.Role, c.vars, code(r), c.code)
		}
	}
	if r := api.do(domain.Actor{UserID: "u", TenantID: uuid.Must(uuid.NewV7()), Role: domain.RoleUserAdmin}, `{ readModelDigest { digest } }`, nil); code(r) != "FORBIDDEN" {
		t.Errorf("readModelDigest by a user admin: %s", code(r))
	}
	r = api.do(theAuditor, `{ readModelDigest { position digest eventCount } }`, nil)
	var rm struct {
		ReadModelDigest struct {
			Position, Digest string
			EventCount       int
		}
	}
	json.Unmarshal(r.Data, &rm)
	pos, digest := api.model.Digest()
	if rm.ReadModelDigest.Digest != digest || rm.ReadModelDigest.Position != pos.String() || rm.ReadModelDigest.EventCount != 600 {
		t.Fatalf("readModelDigest %+v", rm)
	}
}

func TestHistoryCausationAndAsOfQueries(t *testing.T) {
	api := newAuditAPI(t, 800)
	var sub projections.SubscriptionSnapshot
	for _, s := range api.model.Snapshot().Subscriptions {
		if s.Status == domain.StatusCancelled {
			sub = s
			break
		}
	}
	if sub.ID == uuid.Nil {
		t.Fatal("the generated log has no cancelled subscription")
	}
	const hq = `query($id: ID!) { subscription(id: $id) { history(newestFirst: true, first: 2) {
		totalCount edges { node { revision type hash correlationId position } } } } }`
	type node struct {
		Revision       int
		Type, Position string
		Hash           *string
		CorrelationID  string
	}
	var h struct {
		Subscription struct {
			History struct {
				TotalCount int
				Edges      []struct{ Node node }
			}
		}
	}
	r := api.do(theAuditor, hq, map[string]any{"id": sub.ID.String()})
	if err := json.Unmarshal(r.Data, &h); err != nil || len(r.Errors) > 0 {
		t.Fatalf("%s %+v", r.Data, r.Errors)
	}
	hist := h.Subscription.History
	if hist.TotalCount < 2 || len(hist.Edges) != 2 || hist.Edges[0].Node.Revision != hist.TotalCount-1 ||
		hist.Edges[1].Node.Revision != hist.TotalCount-2 {
		t.Fatalf("history %+v", hist)
	}
	last := hist.Edges[0].Node
	stored, err := api.store.ReadStream(context.Background(), domain.SubscriptionStream(sub.ID), eventstore.Backwards, eventstore.StreamEnd, 1)
	if err != nil {
		t.Fatal(err)
	}
	md, _ := domain.DecodeMetadata(stored[0].Metadata)
	if last.Hash == nil || *last.Hash != md.Hash || len(md.Hash) != 64 {
		t.Fatalf("hash %v, stored %q", last.Hash, md.Hash)
	}

	// causation: what the last event's request did.
	r = api.do(theAuditor, `query($c: ID!) { causation(correlationId: $c) { type stream revision } }`, map[string]any{"c": last.CorrelationID})
	var c struct {
		Causation []struct{ Type, Stream string }
	}
	if json.Unmarshal(r.Data, &c); len(c.Causation) == 0 || c.Causation[0].Type != last.Type {
		t.Fatalf("causation %s %+v", r.Data, r.Errors)
	}
	if r := api.do(theAuditor, `{ causation(correlationId: "nope") { type } }`, nil); code(r) != "BAD_USER_INPUT" {
		t.Errorf("bad correlation id: %s", code(r))
	}

	// As of the event before the last, and as of the last.
	const aq = `query($id: ID!, $p: String, $at: Time) { subscriptionAsOf(id: $id, asOfPosition: $p, at: $at) { id status } }`
	var a struct{ SubscriptionAsOf *struct{ ID, Status string } }
	r = api.do(theAuditor, aq, map[string]any{"id": sub.ID.String(), "p": hist.Edges[1].Node.Position})
	if json.Unmarshal(r.Data, &a); a.SubscriptionAsOf == nil || a.SubscriptionAsOf.Status != "ACTIVE" {
		t.Fatalf("as of the event before: %s %+v", r.Data, r.Errors)
	}
	r = api.do(theAuditor, aq, map[string]any{"id": sub.ID.String(), "p": last.Position})
	if json.Unmarshal(r.Data, &a); a.SubscriptionAsOf == nil || a.SubscriptionAsOf.Status != "CANCELLED" {
		t.Fatalf("as of the last event: %s %+v", r.Data, r.Errors)
	}
	for _, vars := range []map[string]any{
		{"id": sub.ID.String()},
		{"id": sub.ID.String(), "p": last.Position, "at": "2030-01-01T00:00:00Z"},
		{"id": sub.ID.String(), "p": "not-a-position"},
	} {
		if r := api.do(theAuditor, aq, vars); code(r) != "BAD_USER_INPUT" {
			t.Errorf("%v: %s", vars, code(r))
		}
	}
	// Someone unrelated sees neither the subscription nor its history.
	stranger := domain.Actor{UserID: "s", TenantID: uuid.Must(uuid.NewV7()), Role: domain.RoleGlobalAdmin}
	if r := api.do(stranger, aq, map[string]any{"id": sub.ID.String(), "p": last.Position}); code(r) != "NOT_FOUND" {
		t.Errorf("stranger as-of: %s", code(r))
	}

	r = api.do(theAuditor, `query($id: ID!, $p: String!) { customerAsOfPosition(id: $id, position: $p) { id subscriptions { id } history { totalCount } } }`,
		map[string]any{"id": sub.CustomerID.String(), "p": last.Position})
	var cu struct {
		CustomerAsOfPosition *struct {
			ID            string
			Subscriptions []struct{ ID string }
			History       struct{ TotalCount int }
		}
	}
	if json.Unmarshal(r.Data, &cu); cu.CustomerAsOfPosition == nil || cu.CustomerAsOfPosition.ID != sub.CustomerID.String() ||
		len(cu.CustomerAsOfPosition.Subscriptions) == 0 || cu.CustomerAsOfPosition.History.TotalCount < 1 {
		t.Fatalf("customerAsOfPosition %s %+v", r.Data, r.Errors)
	}
}
