package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/testserver"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

// echoServer answers every query with its coerced variables as data, so
// that what the transport decoded shows in the answer.
func echoServer(tr graphql.Transport) http.Handler {
	schema := gqlparser.MustLoadSchema(&ast.Source{Input: `
		type Query { echo(n: Int, s: String, f: Float, list: [Int!]): String! }`})
	srv := handler.New(&graphql.ExecutableSchemaMock{
		ExecFunc: func(ctx context.Context) graphql.ResponseHandler {
			vars, err := json.Marshal(graphql.GetOperationContext(ctx).Variables)
			if err != nil {
				panic(err)
			}
			return graphql.OneShot(&graphql.Response{Data: vars})
		},
		SchemaFunc:     func() *ast.Schema { return schema },
		ComplexityFunc: func(context.Context, string, string, int, map[string]any) (int, bool) { return 1, true },
	})
	srv.AddTransport(tr)
	return srv
}

func withTransport(s *testserver.TestServer, tr graphql.Transport) http.Handler {
	s.AddTransport(tr)
	return s
}

// post answers every request as gqlgen's transport.POST does (the same
// content type and JSON document, a decoding error's message aside:
// gqlgen's repeats the body), except for what the GraphQL-over-HTTP
// specification says otherwise: the status, a code on the transport's own
// refusals, and no data entry for a request that never ran under
// application/graphql-response+json.
func TestPostAnswersAsGqlgensPost(t *testing.T) {
	servers := map[string]func(graphql.Transport) http.Handler{
		"test":  func(tr graphql.Transport) http.Handler { return withTransport(testserver.New(), tr) },
		"error": func(tr graphql.Transport) http.Handler { return withTransport(testserver.NewError(), tr) },
		"echo":  echoServer,
	}
	const reply = "application/graphql-response+json"
	for _, tc := range []struct {
		name, server, contentType, accept, body string
		// status is the specification's status (200 when 0).
		status int
		// refused: a transport refusal (400, BAD_USER_INPUT), whose
		// message differs from gqlgen's.
		refused bool
		// noData: the answer has no data entry where gqlgen's has null.
		noData bool
	}{
		{name: "query", server: "test", body: `{"query":"{ name }"}`},
		{name: "operation name", server: "test", body: `{"query":"query A { name } query B { name }","operationName":"B"}`},
		{name: "unknown operation name", server: "test", body: `{"query":"query A { name }","operationName":"C"}`},
		{name: "no operation name among two", server: "test", body: `{"query":"query A { name } query B { name }"}`},
		{name: "syntax error", server: "test", body: `{"query":"{"}`},
		{name: "unknown field", server: "test", body: `{"query":"{ nope }"}`},
		{name: "variable of the wrong type", server: "test", body: `{"query":"query($id: Int!) { find(id: $id) }","variables":{"id":"x"}}`},
		{name: "missing variable", server: "test", body: `{"query":"query($id: Int!) { find(id: $id) }"}`},
		{name: "mutation refused by the resolver", server: "test", body: `{"query":"mutation { name }"}`},
		{name: "resolver error", server: "error", body: `{"query":"{ name }"}`},
		{name: "variables", server: "echo", body: `{"query":"query($n: Int, $s: String, $f: Float, $l: [Int!]) { echo(n: $n, s: $s, f: $f, list: $l) }",` +
			`"variables":{"n":9007199254740993,"s":"<b>&amp;</b> é \u2028","f":1.5e300,"l":[1,2]}}`},
		{name: "list from a single value", server: "echo", body: `{"query":"query($l: [Int!]) { echo(list: $l) }","variables":{"l":3}}`},
		{name: "trailing data after the document", server: "test", body: `{"query":"{ name }"} trailing`},
		{name: "extensions", server: "test", body: `{"query":"{ name }","extensions":{"x":1}}`},
		{name: "content type with charset", server: "test", contentType: "application/json; charset=utf-8", body: `{"query":"{ name }"}`},
		{name: "accept JSON among others", server: "test", accept: "application/json, multipart/mixed", body: `{"query":"{ name }"}`},
		{name: "accept the GraphQL response type", server: "test", accept: reply, body: `{"query":"{ name }"}`},
		{name: "syntax error under the GraphQL response type", server: "test", accept: reply, body: `{"query":"{"}`, status: 400, noData: true},
		{name: "unknown field under the GraphQL response type", server: "test", accept: reply, body: `{"query":"{ nope }"}`, status: 400, noData: true},
		{name: "variable of the wrong type under the GraphQL response type", server: "test", accept: reply,
			body: `{"query":"query($id: Int!) { find(id: $id) }","variables":{"id":"x"}}`, status: 400, noData: true},
		{name: "resolver error under the GraphQL response type", server: "error", accept: reply, body: `{"query":"{ name }"}`},
		{name: "accept anything", server: "test", accept: "*/*", body: `{"query":"{"}`},
		{name: "accept nothing known", server: "test", accept: "text/html", body: `{"query":"{ name }"}`},
		{name: "accept a bad media type, then JSON", server: "test", accept: "a/b/c;;, application/json", body: `{"query":"{ name }"}`},
		{name: "malformed JSON", server: "test", body: `{"query":`, status: 400, refused: true},
		{name: "empty body", server: "test", body: ``, status: 400, refused: true},
		{name: "not an object", server: "test", body: `[1]`, status: 400, refused: true},
		{name: "variables not an object", server: "test", body: `{"query":"{ name }","variables":[1]}`, status: 400, refused: true},
		{name: "query not a string", server: "test", body: `{"query":["{ name }"]}`, status: 400, refused: true},
		{name: "no query", server: "test", body: `{"qeury":"{ name }"}`, status: 400, refused: true},
		{name: "no query under the GraphQL response type", server: "test", accept: reply, body: `{}`, status: 400, refused: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			do := func(h http.Handler) *httptest.ResponseRecorder {
				r := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(tc.body))
				ct := tc.contentType
				if ct == "" {
					ct = "application/json"
				}
				r.Header.Set("Content-Type", ct)
				if tc.accept != "" {
					r.Header.Set("Accept", tc.accept)
				}
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				return w
			}
			want := do(servers[tc.server](transport.POST{}))
			got := do(servers[tc.server](post{}))
			status := tc.status
			if status == 0 {
				status = http.StatusOK
			}
			if got.Code != status || got.Header().Get("Content-Type") != want.Header().Get("Content-Type") {
				t.Fatalf("HTTP %d %q, want %d %q", got.Code, got.Header().Get("Content-Type"), status, want.Header().Get("Content-Type"))
			}
			g, w := decodeAny(t, got.Body.Bytes()), decodeAny(t, want.Body.Bytes())
			if tc.refused {
				if errorCode(g) != "BAD_USER_INPUT" || errorMessage(g) == "" {
					t.Fatalf("got %s, want a BAD_USER_INPUT refusal", got.Body)
				}
				return
			}
			if tc.noData {
				if _, ok := g.(map[string]any)["data"]; ok {
					t.Fatalf("got %s, want no data entry", got.Body)
				}
				delete(w.(map[string]any), "data")
			}
			if !reflect.DeepEqual(g, w) {
				t.Fatalf("got  %s\nwant %s", got.Body, want.Body)
			}
		})
	}
}

func decodeAny(t *testing.T, b []byte) any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("answer %q is not JSON: %v", b, err)
	}
	return v
}

func errorCode(doc any) string {
	m, _ := doc.(map[string]any)
	errs, _ := m["errors"].([]any)
	if len(errs) == 0 {
		return ""
	}
	e, _ := errs[0].(map[string]any)
	ext, _ := e["extensions"].(map[string]any)
	s, _ := ext["code"].(string)
	return s
}

func errorMessage(doc any) string {
	m, _ := doc.(map[string]any)
	errs, _ := m["errors"].([]any)
	if len(errs) == 0 {
		return ""
	}
	e, _ := errs[0].(map[string]any)
	s, _ := e["message"].(string)
	return s
}

// Requests post takes, and those it leaves to the other transports.
func TestPostSupports(t *testing.T) {
	for _, tc := range []struct {
		method, contentType, upgrade string
		want                         bool
	}{
		{"POST", "application/json", "", true},
		{"POST", "application/json; charset=utf-8", "", true},
		{"POST", "Application/JSON", "", true},
		{"POST", "application/json", "websocket", false},
		{"GET", "application/json", "", false},
		{"POST", "application/graphql", "", false},
		{"POST", "multipart/form-data; boundary=x", "", false},
		{"POST", "", "", false},
	} {
		r := httptest.NewRequest(tc.method, "/graphql", nil)
		if tc.contentType != "" {
			r.Header.Set("Content-Type", tc.contentType)
		}
		if tc.upgrade != "" {
			r.Header.Set("Upgrade", tc.upgrade)
		}
		if got := (post{}).Supports(r); got != tc.want || got != (transport.POST{}).Supports(r) {
			t.Errorf("%s %q upgrade %q: %v, want %v as gqlgen's", tc.method, tc.contentType, tc.upgrade, got, tc.want)
		}
	}
}

// FuzzPost sends any body to post and to gqlgen's transport.POST: the
// content type and document must be the same, and the status gqlgen's
// made to follow GraphQL over HTTP (a request that is not one, such as a
// body that does not decode or has no query, is refused with 400 and
// BAD_USER_INPUT; every other answer under application/json is 200); and
// post must not panic.
func FuzzPost(f *testing.F) {
	for _, seed := range []string{
		`{"query":"{ echo }"}`,
		`{"query":"query($n: Int) { echo(n: $n) }","variables":{"n":9007199254740993}}`,
		`{"query":"query($l: [Int!]) { echo(list: $l) }","variables":{"l":[1,"2"]}}`,
		`{"query":"query($s: String) { echo(s: $s) }","variables":{"s":"<\u2028>"}}`,
		`{"query":"{"}`, `{"query":1}`, `[]`, `{`, ``, `{"query":"{ echo }"} {}`, `{}`, `{"query":""}`,
	} {
		f.Add(seed)
	}
	stock, ours := echoServer(transport.POST{}), echoServer(post{})
	f.Fuzz(func(t *testing.T, body string) {
		do := func(h http.Handler) *httptest.ResponseRecorder {
			r := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			return w
		}
		want, got := do(stock), do(ours)
		if got.Header().Get("Content-Type") != want.Header().Get("Content-Type") {
			t.Fatalf("content type %q, want %q", got.Header().Get("Content-Type"), want.Header().Get("Content-Type"))
		}
		g, w := decodeAny(t, got.Body.Bytes()), decodeAny(t, want.Body.Bytes())
		const decoding = "json request body could not be decoded"
		stockRefused := strings.HasPrefix(errorMessage(w), decoding) || errorMessage(w) == "no operation provided"
		if got.Code == http.StatusBadRequest {
			// Ours refuses no more than gqlgen's (an empty document is
			// also its "no operation provided").
			if !stockRefused || errorCode(g) != "BAD_USER_INPUT" {
				t.Fatalf("refused: %s; gqlgen's HTTP %d %s", got.Body, want.Code, want.Body)
			}
			return
		}
		if got.Code != http.StatusOK || strings.HasPrefix(errorMessage(w), decoding) {
			t.Fatalf("HTTP %d %s; gqlgen's HTTP %d %s", got.Code, got.Body, want.Code, want.Body)
		}
		if !reflect.DeepEqual(g, w) {
			t.Fatalf("got  %s\nwant %s", got.Body, want.Body)
		}
	})
}
