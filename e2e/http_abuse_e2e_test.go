package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/graph"
	"github.com/partnercenter/multichannel/internal/app"
	"github.com/partnercenter/multichannel/internal/httpapi"
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
	spreads.WriteString("{ " + numbered("...F", " ", graph.DefaultMaxSelections-1) + "}")
	for i := range graph.DefaultMaxSelections - 1 {
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
		{"fields-over-selections", "{ " + numbered("f", " ", graph.DefaultMaxSelections+1) + "}", "COMPLEXITY_LIMIT_EXCEEDED", ""},
		{"fields-under-selections", "{ " + numbered("f", " ", graph.DefaultMaxSelections) + "}", "GRAPHQL_VALIDATION_FAILED", ""},
		{"mutation-fields-under-selections", onboard + numbered("f", " ", graph.DefaultMaxSelections-1) + "}", "GRAPHQL_VALIDATION_FAILED", ""},
		{"same-field-11", "{ " + strings.Repeat("__typename ", 11) + "}", "COMPLEXITY_LIMIT_EXCEEDED", ""},
		{"repeats-at-every-level", "{ " + nested + "}", "COMPLEXITY_LIMIT_EXCEEDED", ""},
		{"aliases-under-selections", "{ " + numbered("a", ": __typename ", graph.DefaultMaxSelections) + "}", "COMPLEXITY_LIMIT_EXCEEDED", "UNAUTHENTICATED"},
		{"nesting-under-tokens", strings.Repeat("{ a ", graph.DefaultMaxTokens/3-1) + strings.Repeat("}", graph.DefaultMaxTokens/3-1), "GRAPHQL_VALIDATION_FAILED", ""},
		{"variables-over-tokens", "query(" + strings.Repeat("$v: Int ", graph.DefaultMaxTokens/4+1) + ") { __typename }", "COMPLEXITY_LIMIT_EXCEEDED", ""},
		{"spread-pairs-under-tokens", spreads.String(), "", "UNAUTHENTICATED"},
		{"directives-over-tokens", "{ __typename " + strings.Repeat("@include(if: true) ", graph.DefaultMaxTokens/7+1) + "}", "COMPLEXITY_LIMIT_EXCEEDED", ""},
		{"variables-under-tokens", "query(" + strings.Repeat("$v: Int ", graph.DefaultMaxTokens/4-5) + ") { __typename }", "GRAPHQL_VALIDATION_FAILED", ""},
		{"unterminated-string", `{ __type(name: "` + strings.Repeat("x", graph.DefaultMaxDocumentBytes-100), "GRAPHQL_PARSE_FAILED", "UNAUTHENTICATED"},
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

// withServerLimits sets the HTTP server's timeouts and connection cap.
func withServerLimits(l httpapi.ServerLimits) serverOption {
	return func(c *setup) { c.Ops.Server = l }
}

// shortTimeouts are the server's timeouts shortened for a test; the
// header timeout is long for tests that hold connections open.
var shortTimeouts = httpapi.ServerLimits{
	ReadHeaderTimeout: 200 * time.Millisecond,
	ReadTimeout:       400 * time.Millisecond,
	WriteTimeout:      5 * time.Second,
	IdleTimeout:       200 * time.Millisecond,
}

func dialRaw(t *testing.T, ts *testServer) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(ts.url, "http://"))
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedByServer reads c until the server closes it and returns what it
// read. The read deadline only keeps a broken server from hanging the
// test: reaching it fails, as a connection the server kept open.
func closedByServer(t *testing.T, c net.Conn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	b, err := io.ReadAll(c)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("the server kept the connection open (read %q)", b)
	}
	return string(b)
}

func TestAbuseHTTPSlowHeaders(t *testing.T) {
	ts := startServer(t, withServerLimits(shortTimeouts))
	base := runtime.NumGoroutine()
	var wg sync.WaitGroup
	for range 20 {
		c := dialRaw(t, ts)
		// Headers that never end.
		fmt.Fprintf(c, "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n")
		wg.Add(1)
		go func() {
			defer wg.Done()
			if got := closedByServer(t, c); strings.Contains(got, "200 OK") {
				t.Errorf("a request without the end of its headers was answered: %q", got)
			}
		}()
	}
	wg.Wait()
	goroutinesBackTo(t, base)
}

func TestAbuseHTTPTricklingBody(t *testing.T) {
	ts := startServer(t, withServerLimits(shortTimeouts))
	u := ts.user(uuid.New(), domain.RoleAuditor)
	base := runtime.NumGoroutine()
	var wg sync.WaitGroup
	for range 10 {
		c := dialRaw(t, ts)
		fmt.Fprintf(c, "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer %s\r\nContent-Length: 100000\r\n\r\n", u.token)
		wg.Add(2)
		go func() {
			// One byte at a time, until the server stops taking them.
			defer wg.Done()
			for range 1000 {
				if _, err := c.Write([]byte(" ")); err != nil {
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
		}()
		go func() {
			defer wg.Done()
			got := closedByServer(t, c)
			if !strings.HasPrefix(got, "HTTP/1.1 400 ") {
				t.Errorf("a trickling body was answered %q, want HTTP 400 and closed", got)
			}
			c.Close() // ends the writer
		}()
	}
	wg.Wait()
	goroutinesBackTo(t, base)
}

func TestAbuseHTTPIdleKeepAliveConnections(t *testing.T) {
	ts := startServer(t, withServerLimits(shortTimeouts))
	base := runtime.NumGoroutine()
	var wg sync.WaitGroup
	for range 20 {
		c := dialRaw(t, ts)
		fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Close {
			t.Fatalf("GET /healthz: HTTP %d, close %v; want 200 on a kept-alive connection", resp.StatusCode, resp.Close)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if got := closedByServer(t, c); got != "" {
				t.Errorf("an idle connection got %q", got)
			}
		}()
	}
	wg.Wait()
	goroutinesBackTo(t, base)
}

func TestAbuseHTTPConnectionFlood(t *testing.T) {
	const maxConns = 20
	ts := startServer(t, withServerLimits(httpapi.ServerLimits{MaxConns: maxConns}))
	base := runtime.NumGoroutine()
	hold := func() []net.Conn {
		conns := make([]net.Conn, maxConns)
		for i := range conns {
			conns[i] = dialRaw(t, ts)
		}
		return conns
	}
	// refusedPast checks that a connection past the cap is answered 503
	// with Retry-After and closed, whatever it sends.
	refusedPast := func() {
		t.Helper()
		for range 10 {
			c := dialRaw(t, ts)
			fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
			got := closedByServer(t, c)
			if !strings.HasPrefix(got, "HTTP/1.1 503 ") || !strings.Contains(got, "Retry-After: 1\r\n") {
				t.Fatalf("a connection past MAX_CONNS got %q, want 503 with Retry-After", got)
			}
		}
	}
	held := hold()
	refusedPast()
	for _, c := range held {
		c.Close()
	}
	// The places come back once the server sees the connections closed.
	noKeepAlive := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for i := 0; ; i++ {
		resp, err := noKeepAlive.Get(ts.url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if i == 500 {
			t.Fatalf("no place came back after the connections closed: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// All of them: the cap holds again at the same count. The server
	// gives a place back once it has read a closed connection's end, a
	// moment after the client closed it, and until every place is back
	// some new connections are refused and the 21st is not. So each new
	// connection asks for /healthz, and the round starts again until all
	// of them are answered 200 (and stay open, idle).
	for round := 0; ; round++ {
		held = hold()
		if allServed(held) {
			break
		}
		for _, c := range held {
			c.Close()
		}
		if round == 100 {
			t.Fatal("the places did not all come back after the connections closed")
		}
		time.Sleep(20 * time.Millisecond)
	}
	refusedPast()
	for _, c := range held {
		c.Close()
	}
	goroutinesBackTo(t, base)
}

// allServed reports whether every connection answers a /healthz request
// with 200 and keeps the connection open.
func allServed(conns []net.Conn) bool {
	ok := true
	for _, c := range conns {
		fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			ok = false // refused, and reset before its answer was read
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		c.SetReadDeadline(time.Time{})
		ok = ok && resp.StatusCode == 200 && !resp.Close
	}
	return ok
}

func TestAbuseHTTPRequestFloodPastTheRateLimit(t *testing.T) {
	const burst = 5
	ts := startServer(t, withOps(func(o *app.OpsConfig) { o.RateLimit, o.RateBurst = 0.001, burst }))
	u := ts.user(uuid.New(), domain.RoleAuditor)
	other := ts.user(uuid.New(), domain.RoleAuditor)
	c := abuseClient(t)
	base := runtime.NumGoroutine()
	const requests = 40
	results := make([]gqlResponse, requests)
	var wg sync.WaitGroup
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = u.postWith(c, `{ __typename }`, nil)
		}()
	}
	wg.Wait()
	ok, limited := 0, 0
	for _, r := range results {
		switch {
		case r.code() == "" && r.status == 200:
			ok++
		case r.code() == "RATE_LIMITED" && r.status == http.StatusTooManyRequests:
			limited++
			if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s < 1 {
				t.Errorf("Retry-After %q, want a number of seconds", r.header.Get("Retry-After"))
			}
			if _, ok := r.Errors[0].Extensions["retryAfterSeconds"].(float64); !ok {
				t.Errorf("extensions %v, want retryAfterSeconds", r.Errors[0].Extensions)
			}
		default:
			t.Errorf("HTTP %d %+v", r.status, r.Errors)
		}
	}
	if ok != burst || limited != requests-burst {
		t.Fatalf("%d answered and %d RATE_LIMITED of %d, want %d and %d", ok, limited, requests, burst, requests-burst)
	}
	// Another tenant's bucket is its own.
	if r := other.postWith(c, `{ __typename }`, nil); r.code() != "" {
		t.Fatalf("another tenant: %+v", r.Errors)
	}
	c.CloseIdleConnections()
	goroutinesBackTo(t, base)
}

// MAX_BODY_BYTES sets the body limit, which stays with -limits=false.
func TestAbuseHTTPBodyLimitIsConfigurable(t *testing.T) {
	const limit = 4096
	ts := startServer(t, withOps(func(o *app.OpsConfig) { o.MaxBodyBytes, o.NoLimits = limit, true }))
	u := ts.user(uuid.New(), domain.RoleAuditor)
	post := func(body string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, ts.url+"/graphql", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+u.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out gqlResponse
		json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out.code()
	}
	doc := `{"query":"{ __typename }`
	exact := doc + strings.Repeat(" ", limit-len(doc)-2) + `"}`
	if status, code := post(exact); status != 200 || code != "" {
		t.Fatalf("a body of exactly MAX_BODY_BYTES: HTTP %d %s", status, code)
	}
	if status, code := post(exact + " "); status != http.StatusRequestEntityTooLarge || code != "BAD_USER_INPUT" {
		t.Fatalf("a body one byte over MAX_BODY_BYTES: HTTP %d %s, want 413 BAD_USER_INPUT", status, code)
	}
}
