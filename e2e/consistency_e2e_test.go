package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/eventstore/esdb/esdbtest"
	"github.com/partnercenter/multichannel/graph"
	"github.com/partnercenter/multichannel/internal/app"
	"github.com/partnercenter/multichannel/internal/faultstore"
)

// tokenResponse is an answer with its extensions and headers.
type tokenResponse struct {
	Data       json.RawMessage `json:"data"`
	Errors     []gqlError      `json:"errors"`
	Extensions map[string]any  `json:"extensions"`
	header     http.Header
}

func (r tokenResponse) code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

// post sends one GraphQL request with the given headers, over loopback.
func (u *user) post(t *testing.T, query string, vars map[string]any, headers ...string) tokenResponse {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, u.ts.url+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+u.token)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST /graphql: %v", err)
	}
	defer resp.Body.Close()
	var out tokenResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("decode (HTTP %d): %v", resp.StatusCode, err)
	}
	out.header = resp.Header
	return out
}

const qPartner = `query($id: ID!) { partner(id: $id) { id } }`

// Two servers on one EventStoreDB: a mutation's answer on A carries the
// consistency token in extensions and the header; B, whose read models
// lag (its subscription stalled), answers a query carrying the token
// UNAVAILABLE at the request's deadline instead of a stale NOT_FOUND, and
// once its read models catch up, answers it with the write. A malformed
// token is BAD_USER_INPUT.
func TestConsistencyTokenAcrossServers(t *testing.T) {
	t.Parallel()
	url := esdbtest.Start(t)
	a := startServer(t, withEventStore(url))
	var fs *faultstore.Store
	b := startServer(t, withEventStore(url), withFaults(&fs), withOps(func(o *app.OpsConfig) { o.RequestTimeout = 500 * time.Millisecond }))

	partner := uuid.New()
	enroll := a.user(partner, domain.RoleGlobalAdmin).post(t, mEnroll, map[string]any{"in": map[string]any{"name": "Contoso", "cloud": "PUBLIC"}})
	if len(enroll.Errors) > 0 {
		t.Fatalf("enroll: %+v", enroll.Errors)
	}
	tok, _ := enroll.Extensions["consistencyToken"].(string)
	if tok == "" || enroll.header.Get("X-Consistency-Token") != tok {
		t.Fatalf("token: extensions %v, header %q", enroll.Extensions, enroll.header.Get("X-Consistency-Token"))
	}

	reader := b.user(uuid.New(), domain.RoleGlobalAdmin)
	fs.Stall(faultstore.Subscribe)
	// A token from a later write than B has applied: B's read models are
	// held, so the wait ends at the deadline with UNAVAILABLE.
	second := a.user(uuid.New(), domain.RoleGlobalAdmin).post(t, mEnroll, map[string]any{"in": map[string]any{"name": "Northwind", "cloud": "PUBLIC"}})
	later, _ := second.Extensions["consistencyToken"].(string)
	if later == "" || later == tok {
		t.Fatalf("second token %q (first %q)", later, tok)
	}
	if r := reader.post(t, qPartner, map[string]any{"id": partner.String()}, "X-Consistency-Token", later); r.code() != "UNAVAILABLE" {
		t.Fatalf("with a token B has not reached: %q %+v %s", r.code(), r.Errors, r.Data)
	}
	fs.Heal()
	r := reader.post(t, qPartner, map[string]any{"id": partner.String()}, "X-Consistency-Token", later)
	if len(r.Errors) > 0 || !bytes.Contains(r.Data, []byte(partner.String())) {
		t.Fatalf("after the catch-up: %s %+v", r.Data, r.Errors)
	}
	for _, bad := range []string{"nonsense", "ct1.", "ct1.!!", "ct1.MDEyLTEy"} {
		if r := reader.post(t, qPartner, map[string]any{"id": partner.String()}, "X-Consistency-Token", bad); r.code() != "BAD_USER_INPUT" {
			t.Errorf("token %q: %q %+v", bad, r.code(), r.Errors)
		}
	}
	// A query without a token never waits and carries no token.
	if r := reader.post(t, qPartner, map[string]any{"id": partner.String()}); r.code() != "" || r.header.Get("X-Consistency-Token") != "" {
		t.Fatalf("without a token: %q, header %q", r.code(), r.header.Get("X-Consistency-Token"))
	}
}

// A repeat of a keyed mutation answers the first's token.
func TestConsistencyTokenOfARepeat(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	u := ts.user(uuid.New(), domain.RoleGlobalAdmin)
	vars := map[string]any{"in": map[string]any{"name": "Contoso", "cloud": "PUBLIC"}}
	first := u.post(t, mEnroll, vars, "Idempotency-Key", "k-1")
	again := u.post(t, mEnroll, vars, "Idempotency-Key", "k-1")
	if first.code() != "" || again.code() != "" || first.Extensions["consistencyToken"] == nil ||
		first.Extensions["consistencyToken"] != again.Extensions["consistencyToken"] {
		t.Fatalf("first %v %+v, repeat %v %+v", first.Extensions, first.Errors, again.Extensions, again.Errors)
	}
}

// A document with two mutation fields answers the token of the second.
func TestConsistencyTokenOfTwoMutations(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	partner := uuid.New()
	u := ts.user(partner, domain.RoleGlobalAdmin)
	if r := u.post(t, mEnroll, map[string]any{"in": map[string]any{"name": "Contoso", "cloud": "PUBLIC"}}); r.code() != "" {
		t.Fatalf("enroll: %+v", r.Errors)
	}
	one := u.post(t, `mutation { a: onboardCustomer(input: {name: "D", domain: "d.example.com", cloud: PUBLIC}) { id } }`, nil)
	two := u.post(t, `mutation { a: onboardCustomer(input: {name: "E", domain: "e.example.com", cloud: PUBLIC}) { id } b: onboardCustomer(input: {name: "F", domain: "f.example.com", cloud: PUBLIC}) { id } }`, nil)
	t1, _ := one.Extensions["consistencyToken"].(string)
	t2, _ := two.Extensions["consistencyToken"].(string)
	p1, err1 := graph.ParseConsistencyToken(t1)
	p2, err2 := graph.ParseConsistencyToken(t2)
	if one.code() != "" || two.code() != "" || err1 != nil || err2 != nil || two.header.Get("X-Consistency-Token") != t2 || !p1.Less(p2) {
		t.Fatalf("tokens %q %q (%v %v), errors %+v %+v", t1, t2, err1, err2, one.Errors, two.Errors)
	}
}
