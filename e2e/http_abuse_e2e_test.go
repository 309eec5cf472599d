package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
)

// The HTTP side of hostile traffic, bounded in count and time: oversized
// and pathological documents, slow and idle connections, floods of
// connections and of requests. Each asserts what the server does (the
// refusal's code, the connection closed, nothing written, goroutines back
// to their baseline), never how long it took; the timeouts are set short
// so that the suite runs in seconds.

// hostileDocument is one of the worst documents of a kind: the same kinds
// as graph's BenchmarkHostileDocuments, up to the body limit and just
// under the document bounds.
type hostileDocument struct {
	name, doc string
	// code is the refusal's extensions.code, with and without a token
	// (the bounds on the text and validation run before authentication);
	// anonymous, when set, is the code without one for a document that
	// passes them, and code "" says it is answered with a token.
	code, anonymous string
}

func hostileDocuments() []hostileDocument {
	const mib = 1 << 20
	fill := func(prefix, unit, suffix string, size int) string {
		n := (size - len(prefix) - len(suffix)) / len(unit)
		return prefix + strings.Repeat(unit, n) + suffix
	}
	numbered := func(prefix, sep string, n int) string {
		var b strings.Builder
		for i := range n {
			b.WriteString(prefix + strconv.Itoa(i) + sep)
		}
		return b.String()
	}
	nested := "id "
	for range 3 {
		nested = strings.Repeat(`customer(id: "x") { `+nested+"} ", 10)
	}
	var spreads strings.Builder
	spreads.WriteString("{ " + numbered("...F", " ", 199) + "}")
	for i := range 199 {
		fmt.Fprintf(&spreads, " fragment F%d on Query { __typename }", i)
	}
	// A mutation's field first, then the hostile part: nothing may be
	// written.
	const onboard = `mutation($in: OnboardCustomerInput!) { onboardCustomer(input: $in) { id } `
	return []hostileDocument{
		{"fields-1MiB", fill("{ ", "__typename ", "}", mib-300), "COMPLEXITY_LIMIT_EXCEEDED", ""},
		{"aliases-1MiB", fill("{ ", "a: __typename ", "}", mib-300), "COMPLEXITY_LIMIT_EXCEEDED", ""},
		{"nesting-1MiB", fill("", "{ a ", "", mib/2-300) + strings.Repeat("}", mib/8), "COMPLEXITY_LIMIT_EXCEEDED", ""},
		{"fragments-1MiB", fill("{ ...F } ", "fragment F on Query { __typename } ", "", mib-300), "COMPLEXITY_LIMIT_EXCEEDED", ""},
		{"string-1MiB", fill(`{ __type(name: "`, "x", `") { name } }`, mib-300), "COMPLEXITY_LIMIT_EXCEEDED", ""},
		{"directives-1MiB", fill("{ __typename ", "@include(if: true) ", "}", mib-300), "COMPLEXITY_LIMIT_EXCEEDED", ""},
		{"variables-1MiB", fill("query(", "$v: Int ", ") { __typename }", mib-300), "COMPLEXITY_LIMIT_EXCEEDED", ""},
		{"mutation-fields-1MiB", fill(onboard, "__typename ", "}", mib-300), "COMPLEXITY_LIMIT_EXCEEDED", ""},
		{"fields-201", "{ " + numbered("f", " ", 201) + "}", "COMPLEXITY_LIMIT_EXCEEDED", ""},
		{"fields-200", "{ " + numbered("f", " ", 200) + "}", "GRAPHQL_VALIDATION_FAILED", ""},
		{"mutation-fields-199", onboard + numbered("f", " ", 199) + "}", "GRAPHQL_VALIDATION_FAILED", ""},
		{"same-field-11", "{ " + strings.Repeat("__typename ", 11) + "}", "COMPLEXITY_LIMIT_EXCEEDED", ""},
		{"repeats-at-every-level", "{ " + nested + "}", "COMPLEXITY_LIMIT_EXCEEDED", ""},
		{"aliases-200", "{ " + numbered("a", ": __typename ", 200) + "}", "COMPLEXITY_LIMIT_EXCEEDED", ""},
		{"nesting-under-tokens", strings.Repeat("{ a ", 3_300) + strings.Repeat("}", 3_300), "GRAPHQL_PARSE_FAILED", ""},
		{"variables-over-tokens", "query(" + strings.Repeat("$v: Int ", 3_000) + ") { __typename }", "COMPLEXITY_LIMIT_EXCEEDED", ""},
		{"spread-pairs-under-tokens", spreads.String(), "", "UNAUTHENTICATED"},
		{"directives-over-tokens", "{ __typename " + strings.Repeat("@include(if: true) ", 1_600) + "}", "COMPLEXITY_LIMIT_EXCEEDED", ""},
		{"variables-under-tokens", "query(" + strings.Repeat("$v: Int ", 2_400) + ") { __typename }", "GRAPHQL_VALIDATION_FAILED", ""},
		{"unterminated-string", `{ __type(name: "` + strings.Repeat("x", 60_000), "GRAPHQL_PARSE_FAILED", ""},
	}
}

// abuseClient is a client of its own, so that the test can drop its
// connections and count the server's goroutines without them.
func abuseClient(t *testing.T) *http.Client {
	tr := &http.Transport{MaxIdleConnsPerHost: 100}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// post sends one GraphQL request with c and decodes the answer.
func (u *user) postWith(c *http.Client, query string, vars map[string]any) gqlResponse {
	u.ts.t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, u.ts.url+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if u.token != "" {
		req.Header.Set("Authorization", "Bearer "+u.token)
	}
	resp, err := c.Do(req)
	if err != nil {
		u.ts.t.Fatalf("POST /graphql: %v", err)
	}
	defer resp.Body.Close()
	var out gqlResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		u.ts.t.Fatalf("decode response (HTTP %d): %v", resp.StatusCode, err)
	}
	out.status, out.header = resp.StatusCode, resp.Header
	return out
}

func TestAbuseHTTPHostileDocuments(t *testing.T) {
	ts := startServer(t)
	admin := ts.user(uuid.New(), domain.RoleGlobalAdmin)
	auditor := ts.user(uuid.New(), domain.RoleAuditor)
	anonymous := ts.anonymous()
	c := abuseClient(t)
	vars := map[string]any{"in": map[string]any{"id": uuid.NewString(), "name": "Hostile", "domain": "hostile.example.com", "cloud": "PUBLIC", "isCspPartner": false}}
	before := ts.eventCount(auditor)
	base := runtime.NumGoroutine()
	for _, d := range hostileDocuments() {
		for _, u := range []*user{admin, anonymous} {
			r := u.postWith(c, d.doc, vars)
			want := d.code
			if u.token == "" && d.anonymous != "" {
				want = d.anonymous
			}
			if got := r.code(); got != want {
				t.Errorf("%s (token: %v): HTTP %d, code %q, want %q (errors %.300v)", d.name, u.token != "", r.status, got, want, r.Errors)
			}
			if want != "" && len(r.Data) > 0 && string(r.Data) != "null" {
				t.Errorf("%s (token: %v): data %.200s, want none", d.name, u.token != "", r.Data)
			}
		}
	}
	c.CloseIdleConnections()
	goroutinesBackTo(t, base)
	if after := ts.eventCount(auditor); after != before {
		t.Fatalf("events %d after the hostile documents, %d before", after, before)
	}
}
