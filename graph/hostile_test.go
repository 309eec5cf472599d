package graph_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/graph"
	"github.com/partnercenter/multichannel/internal/auth"
)

// keyedServer is server() with the HTTP layer's Idempotency-Key passed to
// the GraphQL server, as httpapi does.
func keyedServer(t *testing.T, opts graph.Options) (*httptest.Server, string) {
	t.Helper()
	secret := []byte("limits-test-secret-of-thirty-two-bytes")
	v := auth.NewHS256Verifier(secret)
	opts.Verifier = v
	srv := graph.NewServer(&graph.Resolver{}, opts)
	h := auth.Middleware(v)(srv)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req := &graph.Request{CorrelationID: uuid.Must(uuid.NewV7()), IdempotencyKey: r.Header.Get("Idempotency-Key")}
		h.ServeHTTP(w, r.WithContext(graph.WithRequest(r.Context(), req)))
	}))
	t.Cleanup(ts.Close)
	a := domain.Actor{UserID: "u1", TenantID: uuid.New(), Role: domain.RoleGlobalAdmin}
	tok, err := auth.MintHS256(secret, a, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return ts, tok
}

func repeated(field string, n int) string {
	return "{ " + strings.Repeat(field+" ", n) + "}"
}

// distinct is n fields, each its own name (the schema has none of them).
func distinct(prefix string, n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "%s%d ", prefix, i)
	}
	return b.String()
}

// A document over a bound of its text is refused before it is parsed and
// validated, whatever its token: a document of unknown fields, which
// validation would refuse as GRAPHQL_VALIDATION_FAILED (after comparing
// its fields pairwise), is COMPLEXITY_LIMIT_EXCEEDED.
func TestDocumentBoundsBeforeValidation(t *testing.T) {
	t.Parallel()
	ts, tok := server(t, graph.Options{Development: true})
	code := graph.CodeComplexityLimitExceeded
	for _, tc := range []struct {
		name, doc string
		want      string // "" when the document is answered; "ran" when a resolver ran
	}{
		{"100 fields in a set", "{ " + distinct("f", 100) + "}", "GRAPHQL_VALIDATION_FAILED"},
		{"101 fields in a set", "{ " + distinct("f", 101) + "}", code},
		{"10 of one field", repeated("__typename", 10), ""},
		{"11 of one field", repeated("__typename", 11), code},
		{"11 of one unknown field", repeated("nope", 11), code},
		{"32,000 fields", repeated("__typename", 32_000), code},
		{"an alias is the response name", repeated("a: __typename", 11), code},
		{"aliases of distinct names", "{ " + strings.ReplaceAll(distinct("a", 10), " ", ": __typename ") + "}", ""},
		{"inline fragments count in their set", "{ ... on Query { " + distinct("f", 75) + "} ... { " + distinct("g", 26) + "} }", code},
		{"inline fragments share the names", "{ ... on Query " + repeated("__typename", 6) + " ... " + repeated("__typename", 5) + " }", code},
		{"inline fragments within the bound", "{ ... on Query { " + distinct("f", 73) + "} ... @include(if: true) { " + distinct("g", 25) + "} }", "GRAPHQL_VALIDATION_FAILED"},
		{"spreads count", "{ " + strings.Repeat("...F ", 101) + "} fragment F on Query { __typename }", code},
		{"nested sets count apart", "{ customer(id: \"00000000-0000-0000-0000-000000000001\") { " + distinct("f", 75) + "} " + distinct("f", 75) + "}", "GRAPHQL_VALIDATION_FAILED"},
		{"values are not selections", `query($t: [String!] = [` + strings.Repeat(`"a" `, 300) + `]) { events(filter: {types: $t}) { totalCount } }`, "ran"},
		{"over the token bound", `{ events(filter: {types: [` + strings.Repeat(`"a" `, 10_000) + `]}) { totalCount } }`, code},
		{"over the size bound", `{ __typename }` + strings.Repeat(" ", 64<<10), code},
		{"1 MiB string", `{ customer(id: "` + strings.Repeat("x", 1<<20-40) + `") { id } }`, code},
		{"deep nesting", strings.Repeat("{ a ", 5_000) + strings.Repeat("}", 5_000), code},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, token := range []string{"", tok} {
				r := post(t, ts, token, map[string]any{"query": tc.doc})
				got := r.code()
				if tc.want == "ran" {
					if got == code || strings.HasPrefix(got, "GRAPHQL_") {
						t.Fatalf("token %v: refused before it ran: %+v", token != "", r.Errors)
					}
					continue
				}
				if got != tc.want {
					t.Fatalf("token %v: code %q, want %q: %+v", token != "", got, tc.want, r.Errors)
				}
			}
		})
	}
}

// A document within the bounds that repeats what validation reports once
// per repeat (an unknown field, a directive, a variable, an argument) is
// refused with the first of those errors alone, validation's message and
// code, whatever the token: the server answers it from the pass that
// checks the bounds instead of parsing, validating and answering
// hundreds of errors. A document that does not parse is still a parse
// failure, and the bounds still come first.
func TestRepeatsAreRefusedWithTheirFirstError(t *testing.T) {
	t.Parallel()
	ts, tok := server(t, graph.Options{Development: true})
	under := graph.DefaultMaxTokens
	for _, tc := range []struct {
		name, doc, code, message string
	}{
		{"unknown fields", "{ " + distinct("f", 100) + "}", "GRAPHQL_VALIDATION_FAILED", `Cannot query field "f0" on type "Query".`},
		{"nesting under an unknown field", strings.Repeat("{ a ", under/3-1) + strings.Repeat("}", under/3-1), "GRAPHQL_VALIDATION_FAILED", `Cannot query field "a" on type "Query".`},
		{"nesting under a leaf", "{ __typename " + strings.Repeat("{ a ", under/3-2) + strings.Repeat("}", under/3-2) + "}", "GRAPHQL_VALIDATION_FAILED", `Field "__typename" must not have a selection since type "String" has no subfields.`},
		{"a repeated directive", "{ __typename " + strings.Repeat("@include(if: true) ", under/7-1) + "}", "GRAPHQL_VALIDATION_FAILED", `The directive "@include" can only be used once at this location.`},
		{"unknown directives", "{ __typename " + distinct("@d", under/2-5) + "}", "GRAPHQL_VALIDATION_FAILED", `Unknown directive "@d0".`},
		{"a repeated variable", "query(" + strings.Repeat("$v: Int ", under/4-5) + ") { __typename }", "GRAPHQL_VALIDATION_FAILED", `There can be only one variable named "$v".`},
		{"unused variables", "query Q(" + strings.ReplaceAll(distinct("$v", under/4-5), " ", ": Int ") + ") { __typename }", "GRAPHQL_VALIDATION_FAILED", `Variable "$v0" is never used in operation "Q".`},
		{"unknown arguments", "{ __typename(" + strings.ReplaceAll(distinct("a", under/3-5), " ", ": 1 ") + ") }", "GRAPHQL_VALIDATION_FAILED", `Unknown argument "a0" on field "Query.__typename".`},
		{"an undefined variable", "{ events(filter: {types: [" + strings.Repeat("$x, ", under/2-10) + "]}) { totalCount } }", "GRAPHQL_VALIDATION_FAILED", `Variable "$x" is not defined.`},
		{"a repeated argument", `{ customer(id: "x"` + strings.Repeat(`, id: "x"`, under/3-5) + ") { id } }", "GRAPHQL_VALIDATION_FAILED", `There can be only one argument named "id".`},
		{"values of the wrong type", "{ events(filter: {types: [" + strings.Repeat("1, ", under-20) + "]}) { totalCount } }", "GRAPHQL_VALIDATION_FAILED", `String cannot represent a non string value: 1`},
		{"a list for an Int", "{ events(first: [" + strings.Repeat(`"a", `, 3) + "]) { totalCount } }", "GRAPHQL_VALIDATION_FAILED", `Int cannot represent non-integer value: ["a","a","a"]`},
		{"unknown input fields", "{ events(filter: {" + strings.ReplaceAll(distinct("f", under/3-10), " ", ": 1 ") + "}) { totalCount } }", "GRAPHQL_VALIDATION_FAILED", `Field "f0" is not defined by type "EventFilter".`},
		{"nulls for a non-null type", "{ events(filter: {types: [" + strings.Repeat("null, ", under-20) + "]}) { totalCount } }", "GRAPHQL_VALIDATION_FAILED", `Expected value of type "String!", found null.`},
		{"unknown fields that do not parse", "{ " + distinct("f", 100), "GRAPHQL_PARSE_FAILED", "Expected Name, found <EOF>"},
		{"unknown fields over the selections bound", "{ " + distinct("f", 101) + "}", graph.CodeComplexityLimitExceeded, "a selection set of the document has more than 100 selections"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, token := range []string{"", tok} {
				r := post(t, ts, token, map[string]any{"query": tc.doc})
				if r.code() != tc.code || len(r.Errors) != 1 || !strings.HasSuffix(r.Errors[0].Message, tc.message) {
					t.Fatalf("token %v: %d errors, code %q, want one, %s %q: %.300v", token != "", len(r.Errors), r.code(), tc.code, tc.message, r.Errors)
				}
			}
		})
	}
}

// A document that validation refuses for hundreds of items (each use of a
// variable of the wrong type, each repeat of an input field: errors the
// pre-check leaves to validation) is answered with the first
// MaxValidationErrors of them and one error saying the rest are not
// reported, whatever the token.
func TestValidationErrorsAreBounded(t *testing.T) {
	t.Parallel()
	wrong := "query($v: Int) { events(filter: {types: [" + strings.Repeat("$v, ", 900) + "]}) { totalCount } }"
	unknown := "{ events(filter: {" + strings.Repeat(`stream: "a" `, 400) + "}) { totalCount } }"
	for _, tc := range []struct {
		max, want int
	}{
		{0, graph.DefaultMaxValidationErrors},
		{3, 3},
	} {
		ts, tok := server(t, graph.Options{Development: true, MaxValidationErrors: tc.max})
		for _, doc := range []string{wrong, unknown} {
			for _, token := range []string{"", tok} {
				r := post(t, ts, token, map[string]any{"query": doc})
				if r.code() != "GRAPHQL_VALIDATION_FAILED" || len(r.Errors) != tc.want+1 {
					t.Fatalf("max %d, %.40s: code %q, %d errors, want %d and one more", tc.max, doc, r.code(), len(r.Errors), tc.want)
				}
				last := r.Errors[len(r.Errors)-1]
				if last.Message != "too many validation errors: the rest are not reported" || last.Extensions["code"] != "GRAPHQL_VALIDATION_FAILED" {
					t.Fatalf("last error %+v", last)
				}
			}
		}
	}
	// A document with fewer errors has them all.
	ts, _ := server(t, graph.Options{Development: true, MaxValidationErrors: 3})
	if r := post(t, ts, "", map[string]any{"query": "query($v: Int) { events(filter: {types: [$v, $v, $v]}) { totalCount } }"}); len(r.Errors) != 3 {
		t.Fatalf("%d errors, want 3: %+v", len(r.Errors), r.Errors)
	}
}

func TestDocumentBoundsAreConfigurable(t *testing.T) {
	t.Parallel()
	ts, _ := server(t, graph.Options{Development: true, MaxSelections: 3, MaxTokens: 20, MaxDocumentBytes: 100})
	for doc, want := range map[string]string{
		repeated("__typename", 3):                            "",
		repeated("__typename", 4):                            graph.CodeComplexityLimitExceeded,
		"{ a: __typename b: __typename c: __typename }":      "",                                // 10 tokens
		"{ __typename(" + strings.Repeat("a: 1 ", 6) + ") }": graph.CodeComplexityLimitExceeded, // 23 tokens
		"{ __typename }" + strings.Repeat(" ", 90):           graph.CodeComplexityLimitExceeded,
	} {
		if r := post(t, ts, "", map[string]any{"query": doc}); r.code() != want {
			t.Errorf("%.40s: %q, want %q: %+v", doc, r.code(), want, r.Errors)
		}
	}
}

// With introspection off, a misspelt field gets no "Did you mean" hint:
// the hints would name the schema's fields to anyone.
func TestNoSuggestionsWithoutIntrospection(t *testing.T) {
	t.Parallel()
	q := map[string]any{"query": `{ viewr { userId } }`}
	on, _ := server(t, graph.Options{Development: true, Introspection: true})
	if r := post(t, on, "", q); !strings.Contains(r.Errors[0].Message, "Did you mean") {
		t.Errorf("introspection on: no suggestion in %q", r.Errors[0].Message)
	}
	off, tok := server(t, graph.Options{})
	for _, doc := range []string{`{ viewr { userId } }`, `{ viewer { userI } }`, `{ viewer }`} {
		// Without a token, production answers UNAUTHENTICATED before the
		// document is validated (callerFirst), unless the bounds' pass
		// refuses it first; a caller's errors must not name the schema
		// either.
		if r := post(t, off, "", map[string]any{"query": doc}); (r.code() != "UNAUTHENTICATED" && r.code() != "GRAPHQL_VALIDATION_FAILED") || strings.Contains(r.Errors[0].Message, "Did you mean") {
			t.Errorf("introspection off, no token, %s: %+v", doc, r.Errors)
		}
		r := post(t, off, tok, map[string]any{"query": doc})
		if r.code() != "GRAPHQL_VALIDATION_FAILED" || strings.Contains(r.Errors[0].Message, "Did you mean") || strings.Contains(r.Errors[0].Message, "userId") {
			t.Errorf("introspection off, %s: %+v", doc, r.Errors)
		}
	}
}

// The other hints validation gives (an argument, a type, an enum value,
// an input field) name the schema's too: with introspection off, no
// error of a document carries one, whether the pre-check or validation
// answers it; with it on, each has its hint.
func TestNoSuggestionsOfAnyKindWithoutIntrospection(t *testing.T) {
	t.Parallel()
	docs := []struct{ doc, hint string }{
		{`{ customer(idd: "x") { id } }`, `"id"`},
		{`{ __typename @include(iff: true) }`, `"if"`},
		{`{ ...F } fragment F on Queri { __typename }`, `"Query"`},
		{`{ customers(filter: {cloud: PUBLIK}) { totalCount } }`, `"PUBLIC"`},
		{`{ customers(filter: {cloud: "PUBLIK"}) { totalCount } }`, `"PUBLIC"`},
		{`{ customers(filter: {nameContain: "a"}) { totalCount } }`, `"nameContains"`},
		{`{ events(filter: {stram: "a"}) { totalCount } }`, `"stream"`},
	}
	on, _ := server(t, graph.Options{Development: true, Introspection: true})
	off, tok := server(t, graph.Options{})
	for _, d := range docs {
		r := post(t, on, "", map[string]any{"query": d.doc})
		if r.code() != "GRAPHQL_VALIDATION_FAILED" || !strings.Contains(r.Errors[0].Message, "Did you mean") {
			t.Errorf("introspection on, %s: no hint in %+v", d.doc, r.Errors)
		}
		r = post(t, off, tok, map[string]any{"query": d.doc})
		if r.code() != "GRAPHQL_VALIDATION_FAILED" {
			t.Errorf("introspection off, %s: %+v", d.doc, r.Errors)
		}
		for _, e := range r.Errors {
			if strings.Contains(e.Message, "Did you mean") || strings.Contains(e.Message, d.hint) {
				t.Errorf("introspection off, %s: %q", d.doc, e.Message)
			}
		}
	}
}

// GraphQL's Int is 32 bits: a variable outside it is refused as gqlgen
// refuses any variable of the wrong type, before a resolver runs (these
// servers' resolvers panic into INTERNAL when they run).
func TestIntOutside32Bits(t *testing.T) {
	t.Parallel()
	ts, tok := server(t, graph.Options{Development: true})
	page := `query($n: Int) { customers(first: $n) { totalCount } }`
	record := `mutation($in: RecordExternalSubscriptionInput!) { recordExternalSubscription(input: $in) { id } }`
	in := func(q any) map[string]any {
		return map[string]any{"customerId": uuid.NewString(), "offer": "O", "billingModel": "USAGE_BASED", "channel": "OPEN", "quantity": q}
	}
	for _, tc := range []struct {
		name  string
		body  map[string]any
		valid bool
	}{
		{"2^31", map[string]any{"query": page, "variables": map[string]any{"n": json.Number("2147483648")}}, false},
		{"-2^31-1", map[string]any{"query": page, "variables": map[string]any{"n": json.Number("-2147483649")}}, false},
		{"2^53+1", map[string]any{"query": page, "variables": map[string]any{"n": json.Number("9007199254740993")}}, false},
		{"2^31-1", map[string]any{"query": page, "variables": map[string]any{"n": json.Number("2147483647")}}, true},
		{"quantity 2^31 in an input", map[string]any{"query": record, "variables": map[string]any{"in": in(json.Number("2147483648"))}}, false},
		{"quantity 2^53+1 in an input", map[string]any{"query": record, "variables": map[string]any{"in": in(json.Number("9007199254740993"))}}, false},
		{"quantity 2^31-1 in an input", map[string]any{"query": record, "variables": map[string]any{"in": in(json.Number("2147483647"))}}, true},
		{"literal 2^31", map[string]any{"query": `{ customers(first: 2147483648) { totalCount } }`}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := post(t, ts, tok, tc.body)
			if got := r.code() == "GRAPHQL_VALIDATION_FAILED"; got == tc.valid {
				t.Fatalf("code %q: %+v", r.code(), r.Errors)
			}
			if !tc.valid && !strings.Contains(r.Errors[0].Message, "32-bit") {
				t.Errorf("message %q", r.Errors[0].Message)
			}
		})
	}
}

// A malformed or out-of-range Time, as a literal or a variable, is
// BAD_USER_INPUT naming the argument or input field, before the resolver.
func TestMalformedTimeIsBadUserInput(t *testing.T) {
	t.Parallel()
	ts, tok := server(t, graph.Options{Development: true})
	id := uuid.NewString()
	for _, tc := range []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"literal date", map[string]any{"query": `{ customerAsOf(id: "` + id + `", at: "2026-12-03") { id } }`}, "at"},
		{"variable", map[string]any{"query": `query($at: Time!) { customerAsOf(id: "` + id + `", at: $at) { id } }`, "variables": map[string]any{"at": "next year"}}, "at"},
		{"year 10000", map[string]any{"query": `{ customerAsOf(id: "` + id + `", at: "10000-01-01T00:00:00Z") { id } }`}, "at"},
		{"year 0", map[string]any{"query": `{ customerAsOf(id: "` + id + `", at: "0000-06-01T00:00:00Z") { id } }`}, "at"},
		{"number", map[string]any{"query": `query($at: Time!) { customerAsOf(id: "` + id + `", at: $at) { id } }`, "variables": map[string]any{"at": 12}}, "at"},
		{"filter field", map[string]any{"query": `{ events(filter: {from: "yesterday"}) { totalCount } }`}, "filter.from"},
		{"input field in a variable", map[string]any{
			"query":     `mutation($in: RecordExternalSubscriptionInput!) { recordExternalSubscription(input: $in) { id } }`,
			"variables": map[string]any{"in": map[string]any{"customerId": id, "offer": "O", "billingModel": "LICENSE_BASED", "channel": "OPEN", "quantity": 1, "termEndsAt": "-0001-01-01T00:00:00Z"}},
		}, "input.termEndsAt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := post(t, ts, tok, tc.body)
			if r.code() != string(domain.CodeBadUserInput) {
				t.Fatalf("code %q: %+v", r.code(), r.Errors)
			}
			if m := r.Errors[0].Message; !strings.HasPrefix(m, tc.field+": ") || !strings.Contains(m, "RFC 3339") {
				t.Errorf("message %q does not name %s", m, tc.field)
			}
		})
	}
}

// An Idempotency-Key names one mutation's result: a document with several
// mutation fields and a key is BAD_USER_INPUT before any field runs (these
// servers' resolvers panic into INTERNAL when they run).
func TestIdempotencyKeyCoversOneMutationField(t *testing.T) {
	t.Parallel()
	ts, tok := keyedServer(t, graph.Options{Development: true})
	two := `mutation { a: enrollPartner(input: {name: "A", cloud: PUBLIC}) { id } b: enrollPartner(input: {name: "B", cloud: PUBLIC}) { id } }`
	viaFragment := `mutation { enrollPartner(input: {name: "A", cloud: PUBLIC}) { id } ...M } fragment M on Mutation { cancelSubscription(subscriptionId: "x") { id } }`
	one := `mutation { enrollPartner(input: {name: "A", cloud: PUBLIC}) { id } __typename }`
	for _, tc := range []struct {
		name, doc, key, want string
	}{
		{"two fields with a key", two, "k2", string(domain.CodeBadUserInput)},
		{"a field in a fragment with a key", viaFragment, "k3", string(domain.CodeBadUserInput)},
		{"two fields without a key", two, "", "INTERNAL"},
		{"one field with a key", one, "k1", "INTERNAL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, _ := json.Marshal(map[string]any{"query": tc.doc})
			req, _ := http.NewRequest(http.MethodPost, ts.URL, bytes.NewReader(b))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+tok)
			if tc.key != "" {
				req.Header.Set("Idempotency-Key", tc.key)
			}
			r := send(t, req)
			if r.code() != tc.want {
				t.Fatalf("code %q, want %s: %+v", r.code(), tc.want, r.Errors)
			}
			if tc.want == string(domain.CodeBadUserInput) && !strings.Contains(r.Errors[0].Message, "Idempotency-Key") {
				t.Errorf("message %q", r.Errors[0].Message)
			}
		})
	}
}

// rawResponse is a response whose status and errors are checked whatever
// the transport wrote.
func rawDo(t *testing.T, req *http.Request) (int, response) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out response
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("HTTP %d, body not JSON: %q", resp.StatusCode, b)
	}
	return resp.StatusCode, out
}

// Every error the GraphQL server answers carries extensions.code and
// extensions.correlationId: transport refusals (with their HTTP status),
// a persisted query whose hash does not match, UNAUTHENTICATED.
func TestEveryErrorHasCodeAndCorrelationID(t *testing.T) {
	t.Parallel()
	ts, tok := server(t, graph.Options{})
	sum := sha256.Sum256([]byte("{ __typename }"))
	goodHash := hex.EncodeToString(sum[:])
	badHash := strings.Repeat("0", 64)
	apq := func(hash string) string {
		b, _ := json.Marshal(map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hash}})
		return string(b)
	}
	postBody := func(contentType, body string) *http.Request {
		req, _ := http.NewRequest(http.MethodPost, ts.URL, strings.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		return req
	}
	getQuery := func(v url.Values) *http.Request {
		req, _ := http.NewRequest(http.MethodGet, ts.URL+"?"+v.Encode(), nil)
		return req
	}
	// Without a token, production refuses a request before its document
	// is parsed (callerFirst): the refusals that come after parsing are
	// shown with one.
	withToken := func(req *http.Request) *http.Request {
		req.Header.Set("Authorization", "Bearer "+tok)
		return req
	}
	put, _ := http.NewRequest(http.MethodPut, ts.URL, strings.NewReader(`{"query":"{ __typename }"}`))
	for _, tc := range []struct {
		name   string
		req    *http.Request
		status int
		code   string
	}{
		{"APQ hash mismatch over POST", postBody("application/json", `{"query":"{ viewer { userId } }","extensions":`+apq(badHash)+`}`), 200, "BAD_USER_INPUT"},
		{"APQ hash mismatch over GET", getQuery(url.Values{"query": {"{ viewer { userId } }"}, "extensions": {apq(badHash)}}), 200, "BAD_USER_INPUT"},
		{"APQ unknown hash", getQuery(url.Values{"extensions": {apq(goodHash)}}), 200, "PERSISTED_QUERY_NOT_FOUND"},
		{"APQ bad version", postBody("application/json", `{"query":"{ __typename }","extensions":{"persistedQuery":{"version":9}}}`), 200, "BAD_USER_INPUT"},
		{"body not JSON", postBody("application/json", `{"query":`), 400, "BAD_USER_INPUT"},
		{"POST not JSON", postBody("text/plain", `{ __typename }`), 400, "BAD_USER_INPUT"},
		{"PUT", put, 400, "BAD_USER_INPUT"},
		{"GET variables not JSON", getQuery(url.Values{"query": {"{ __typename }"}, "variables": {"{"}}), 400, "BAD_USER_INPUT"},
		{"GET extensions not JSON", getQuery(url.Values{"query": {"{ __typename }"}, "extensions": {"{"}}), 400, "BAD_USER_INPUT"},
		{"GET mutation", withToken(getQuery(url.Values{"query": {"mutation { __typename }"}})), 406, "BAD_USER_INPUT"},
		// GraphQL over HTTP: under application/json a parse failure is 200.
		{"parse error", withToken(postBody("application/json", `{"query":"{"}`)), http.StatusOK, "GRAPHQL_PARSE_FAILED"},
		{"parse error, no token", postBody("application/json", `{"query":"{"}`), http.StatusOK, "UNAUTHENTICATED"},
		{"no token", postBody("application/json", `{"query":"{ viewer { userId } }"}`), 200, "UNAUTHENTICATED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, r := rawDo(t, tc.req)
			if status != tc.status || r.code() != tc.code {
				t.Fatalf("HTTP %d %q, want %d %s: %+v", status, r.code(), tc.status, tc.code, r.Errors)
			}
			for _, e := range r.Errors {
				id, _ := e.Extensions["correlationId"].(string)
				if _, err := uuid.Parse(id); err != nil {
					t.Errorf("error %q without a correlation id: %v", e.Message, e.Extensions)
				}
			}
		})
	}
}

// The selections of every repeat of one response name count as one set,
// as validation merges and compares them: 10 copies of a field with 30
// sub-fields each are a set of 150.
func TestRepeatsMergeTheirSelections(t *testing.T) {
	t.Parallel()
	ts, _ := server(t, graph.Options{Development: true})
	field := func(n int) string { return `customer(id: "x") { ` + distinct("f", n) + "} " }
	for _, tc := range []struct {
		name, doc string
		refused   bool
	}{
		{"10 copies of 10", "{ " + strings.Repeat(field(10), 10) + "}", false},
		{"10 copies of 15", "{ " + strings.Repeat(field(15), 10) + "}", true},
		{"two levels", "{ " + strings.Repeat(`customer(id: "x") { `+strings.Repeat(`partner { `+distinct("g", 15)+"} ", 5)+"} ", 4) + "}", true},
		{"two copies of 60", "{ " + field(60) + field(60) + "}", true},
		{"aliases apart", "{ a: " + field(75) + " b: " + field(75) + "}", false},
	} {
		r := post(t, ts, "", map[string]any{"query": tc.doc})
		if got := r.code() == graph.CodeComplexityLimitExceeded; got != tc.refused {
			t.Errorf("%s: code %q, refused %v, want %v", tc.name, r.code(), got, tc.refused)
		}
	}
}
