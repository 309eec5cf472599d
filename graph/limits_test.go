package graph_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/graph"
	"github.com/partnercenter/multichannel/internal/auth"
)

func TestMeasureDocument(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name           string
		doc            string
		depth, aliases int
	}{
		{"flat", `{ a b c }`, 1, 0},
		{"contract example", `{ a { b } }`, 2, 0},
		{"deepest branch counts", `{ a { b } c { d { e } } }`, 3, 0},
		{"inline fragments add no level", `{ a { ... on T { b { c } } } }`, 3, 0},
		{"fragments are followed", `{ a { ...F } } fragment F on T { b { c } }`, 3, 0},
		{"introspection excluded", `{ __schema { types { fields { type { ofType { ofType { name } } } } } } a }`, 1, 0},
		{"__type excluded", `{ __type(name: "X") { fields { name } } }`, 0, 0},
		{"aliases", `{ x: a y: a { z: b } a }`, 2, 3},
		{"alias equal to the name is no alias", `{ a: a }`, 1, 0},
		{"aliases in a fragment count at each spread", `{ ...F ...F q { ...F } } fragment F on T { x: a y: a }`, 2, 6},
		{"nested fragments", `{ ...A } fragment A on T { a { ...B } } fragment B on T { b { x: c } }`, 3, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc, err := parser.ParseQuery(sourceOf(c.doc))
			if err != nil {
				t.Fatal(err)
			}
			d, a := graph.MeasureDocument(doc, doc.Operations[0])
			if d != c.depth || a != c.aliases {
				t.Errorf("depth %d aliases %d, want %d and %d", d, a, c.depth, c.aliases)
			}
		})
	}
}

// A fragment cycle (which validation refuses) must not loop, and fragments
// that double at every level must not take exponential time or overflow.
func TestMeasureDocumentCyclesAndBombs(t *testing.T) {
	t.Parallel()
	doc, err := parser.ParseQuery(sourceOf(`{ ...A } fragment A on T { a { ...B } } fragment B on T { b { ...A } }`))
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := graph.MeasureDocument(doc, doc.Operations[0]); d < 2 {
		t.Errorf("cycle measured depth %d", d)
	}

	var b strings.Builder
	b.WriteString("{ ...F0 }\n")
	const n = 64
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "fragment F%d on T { x: a ...F%d ...F%d }\n", i, i+1, i+1)
	}
	fmt.Fprintf(&b, "fragment F%d on T { y: a }\n", n)
	doc, err = parser.ParseQuery(sourceOf(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if _, a := graph.MeasureDocument(doc, doc.Operations[0]); a < 1<<30 {
		t.Errorf("2^%d aliases measured as %d", n, a)
	}
}

// server is the GraphQL handler behind the auth middleware on a loopback
// port, with a resolver that has no read model: any resolver that reaches
// the model panics, which shows whether a refused document ran.
func server(t *testing.T, opts graph.Options) (*httptest.Server, string) {
	t.Helper()
	secret := []byte("limits-test-secret-of-thirty-two-bytes")
	v := auth.NewHS256Verifier(secret)
	opts.Verifier = v
	srv := graph.NewServer(&graph.Resolver{}, opts)
	ts := httptest.NewServer(auth.Middleware(v)(srv))
	t.Cleanup(ts.Close)
	a := domain.Actor{UserID: "u1", TenantID: uuid.New(), Role: domain.RoleAdminAgent}
	tok, err := auth.MintHS256(secret, a, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return ts, tok
}

type response struct {
	Data   json.RawMessage `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
	status int
}

func (r response) code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

func post(t *testing.T, ts *httptest.Server, token string, body map[string]any) response {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, ts.URL, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return send(t, req)
}

func get(t *testing.T, ts *httptest.Server, params url.Values) response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, ts.URL+"?"+params.Encode(), nil)
	return send(t, req)
}

func send(t *testing.T, req *http.Request) response {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out response
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("decode (HTTP %d): %v", resp.StatusCode, err)
	}
	out.status = resp.StatusCode
	return out
}

// nested returns `{ customer(id: "…") { subscriptions { customer { … id } } } }`
// nested depth levels deep.
func nested(depth int) string {
	var b strings.Builder
	b.WriteString(`{ customer(id: "00000000-0000-0000-0000-000000000001") {`)
	for level := 2; level < depth; level++ {
		if level%2 == 0 {
			b.WriteString(" subscriptions {")
		} else {
			b.WriteString(" customer {")
		}
	}
	b.WriteString(" id")
	b.WriteString(strings.Repeat(" }", depth-1))
	b.WriteString(" }")
	return b.String()
}

func aliases(n int) string {
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		fmt.Fprintf(&b, " a%d: __typename", i)
	}
	b.WriteString(" }")
	return b.String()
}

func TestDocumentLimits(t *testing.T) {
	t.Parallel()
	// A generous complexity budget, so that only the shape limits refuse.
	ts, tok := server(t, graph.Options{Development: true, ComplexityLimit: math.MaxInt})

	r := post(t, ts, tok, map[string]any{"query": nested(16)})
	if r.code() != graph.CodeComplexityLimitExceeded || !strings.Contains(r.Errors[0].Message, "16 levels deep") {
		t.Errorf("depth 16: %+v", r.Errors)
	}
	// Depth 15 passes the limit and runs: the resolver panics on the
	// missing model, which shows the document was not refused.
	if r := post(t, ts, tok, map[string]any{"query": nested(15)}); r.code() == graph.CodeComplexityLimitExceeded {
		t.Errorf("depth 15 refused: %+v", r.Errors)
	}
	// Fragments do not hide depth.
	frag := `query { ...Q } fragment Q on Query { customer(id: "x") { ...C } }
fragment C on Customer { subscriptions { customer { subscriptions { customer { subscriptions { customer {
subscriptions { customer { subscriptions { customer { subscriptions { customer { subscriptions { customer { id } } } } } } } } } } } } } } }`
	if r := post(t, ts, tok, map[string]any{"query": frag}); r.code() != graph.CodeComplexityLimitExceeded {
		t.Errorf("depth 16 through fragments: %+v", r.Errors)
	}

	if r := post(t, ts, "", map[string]any{"query": aliases(30)}); r.code() != "" {
		t.Errorf("30 aliases: %+v", r.Errors)
	}
	r = post(t, ts, "", map[string]any{"query": aliases(31)})
	if r.code() != graph.CodeComplexityLimitExceeded || !strings.Contains(r.Errors[0].Message, "31 aliases") {
		t.Errorf("31 aliases: %+v", r.Errors)
	}
	if string(r.Data) != "" && string(r.Data) != "null" {
		t.Errorf("refused document answered data %s", r.Data)
	}
}

func TestLimitsAreConfigurable(t *testing.T) {
	t.Parallel()
	ts, _ := server(t, graph.Options{Development: true, MaxAliases: 2, MaxDepth: 3})
	if r := post(t, ts, "", map[string]any{"query": aliases(3)}); r.code() != graph.CodeComplexityLimitExceeded {
		t.Errorf("3 aliases over a limit of 2: %+v", r.Errors)
	}
	if r := post(t, ts, "", map[string]any{"query": nested(4)}); r.code() != graph.CodeComplexityLimitExceeded {
		t.Errorf("depth 4 over a limit of 3: %+v", r.Errors)
	}
}

func TestComplexityLimitCode(t *testing.T) {
	t.Parallel()
	ts, tok := server(t, graph.Options{Development: true, ComplexityLimit: 100})
	// 100 customers, each with its (counted as 20) subscriptions.
	q := `{ customers(first: 100) { edges { node { id subscriptions { id } } } } }`
	r := post(t, ts, tok, map[string]any{"query": q})
	if r.code() != graph.CodeComplexityLimitExceeded || !strings.Contains(r.Errors[0].Message, "complexity") {
		t.Errorf("over the budget: %+v", r.Errors)
	}
	// The default budget (5000) refuses a page of 100 customers that each
	// list their subscriptions' relationships' customers' subscriptions.
	ts, tok = server(t, graph.Options{Development: true})
	q = `{ customers(first: 100) { edges { node { relationships { customer { subscriptions { id } } } } } } }`
	if r := post(t, ts, tok, map[string]any{"query": q}); r.code() != graph.CodeComplexityLimitExceeded {
		t.Errorf("over the default budget: %+v", r.Errors)
	}
}

// The figures of an operation are kept between requests of the same
// document, except when its variables can change them: the same text with
// a larger page in a variable is refused, and a refused document is
// refused again.
func TestComplexityFollowsVariables(t *testing.T) {
	t.Parallel()
	ts, tok := server(t, graph.Options{Development: true, ComplexityLimit: 100})
	q := `query($n: Int) { customers(first: $n) { edges { node { id subscriptions { id } } } } }`
	for _, tc := range []struct {
		n       int
		refused bool
	}{{1, false}, {100, true}, {2, false}, {100, true}} {
		r := post(t, ts, tok, map[string]any{"query": q, "variables": map[string]any{"n": tc.n}})
		if got := r.code() == graph.CodeComplexityLimitExceeded; got != tc.refused {
			t.Errorf("first: %d: refused %v, want %v (%+v)", tc.n, got, tc.refused, r.Errors)
		}
	}
	literal := `{ customers(first: 100) { edges { node { id subscriptions { id } } } } }`
	for i := range 2 {
		if r := post(t, ts, tok, map[string]any{"query": literal}); r.code() != graph.CodeComplexityLimitExceeded {
			t.Errorf("request %d of a document over the budget: %+v", i+1, r.Errors)
		}
	}
}

// With NoLimits (the -limits=false switch) nothing of the above refuses.
func TestNoLimits(t *testing.T) {
	t.Parallel()
	ts, _ := server(t, graph.Options{Development: true, NoLimits: true, ComplexityLimit: 1})
	if r := post(t, ts, "", map[string]any{"query": aliases(100)}); r.code() != "" {
		t.Errorf("100 aliases without limits: %+v", r.Errors)
	}
	// Without a token the deep document is refused as UNAUTHENTICATED,
	// after the limits would have run.
	if r := post(t, ts, "", map[string]any{"query": nested(40)}); r.code() != string(domain.CodeUnauthenticated) {
		t.Errorf("depth 40 without limits: %+v", r.Errors)
	}
}

// A resolver that panics is answered INTERNAL with the generic message, and
// the server goes on serving.
func TestPanickingResolverIsInternal(t *testing.T) {
	t.Parallel()
	ts, tok := server(t, graph.Options{Development: true})
	for range 3 {
		r := post(t, ts, tok, map[string]any{"query": `{ viewer { userId } }`})
		if r.code() != string(domain.CodeInternal) {
			t.Fatalf("panicking resolver: %+v", r.Errors)
		}
		if m := r.Errors[0].Message; strings.Contains(m, "nil") || strings.Contains(m, "panic") || strings.Contains(m, ".go") {
			t.Errorf("internal message leaks: %q", m)
		}
		if r := post(t, ts, tok, map[string]any{"query": `{ __typename }`}); r.code() != "" || !strings.Contains(string(r.Data), "Query") {
			t.Fatalf("after the panic: %+v %s", r.Errors, r.Data)
		}
	}
}

func TestIntrospectionSwitch(t *testing.T) {
	t.Parallel()
	q := map[string]any{"query": `{ __schema { queryType { name } } }`}
	on, tok := server(t, graph.Options{Development: true, Introspection: true})
	if r := post(t, on, tok, q); r.code() != "" || !strings.Contains(string(r.Data), "Query") {
		t.Errorf("introspection on: %+v %s", r.Errors, r.Data)
	}
	off, tok := server(t, graph.Options{Introspection: false})
	for _, q := range []string{
		`{ __schema { queryType { name } } }`,
		`{ __type(name: "Query") { name } }`,
		`{ ... on Query { __schema { types { name } } } }`,
		`{ ...F } fragment F on Query { __type(name: "Query") { name } }`,
	} {
		r := post(t, off, tok, map[string]any{"query": q})
		if r.code() != "GRAPHQL_VALIDATION_FAILED" || strings.Contains(string(r.Data), "name") {
			t.Errorf("introspection off answered %s: %+v %s", q, r.Errors, r.Data)
		}
	}
	// __typename is not introspection of the schema and stays available.
	if r := post(t, off, tok, map[string]any{"query": `{ __typename }`}); r.code() != "" {
		t.Errorf("__typename with introspection off: %+v", r.Errors)
	}
}

// TestPersistedQueries runs Apollo's automatic persisted queries protocol
// over POST and GET: the hash alone is PERSISTED_QUERY_NOT_FOUND until the
// hash and the query are sent together, after which the hash alone runs it.
func TestPersistedQueries(t *testing.T) {
	t.Parallel()
	ts, _ := server(t, graph.Options{Development: true})
	for _, method := range []string{http.MethodPost, http.MethodGet} {
		t.Run(method, func(t *testing.T) {
			query := fmt.Sprintf(`{ %s: __typename }`, strings.ToLower(method))
			sum := sha256.Sum256([]byte(query))
			ext := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hex.EncodeToString(sum[:])}}
			do := func(withQuery bool) response {
				if method == http.MethodPost {
					body := map[string]any{"extensions": ext}
					if withQuery {
						body["query"] = query
					}
					return post(t, ts, "", body)
				}
				e, _ := json.Marshal(ext)
				p := url.Values{"extensions": {string(e)}}
				if withQuery {
					p.Set("query", query)
				}
				return get(t, ts, p)
			}
			if r := do(false); r.code() != "PERSISTED_QUERY_NOT_FOUND" {
				t.Fatalf("unknown hash: %+v", r.Errors)
			}
			if r := do(true); r.code() != "" || !strings.Contains(string(r.Data), "Query") {
				t.Fatalf("hash and query: %+v %s", r.Errors, r.Data)
			}
			if r := do(false); r.code() != "" || !strings.Contains(string(r.Data), "Query") {
				t.Fatalf("stored hash: %+v %s", r.Errors, r.Data)
			}
			// A query that does not match its hash is refused.
			ext["persistedQuery"].(map[string]any)["sha256Hash"] = strings.Repeat("0", 64)
			if r := do(true); len(r.Errors) == 0 {
				t.Fatalf("mismatched hash accepted: %s", r.Data)
			}
		})
	}
}

func sourceOf(s string) *ast.Source { return &ast.Source{Input: s} }

// A request past its deadline is answered UNAVAILABLE, not with gqlgen's
// bare null, and with NoLimits it runs regardless.
func TestPastDeadline(t *testing.T) {
	t.Parallel()
	for _, noLimits := range []bool{false, true} {
		srv := graph.NewServer(&graph.Resolver{}, graph.Options{Development: true, NoLimits: noLimits})
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx, cancel := context.WithDeadline(r.Context(), time.Now().Add(-time.Second))
			defer cancel()
			srv.ServeHTTP(w, r.WithContext(ctx))
		}))
		r := post(t, ts, "", map[string]any{"query": `{ __typename }`})
		ts.Close()
		if noLimits {
			if r.code() == string(domain.CodeUnavailable) {
				t.Errorf("NoLimits: %+v", r.Errors)
			}
			continue
		}
		if r.code() != string(domain.CodeUnavailable) || !strings.Contains(r.Errors[0].Message, "deadline") {
			t.Errorf("past the deadline: HTTP %d %+v %s", r.status, r.Errors, r.Data)
		}
	}
}
