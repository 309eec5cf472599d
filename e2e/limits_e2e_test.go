package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/internal/app"
)

// withOps changes the server's operational settings.
func withOps(f func(*app.OpsConfig)) serverOption { return func(c *setup) { f(&c.Ops) } }

// get fetches path and returns the status and body.
func (ts *testServer) get(path string) (int, string) {
	ts.t.Helper()
	resp, err := http.Get(ts.url + path)
	if err != nil {
		ts.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// metric returns the value of the series line (name{labels}) in /metrics,
// or -1 when it is absent.
func (ts *testServer) metric(series string) float64 {
	ts.t.Helper()
	_, text := ts.get("/metrics")
	for _, l := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(l, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				ts.t.Fatalf("metric %s: %v", l, err)
			}
			return f
		}
	}
	return -1
}

// opsEventually polls cond for up to 10 s.
func opsEventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// deep returns a document nested depth levels deep.
func deep(depth int) string {
	var b strings.Builder
	b.WriteString(`{ customer(id: "00000000-0000-0000-0000-000000000001") {`)
	for level := 2; level < depth; level++ {
		if level%2 == 0 {
			b.WriteString(" subscriptions {")
		} else {
			b.WriteString(" customer {")
		}
	}
	b.WriteString(" id" + strings.Repeat(" }", depth-1) + " }")
	return b.String()
}

func aliased(n int) string {
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		fmt.Fprintf(&b, " v%d: viewer { userId }", i)
	}
	return b.String() + " }"
}

func TestOperations(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	u := ts.user(uuid.New(), domain.RoleGlobalAdmin)

	t.Run("probes", func(t *testing.T) {
		ts := ts.forTest(t)
		if code, body := ts.get("/healthz"); code != 200 || body != "ok\n" {
			t.Errorf("/healthz: %d %q", code, body)
		}
		opsEventually(t, "/readyz ready", func() bool { code, _ := ts.get("/readyz"); return code == 200 })
	})

	t.Run("metrics", func(t *testing.T) {
		ts := ts.forTest(t)
		u := *u
		u.ts = ts
		u.ok(nil, `query Me { viewer { userId } }`, nil)
		ts.anonymous().refused("UNAUTHENTICATED", `query Me { viewer { userId } }`, nil)
		if v := ts.metric(`multichannel_graphql_requests_total{code="OK",operation="Me",type="query"}`); v != 1 {
			t.Errorf("OK requests of Me: %v", v)
		}
		// Refused before its document is read (production parses nothing
		// without a caller): counted under the name the request gave,
		// none here ("anonymous"), and the type "unknown".
		if v := ts.metric(`multichannel_graphql_requests_total{code="UNAUTHENTICATED",operation="anonymous",type="unknown"}`); v != 1 {
			t.Errorf("UNAUTHENTICATED requests: %v", v)
		}
		if v := ts.metric(`multichannel_graphql_request_duration_seconds_count{operation="Me",type="query"}`); v != 1 {
			t.Errorf("latency observations of Me: %v", v)
		}
		// An enrolment is one append: the store's metrics see its commit.
		u.ok(nil, mEnroll, map[string]any{"in": map[string]any{"name": "Metrics CSP", "cloud": "PUBLIC"}})
		if v := ts.metric(`multichannel_store_appends_total`); v < 1 {
			t.Errorf("store appends: %v", v)
		}
		if v := ts.metric(`multichannel_store_commit_duration_seconds_count`); v < 1 {
			t.Errorf("commits: %v", v)
		}
		if v := ts.metric(`multichannel_projection_lag_events`); v != 0 {
			t.Errorf("lag after a confirmed mutation: %v", v)
		}
		if v := ts.metric(`multichannel_http_requests_total{route="graphql",status="200"}`); v < 3 {
			t.Errorf("HTTP requests: %v", v)
		}
	})

	t.Run("live-feed subscribers", func(t *testing.T) {
		ts := ts.forTest(t)
		c, err := dialWS(t, ts, u.token)
		if err != nil {
			t.Fatal(err)
		}
		const gauge = `multichannel_livefeed_subscribers`
		c.send(map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{"query": `subscription { eventAppended { type } }`}})
		c.send(map[string]any{"id": "2", "type": "subscribe", "payload": map[string]any{"query": `subscription { eventAppended { stream } }`}})
		opsEventually(t, "two subscribers", func() bool { return ts.metric(gauge) == 2 })
		c.send(map[string]any{"id": "1", "type": "complete"})
		opsEventually(t, "one subscriber after complete", func() bool { return ts.metric(gauge) == 1 })
		c.conn.CloseNow()
		opsEventually(t, "no subscriber after the socket closed", func() bool { return ts.metric(gauge) == 0 })
		if v := ts.metric(`multichannel_graphql_requests_total{code="OK",operation="anonymous",type="subscription"}`); v != 2 {
			t.Errorf("ended subscriptions: %v", v)
		}
	})
}

// Every refusal of a hostile request, through real HTTP requests.
func TestLimits(t *testing.T) {
	t.Parallel()
	// As production starts by default: introspection off.
	ts := startServer(t, func(c *setup) { c.Introspection = false })
	u := ts.user(uuid.New(), domain.RoleGlobalAdmin)

	r := u.refused("COMPLEXITY_LIMIT_EXCEEDED", deep(16), nil)
	if !strings.Contains(r.Errors[0].Message, "16 levels deep") {
		t.Errorf("depth refusal: %+v", r.Errors)
	}
	if r := u.do(deep(15), nil); r.code() == "COMPLEXITY_LIMIT_EXCEEDED" && strings.Contains(r.Errors[0].Message, "deep") {
		t.Errorf("depth 15 refused: %+v", r.Errors)
	}
	r = u.refused("COMPLEXITY_LIMIT_EXCEEDED", aliased(31), nil)
	if !strings.Contains(r.Errors[0].Message, "31 aliases") {
		t.Errorf("alias refusal: %+v", r.Errors)
	}
	u.ok(nil, aliased(30), nil)
	r = u.refused("COMPLEXITY_LIMIT_EXCEEDED", `{ customers(first: 100) { edges { node { relationships { customer { subscriptions { id } } } } } } }`, nil)
	if !strings.Contains(r.Errors[0].Message, "complexity") {
		t.Errorf("complexity refusal: %+v", r.Errors)
	}
	if v := ts.metric(`multichannel_graphql_requests_total{code="COMPLEXITY_LIMIT_EXCEEDED",operation="anonymous",type="query"}`); v != 4 {
		t.Errorf("refusals counted: %v", v)
	}

	// Production: no introspection (unless asked), no playground.
	r = u.refused("GRAPHQL_VALIDATION_FAILED", `{ __schema { types { name } } }`, nil)
	if len(r.Data) > 0 && string(r.Data) != "null" {
		t.Errorf("introspection answered %s", r.Data)
	}
	if code, _ := ts.get("/"); code != http.StatusNotFound {
		t.Errorf("playground in production: HTTP %d", code)
	}
}

func TestBodyLimit(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	u := ts.user(uuid.New(), domain.RoleGlobalAdmin)
	post := func(body io.Reader, length int64) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, ts.url+"/graphql", body)
		req.ContentLength = length // -1: chunked
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+u.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	// A valid document padded to exactly 1 MiB passes.
	doc := `{"query":"{ viewer { userId } }`
	exact := doc + strings.Repeat(" ", 1<<20-len(doc)-2) + `"}`
	if resp := post(strings.NewReader(exact), int64(len(exact))); resp.StatusCode != 200 {
		t.Errorf("1 MiB body: HTTP %d", resp.StatusCode)
	}
	over := exact + " "
	if resp := post(strings.NewReader(over), int64(len(over))); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("declared 1 MiB + 1: HTTP %d", resp.StatusCode)
	}
	// Chunked: no length is declared; the server stops reading at the limit.
	if resp := post(io.MultiReader(strings.NewReader(over), bytes.NewReader(make([]byte, 4<<20))), -1); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked 5 MiB: HTTP %d", resp.StatusCode)
	}
	if resp := post(io.MultiReader(strings.NewReader(exact)), -1); resp.StatusCode != 200 {
		t.Errorf("chunked 1 MiB: HTTP %d", resp.StatusCode)
	}
	if v := ts.metric(`multichannel_http_requests_total{route="graphql",status="413"}`); v != 2 {
		t.Errorf("413s counted: %v", v)
	}
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	ts := startServer(t, withOps(func(o *app.OpsConfig) { o.RateLimit = 0.5; o.RateBurst = 2 }))
	tenant := uuid.New()
	u := ts.user(tenant, domain.RoleGlobalAdmin)
	colleague := ts.user(tenant, domain.RoleSalesAgent)
	other := ts.user(uuid.New(), domain.RoleGlobalAdmin)
	q := `{ viewer { userId } }`
	u.ok(nil, q, nil)
	u.ok(nil, q, nil)
	// The bucket is per tenant: a colleague of the same tenant is refused too.
	r := colleague.do(q, nil)
	if r.code() != "RATE_LIMITED" || r.status != http.StatusTooManyRequests {
		t.Fatalf("third request: HTTP %d %+v", r.status, r.Errors)
	}
	after, err := strconv.Atoi(r.header.Get("Retry-After"))
	if err != nil || after < 1 || after > 2 {
		t.Errorf("Retry-After %q", r.header.Get("Retry-After"))
	}
	if s, _ := r.Errors[0].Extensions["retryAfterSeconds"].(float64); int(s) != after {
		t.Errorf("extensions.retryAfterSeconds %v, Retry-After %d", r.Errors[0].Extensions["retryAfterSeconds"], after)
	}
	if r.header.Get("X-Correlation-ID") == "" {
		t.Error("a refused request has no correlation id")
	}
	other.ok(nil, q, nil)
	if v := ts.metric(`multichannel_graphql_requests_total{code="RATE_LIMITED",operation="anonymous",type="unknown"}`); v != 1 {
		t.Errorf("RATE_LIMITED counted: %v", v)
	}

	// Production defaults to a limit; development to none.
	for env, want := range map[string]float64{"production": app.DefaultRateLimit, "development": 0} {
		c, err := app.ParseConfig([]string{"-env", env, "-jwt-secret", testSecret})
		if err != nil {
			t.Fatal(err)
		}
		if c.Ops.RateLimit != want {
			t.Errorf("%s: rate limit %v, want %v", env, c.Ops.RateLimit, want)
		}
	}
}

// A request past its deadline is answered UNAVAILABLE (retryable), and the
// server goes on serving.
func TestRequestTimeout(t *testing.T) {
	t.Parallel()
	ts := startServer(t, withOps(func(o *app.OpsConfig) { o.RequestTimeout = time.Nanosecond }))
	u := ts.user(uuid.New(), domain.RoleGlobalAdmin)
	u.refused("UNAVAILABLE", `{ events(first: 5) { totalCount } }`, nil)
	u.refused("UNAVAILABLE", mEnroll, map[string]any{"in": map[string]any{"name": "Late CSP", "cloud": "PUBLIC"}})
	code, _ := ts.get("/healthz")
	if code != 200 {
		t.Errorf("/healthz after timeouts: %d", code)
	}
}

// -limits=false turns every limit off; -metrics=false removes /metrics.
func TestSwitchesOff(t *testing.T) {
	t.Parallel()
	ts := startServer(t, withOps(func(o *app.OpsConfig) {
		o.NoLimits, o.NoMetrics, o.NoRequestLog = true, true, true
		o.RateLimit, o.RateBurst = 0.001, 1
		o.RequestTimeout = time.Nanosecond
	}))
	u := ts.user(uuid.New(), domain.RoleGlobalAdmin)
	u.ok(nil, aliased(31), nil)
	u.ok(nil, aliased(31), nil) // no rate limit
	if r := u.do(deep(16), nil); r.code() == "COMPLEXITY_LIMIT_EXCEEDED" {
		t.Errorf("depth limit with -limits=false: %+v", r.Errors)
	}
	u.ok(nil, `{ events(first: 5) { totalCount } }`, nil) // no deadline
	if code, _ := ts.get("/metrics"); code != http.StatusNotFound {
		t.Errorf("/metrics with -metrics=false: HTTP %d", code)
	}

	// The flags and their environment variables.
	c, err := app.ParseConfig([]string{"-metrics=false", "-request-log=false", "-limits=false"})
	if err != nil {
		t.Fatal(err)
	}
	if !c.Ops.NoMetrics || !c.Ops.NoRequestLog || !c.Ops.NoLimits {
		t.Errorf("flags off: %+v", c.Ops)
	}
	c, err = app.ParseConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Ops.NoMetrics || c.Ops.NoRequestLog || c.Ops.NoLimits || c.Ops.MaxDepth != 15 || c.Ops.MaxAliases != 30 {
		t.Errorf("defaults: %+v", c.Ops)
	}
}

// Production turns introspection and the playground off unless asked.
func TestProductionDefaults(t *testing.T) {
	t.Setenv("APP_ENV", "production")
	t.Setenv("JWT_SECRET", testSecret)
	c, err := app.ParseConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Introspection || c.Playground {
		t.Errorf("production: introspection %v, playground %v", c.Introspection, c.Playground)
	}
	c, err = app.ParseConfig([]string{"-introspection=true", "-playground=true"})
	if err != nil {
		t.Fatal(err)
	}
	if !c.Introspection || !c.Playground {
		t.Errorf("production, asked: introspection %v, playground %v", c.Introspection, c.Playground)
	}
	t.Setenv("INTROSPECTION", "true")
	t.Setenv("METRICS", "false")
	t.Setenv("RATE_LIMIT", "7.5")
	c, err = app.ParseConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Introspection || c.Playground || !c.Ops.NoMetrics || c.Ops.RateLimit != 7.5 {
		t.Errorf("from the environment: %+v", c)
	}
	t.Setenv("RATE_LIMIT", "fast")
	if _, err := app.ParseConfig(nil); err == nil || !regexp.MustCompile(`RATE_LIMIT`).MatchString(err.Error()) {
		t.Errorf("a bad RATE_LIMIT: %v", err)
	}
}
