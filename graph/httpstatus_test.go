package graph_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/graph"
	"github.com/partnercenter/multichannel/internal/auth"
)

// The status and the data entry of each kind of answer follow the
// GraphQL-over-HTTP specification for the media type the client accepts:
// under application/json every answer of a well-formed request is 200;
// under application/graphql-response+json a request refused before it ran
// is a 4xx without a data entry, and one that ran is 200 with its data.
func TestStatusPerMediaType(t *testing.T) {
	t.Parallel()
	secret := []byte("status-test-secret-of-thirty-two-bytes")
	v := auth.NewHS256Verifier(secret)
	// No read model: a resolver that reaches it panics (INTERNAL, with
	// data), which is still an operation that ran.
	srv := graph.NewServer(&graph.Resolver{}, graph.Options{Verifier: v, MaxDepth: 3})
	ts := httptest.NewServer(auth.Middleware(v)(srv))
	t.Cleanup(ts.Close)
	tok, err := auth.MintHS256(secret, domain.Actor{UserID: "u1", TenantID: uuid.New(), Role: domain.RoleAuditor}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}

	const (
		js    = "application/json"
		reply = "application/graphql-response+json"
	)
	tooDeep := `{ customers { edges { node { subscriptions { id } } } } }`
	for _, c := range []struct {
		name, accept, token, body string
		status                    int
		code                      string
		data                      bool // a data entry is present
	}{
		{"ran", reply, tok, `{"query":"{ __typename }"}`, 200, "", true},
		{"ran with a field error", reply, tok, `{"query":"{ customer(id: \"nope\") { id } }"}`, 200, "BAD_USER_INPUT", true},
		{"no token", reply, "", `{"query":"{ viewer { userId } }"}`, 401, "UNAUTHENTICATED", false},
		{"no token, JSON", js, "", `{"query":"{ viewer { userId } }"}`, 200, "UNAUTHENTICATED", true},
		{"parse failure", reply, tok, `{"query":"{"}`, 400, "GRAPHQL_PARSE_FAILED", false},
		{"parse failure, JSON", js, tok, `{"query":"{"}`, 200, "GRAPHQL_PARSE_FAILED", true},
		{"validation failure", reply, tok, `{"query":"{ nope }"}`, 400, "GRAPHQL_VALIDATION_FAILED", false},
		{"validation failure, accept anything", "*/*", tok, `{"query":"{ nope }"}`, 200, "GRAPHQL_VALIDATION_FAILED", true},
		{"variables that do not coerce", reply, tok, `{"query":"query($n: Int!) { events(first: $n) { totalCount } }","variables":{"n":"x"}}`, 400, "GRAPHQL_VALIDATION_FAILED", false},
		{"over a document limit", reply, tok, `{"query":"` + tooDeep + `"}`, 400, "COMPLEXITY_LIMIT_EXCEEDED", false},
		{"over a document limit, JSON", js, tok, `{"query":"` + tooDeep + `"}`, 200, "COMPLEXITY_LIMIT_EXCEEDED", true},
		{"unknown persisted query", reply, tok, `{"extensions":{"persistedQuery":{"version":1,"sha256Hash":"` + strings.Repeat("a", 64) + `"}}}`, 404, "PERSISTED_QUERY_NOT_FOUND", false},
		{"no query", js, tok, `{"variables":{}}`, 400, "BAD_USER_INPUT", true},
		{"body not JSON", reply, tok, `{"query":`, 400, "BAD_USER_INPUT", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, ts.URL, bytes.NewReader([]byte(c.body)))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", c.accept)
			if c.token != "" {
				req.Header.Set("Authorization", "Bearer "+c.token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var doc map[string]json.RawMessage
			if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
				t.Fatalf("HTTP %d: %v", resp.StatusCode, err)
			}
			var errs []struct {
				Extensions map[string]any `json:"extensions"`
			}
			json.Unmarshal(doc["errors"], &errs)
			code := ""
			if len(errs) > 0 {
				code, _ = errs[0].Extensions["code"].(string)
			}
			_, data := doc["data"]
			want := c.accept
			if want == "*/*" {
				want = js
			}
			if resp.StatusCode != c.status || code != c.code || data != c.data || resp.Header.Get("Content-Type") != want {
				t.Errorf("HTTP %d %s, code %q, data entry %v; want %d %s, %q, %v\n%s",
					resp.StatusCode, resp.Header.Get("Content-Type"), code, data, c.status, want, c.code, c.data, doc)
			}
		})
	}
}
