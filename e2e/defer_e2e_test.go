package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

const qDeferCustomer = `query($id: ID!) { customer(id: $id) { id ... @defer(label: "rest") { name subscriptions { id } } } }`

// deferWorld is a customer with one subscription, read by its Global admin.
func deferWorld(t *testing.T) (*testServer, *world, string) {
	ts := startServer(t)
	w := newWorld(t, ts)
	sub := w.record(w.c, "USAGE_BASED", "ENTERPRISE_AGREEMENT", nil, nil, "Virtual Machines")
	return ts, w, sub.ID
}

// @defer over HTTP: with Accept allowing multipart/mixed, the answer is
// multipart/mixed, the initial part without the deferred fields and
// hasNext true, then the deferred fields at their path and hasNext false;
// without it, one JSON answer with every field (none null).
func TestDeferMultipartMixed(t *testing.T) {
	ts, w, subID := deferWorld(t)
	ask := func(accept string) *http.Response {
		body, _ := json.Marshal(map[string]any{"query": qDeferCustomer, "variables": map[string]any{"id": w.c.String()}})
		req, _ := http.NewRequest(http.MethodPost, ts.url+"/graphql", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", accept)
		req.Header.Set("Authorization", "Bearer "+w.cGA.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}

	t.Run("multipart", func(t *testing.T) {
		// What Apollo Client sends.
		resp := ask("multipart/mixed;deferSpec=20220824,application/json")
		mediaType, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
		if err != nil || mediaType != "multipart/mixed" || params["deferspec"] != "20220824" || resp.StatusCode != 200 {
			t.Fatalf("answer %d %q: %v", resp.StatusCode, resp.Header.Get("Content-Type"), err)
		}
		mr := multipart.NewReader(resp.Body, params["boundary"])
		var parts []map[string]any
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("part %d: %v", len(parts), err)
			}
			if ct := p.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Fatalf("part %d has Content-Type %q", len(parts), ct)
			}
			var v map[string]any
			if err := json.NewDecoder(p).Decode(&v); err != nil {
				t.Fatalf("part %d: %v", len(parts), err)
			}
			parts = append(parts, v)
		}
		if len(parts) != 2 {
			t.Fatalf("%d parts, want 2: %v", len(parts), parts)
		}
		// The initial part has no null in a non-null field: a deferred
		// field not resolved yet is left out, not null.
		initial, _ := json.Marshal(parts[0])
		if parts[0]["hasNext"] != true || !strings.Contains(string(initial), `"id":"`+w.c.String()+`"`) || strings.Contains(string(initial), "null") {
			t.Errorf("initial part %s", initial)
		}
		inc, _ := parts[1]["incremental"].([]any)
		if parts[1]["hasNext"] != false || len(inc) != 1 {
			t.Fatalf("second part %v", parts[1])
		}
		item, _ := json.Marshal(inc[0])
		for _, want := range []string{`"path":["customer"]`, `"label":"rest"`, `"subscriptions":[{"id":"` + subID + `"}]`} {
			if !strings.Contains(string(item), want) {
				t.Errorf("incremental item %s lacks %s", item, want)
			}
		}
		// Every field is in one part or the other.
		if !strings.Contains(string(initial)+string(item), `"name":"Fabrikam"`) {
			t.Errorf("name in neither part: %s %s", initial, item)
		}
	})

	t.Run("json", func(t *testing.T) {
		for _, accept := range []string{"application/json", "application/graphql-response+json"} {
			resp := ask(accept)
			b, _ := io.ReadAll(resp.Body)
			var out struct {
				Data struct {
					Customer struct {
						ID, Name      string
						Subscriptions []struct{ ID string }
					}
				}
				HasNext *bool
				Errors  []any
			}
			if err := json.Unmarshal(b, &out); err != nil || resp.StatusCode != 200 {
				t.Fatalf("%s: %d %s: %v", accept, resp.StatusCode, b, err)
			}
			c := out.Data.Customer
			if c.ID != w.c.String() || c.Name != "Fabrikam" || len(c.Subscriptions) != 1 || c.Subscriptions[0].ID != subID || out.HasNext != nil || out.Errors != nil {
				t.Errorf("%s: %s", accept, b)
			}
		}
	})
}

// Apollo Client (4, with its 2022-08-24 defer handler), from clients/,
// runs the deferred query against the real server: it gets the initial
// result, then the complete one with the deferred fields, and no error.
func TestDeferApolloClient(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := nodeScript(t, ctx, "apollo-defer.mjs")
	ts, w, subID := deferWorld(t)
	cmd.Env = append(os.Environ(), "GRAPHQL_URL="+ts.url+"/graphql", "GRAPHQL_TOKEN="+w.cGA.token,
		"QUERY="+qDeferCustomer, "CUSTOMER_ID="+w.c.String())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("apollo-defer.mjs: %v\n%s\n%s", err, out, stderr.String())
	}
	t.Logf("Apollo Client emitted:\n%s", out)
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var last struct {
		Data struct {
			Customer struct {
				ID, Name      string
				Subscriptions []struct{ ID string }
			}
		}
		Error   any
		Results int
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	c := last.Data.Customer
	if last.Error != nil || c.Name != "Fabrikam" || len(c.Subscriptions) != 1 || c.Subscriptions[0].ID != subID || last.Results < 2 {
		t.Fatalf("Apollo Client's results:\n%s\n%s", out, stderr.String())
	}
}
