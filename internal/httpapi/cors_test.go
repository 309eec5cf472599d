package httpapi_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/internal/auth"
	"github.com/partnercenter/multichannel/internal/httpapi"
	"github.com/partnercenter/multichannel/internal/ratelimit"
)

var corsSecret = []byte("cors-test-secret-of-thirty-two-bytes!")

// corsServer is the HTTP surface on a loopback port, in front of a stand-in
// GraphQL handler that answers with a consistency token, as a mutation does.
func corsServer(t *testing.T, c httpapi.CORS, limiter *ratelimit.Limiter[uuid.UUID]) *httptest.Server {
	t.Helper()
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Consistency-Token", "42")
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"data":{"__typename":"Query"}}`)
	})
	ts := httptest.NewServer(httpapi.New(api, auth.NewHS256Verifier(corsSecret), httpapi.Config{CORS: c, RateLimiter: limiter, Export: api}))
	t.Cleanup(ts.Close)
	return ts
}

// The headers a browser sends in a preflight for a POST of JSON with every
// header the API reads (lower case, as the Fetch standard sends them).
const requestedHeaders = "authorization,content-type,idempotency-key,traceparent,x-consistency-token,x-correlation-id"

func preflight(t *testing.T, ts *httptest.Server, path, origin, headers string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodOptions, ts.URL+path, nil)
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", http.MethodPost)
	if headers != "" {
		req.Header.Set("Access-Control-Request-Headers", headers)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func actual(t *testing.T, ts *httptest.Server, origin, token string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/graphql", strings.NewReader(`{"query":"{ __typename }"}`))
	req.Header.Set("Origin", origin)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// headerList splits a comma-separated header into lower-case names.
func headerList(h http.Header, key string) []string {
	var out []string
	for _, v := range h.Values(key) {
		for part := range strings.SplitSeq(v, ",") {
			out = append(out, strings.ToLower(strings.TrimSpace(part)))
		}
	}
	return out
}

func checkAllowed(t *testing.T, ts *httptest.Server, origin string) {
	t.Helper()
	for _, path := range []string{"/graphql", "/audit/export"} {
		p := preflight(t, ts, path, origin, requestedHeaders)
		if p.StatusCode != http.StatusNoContent || p.Header.Get("Access-Control-Allow-Origin") != origin {
			t.Fatalf("preflight of %s from %s: HTTP %d, Allow-Origin %q", path, origin, p.StatusCode, p.Header.Get("Access-Control-Allow-Origin"))
		}
		allowed := headerList(p.Header, "Access-Control-Allow-Headers")
		for _, h := range strings.Split(requestedHeaders, ",") {
			if !slices.Contains(allowed, h) {
				t.Errorf("preflight from %s: %s not allowed (%v)", origin, h, allowed)
			}
		}
		if m := p.Header.Get("Access-Control-Allow-Methods"); m != http.MethodPost {
			t.Errorf("preflight from %s: Allow-Methods %q", origin, m)
		}
		if p.Header.Get("Access-Control-Max-Age") != "600" || !slices.Contains(headerList(p.Header, "Vary"), "origin") {
			t.Errorf("preflight from %s: Max-Age %q, Vary %q", origin, p.Header.Get("Access-Control-Max-Age"), p.Header.Values("Vary"))
		}
		if p.Header.Get("Access-Control-Allow-Credentials") != "" {
			t.Errorf("preflight from %s allows credentials", origin)
		}
	}
	r := actual(t, ts, origin, "")
	if r.StatusCode != http.StatusOK || r.Header.Get("Access-Control-Allow-Origin") != origin {
		t.Fatalf("POST from %s: HTTP %d, Allow-Origin %q", origin, r.StatusCode, r.Header.Get("Access-Control-Allow-Origin"))
	}
	exposed := headerList(r.Header, "Access-Control-Expose-Headers")
	for _, h := range []string{"x-correlation-id", "x-consistency-token", "retry-after"} {
		if !slices.Contains(exposed, h) {
			t.Errorf("POST from %s: %s not exposed (%v)", origin, h, exposed)
		}
	}
}

// A refused origin gets no CORS header, on the preflight or the request
// (which still runs: it is the browser that keeps the answer from the
// page).
func checkRefused(t *testing.T, ts *httptest.Server, origin string) {
	t.Helper()
	p := preflight(t, ts, "/graphql", origin, requestedHeaders)
	if got := p.Header.Get("Access-Control-Allow-Origin"); got != "" || p.Header.Get("Access-Control-Allow-Headers") != "" {
		t.Errorf("preflight from %s: HTTP %d, Allow-Origin %q", origin, p.StatusCode, got)
	}
	r := actual(t, ts, origin, "")
	if got := r.Header.Get("Access-Control-Allow-Origin"); got != "" || r.Header.Get("Access-Control-Expose-Headers") != "" {
		t.Errorf("POST from %s: Allow-Origin %q", origin, got)
	}
}

func TestCORSLoopbackOrigins(t *testing.T) {
	t.Parallel()
	ts := corsServer(t, httpapi.CORS{Loopback: true}, nil)
	for _, o := range []string{"http://localhost:5173", "http://localhost", "https://localhost:8443", "http://127.0.0.1:3000", "http://127.1.2.3:3000", "http://[::1]:8080"} {
		checkAllowed(t, ts, o)
	}
	for _, o := range []string{"https://app.example.com", "http://localhost.example.com", "http://example.com:80", "http://10.0.0.1:3000", "null", "file://", "http://localhost:3000/path"} {
		checkRefused(t, ts, o)
	}
}

func TestCORSConfiguredOrigins(t *testing.T) {
	t.Parallel()
	origins, err := httpapi.ParseCORSOrigins("https://app.example.com, https://*.example.org")
	if err != nil {
		t.Fatal(err)
	}
	ts := corsServer(t, httpapi.CORS{Origins: origins}, nil)
	for _, o := range []string{"https://app.example.com", "https://a.example.org", "https://b.c.example.org"} {
		checkAllowed(t, ts, o)
	}
	// The list replaces the loopback default.
	for _, o := range []string{"http://app.example.com", "https://app.example.com.evil.test", "https://example.org", "http://localhost:5173"} {
		checkRefused(t, ts, o)
	}
}

// Without configuration (production's default) no origin is allowed.
func TestCORSOffByDefault(t *testing.T) {
	t.Parallel()
	ts := corsServer(t, httpapi.CORS{}, nil)
	for _, o := range []string{"http://localhost:5173", "https://app.example.com"} {
		checkRefused(t, ts, o)
	}
}

// A preflight for a header the API does not read is refused.
func TestCORSUnknownRequestHeader(t *testing.T) {
	t.Parallel()
	ts := corsServer(t, httpapi.CORS{Loopback: true}, nil)
	p := preflight(t, ts, "/graphql", "http://localhost:5173", "content-type,x-not-read")
	if p.Header.Get("Access-Control-Allow-Origin") != "" || p.Header.Get("Access-Control-Allow-Headers") != "" {
		t.Errorf("preflight for x-not-read: Allow-Origin %q, Allow-Headers %q", p.Header.Get("Access-Control-Allow-Origin"), p.Header.Get("Access-Control-Allow-Headers"))
	}
}

// A refusal (here the rate limit's 429) carries the CORS headers too, so
// that the page can read its Retry-After.
func TestCORSOnRefusals(t *testing.T) {
	t.Parallel()
	ts := corsServer(t, httpapi.CORS{Loopback: true}, ratelimit.New[uuid.UUID](0.001, 1))
	tok, err := auth.MintHS256(corsSecret, domain.Actor{UserID: "u", TenantID: uuid.New(), Role: domain.RoleAuditor}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	const origin = "http://localhost:5173"
	actual(t, ts, origin, tok)
	r := actual(t, ts, origin, tok)
	if r.StatusCode != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Fatalf("second request: HTTP %d, Retry-After %q", r.StatusCode, r.Header.Get("Retry-After"))
	}
	if r.Header.Get("Access-Control-Allow-Origin") != origin || !slices.Contains(headerList(r.Header, "Access-Control-Expose-Headers"), "retry-after") {
		t.Errorf("429: Allow-Origin %q, Expose-Headers %q", r.Header.Get("Access-Control-Allow-Origin"), r.Header.Values("Access-Control-Expose-Headers"))
	}
}

func TestParseCORSOrigins(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   string
		want []string
		bad  bool
	}{
		{in: "", want: nil},
		{in: "none", want: nil},
		{in: "*", want: []string{"*"}},
		{in: " https://a.example.com ,http://localhost:3000,", want: []string{"https://a.example.com", "http://localhost:3000"}},
		{in: "https://*.example.com", want: []string{"https://*.example.com"}},
		{in: "http://localhost:*", want: []string{"http://localhost:*"}},
		{in: "https://a.example.com/", bad: true},
		{in: "https://a.example.com/app", bad: true},
		{in: "a.example.com", bad: true},
		{in: "ftp://a.example.com", bad: true},
		{in: "https://*.*.example.com", bad: true},
		{in: "https://", bad: true},
		{in: "https://a.example.com:", bad: true},
		{in: "https://user@a.example.com", bad: true},
	} {
		got, err := httpapi.ParseCORSOrigins(c.in)
		if (err != nil) != c.bad || (!c.bad && !slices.Equal(got, c.want)) {
			t.Errorf("ParseCORSOrigins(%q) = %q, %v", c.in, got, err)
		}
	}
}
