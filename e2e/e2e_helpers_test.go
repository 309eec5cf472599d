package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/eventstore/esdb/esdbtest"
	"github.com/partnercenter/multichannel/internal/app"
	"github.com/partnercenter/multichannel/internal/auth"
	"github.com/partnercenter/multichannel/internal/command"
)

// testSecret signs the tokens of the end-to-end tests.
const testSecret = "end-to-end-test-secret-of-32-bytes!"

// testServer is the real server, built by app.New and served on a loopback port with
// a fresh store, and a clock the test can move forward.
type testServer struct {
	t   *testing.T
	url string
	// handler is the application's root handler, for requests a client
	// on loopback cannot make (another RemoteAddr).
	handler http.Handler
	offset  *atomic.Int64 // nanoseconds added to the wall clock
	cancel  context.CancelFunc
	done    chan error
}

// setup is what startServer builds the application from: the operator's
// configuration and the application's exported options.
type setup struct {
	app.Config
	opts []app.Option
}

type serverOption func(*setup)

func startServer(t *testing.T, opts ...serverOption) *testServer {
	t.Helper()
	ts := &testServer{t: t, done: make(chan error, 1), offset: new(atomic.Int64)}
	s := setup{Config: app.Config{
		Env:             "production",
		Addr:            "127.0.0.1:0",
		EventsDB:        filepath.Join(t.TempDir(), "events.db"),
		JWTSecret:       testSecret,
		Introspection:   true,
		ExpirySweep:     50 * time.Millisecond,
		CatchUpTimeout:  5 * time.Second,
		ShutdownTimeout: 5 * time.Second,
		ClaimGrace:      command.DefaultClaimGrace,
	}, opts: []app.Option{
		app.WithClock(func() time.Time { return time.Now().Add(time.Duration(ts.offset.Load())) }),
		app.WithHandoffChecks(),
	}}
	for _, o := range opts {
		o(&s)
	}
	a, err := app.New(s.Config, s.opts...)
	if err != nil {
		t.Fatalf("server did not start: %v", err)
	}
	ts.handler = a.Handler()
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		a.Close()
		t.Fatal(err)
	}
	ts.url = "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	ts.cancel = cancel
	go func() { ts.done <- a.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-ts.done:
			if err != nil {
				t.Errorf("server shutdown: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("server did not stop within 20s")
		}
	})
	return ts
}

// forTest returns the same server with helpers that report to t (a subtest).
func (ts *testServer) forTest(t *testing.T) *testServer {
	c := *ts
	c.t = t
	return &c
}

// advance moves the server's clock forward.
func (ts *testServer) advance(d time.Duration) { ts.offset.Add(int64(d)) }

// user is a caller with a token.
type user struct {
	ts     *testServer
	id     string // the token's sub
	tenant uuid.UUID
	role   domain.Role
	token  string
}

func (ts *testServer) user(tenant uuid.UUID, role domain.Role) *user {
	ts.t.Helper()
	a := domain.Actor{UserID: "user-" + strings.ToLower(string(role)) + "-" + tenant.String()[:8], TenantID: tenant, Role: role}
	tok, err := auth.MintHS256([]byte(testSecret), a, time.Hour, time.Now())
	if err != nil {
		ts.t.Fatal(err)
	}
	return &user{ts: ts, id: a.UserID, tenant: tenant, role: role, token: tok}
}

// anonymous is a caller without a token.
func (ts *testServer) anonymous() *user { return &user{ts: ts} }

type gqlError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

type gqlResponse struct {
	Data   json.RawMessage `json:"data"`
	Errors []gqlError      `json:"errors"`
	status int
	header http.Header
}

// code returns the first error's extensions.code, or "" without errors.
func (r gqlResponse) code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

// do posts one GraphQL request.
func (u *user) do(query string, vars map[string]any, headers ...string) gqlResponse {
	u.ts.t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, u.ts.url+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if u.token != "" {
		req.Header.Set("Authorization", "Bearer "+u.token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		u.ts.t.Fatalf("POST /graphql: %v", err)
	}
	defer resp.Body.Close()
	var out gqlResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		u.ts.t.Fatalf("decode response (HTTP %d): %v", resp.StatusCode, err)
	}
	out.status = resp.StatusCode
	out.header = resp.Header
	return out
}

// ok runs a request that must succeed and decodes its data into out.
func (u *user) ok(out any, query string, vars map[string]any) {
	u.ts.t.Helper()
	r := u.do(query, vars)
	if len(r.Errors) > 0 {
		u.ts.t.Fatalf("unexpected errors: %+v\nquery: %s\nvars: %v", r.Errors, query, vars)
	}
	if out != nil {
		if err := json.Unmarshal(r.Data, out); err != nil {
			u.ts.t.Fatalf("decode data %s: %v", r.Data, err)
		}
	}
}

// refused runs a request that must fail with code, and checks that its
// data field is null (nothing half-done is answered).
func (u *user) refused(code string, query string, vars map[string]any) gqlResponse {
	u.ts.t.Helper()
	r := u.do(query, vars)
	if got := r.code(); got != code {
		u.ts.t.Fatalf("want code %s, got %q (errors %+v)\nquery: %s\nvars: %v", code, got, r.Errors, query, vars)
	}
	return r
}

// eventCount returns how many events the auditor sees in the log: a refused
// mutation must not change it.
func (ts *testServer) eventCount(auditor *user) int {
	ts.t.Helper()
	var d struct {
		Events struct{ TotalCount int } `json:"events"`
	}
	auditor.ok(&d, `{ events(first: 0) { totalCount } }`, nil)
	return d.Events.TotalCount
}

// withEventStore points the server at an EventStoreDB (real or the
// protocol double) instead of the embedded file.
func withEventStore(url string) serverOption { return func(c *setup) { c.EventStoreURL = url } }

// stores lists the stores the end-to-end tests run against: the embedded
// file and the EventStoreDB protocol double always, a real EventStoreDB
// when EVENTSTORE_URL names one.
func stores(t *testing.T) map[string][]serverOption {
	m := map[string][]serverOption{
		"sqlite":              nil,
		"eventstoredb-double": {withEventStore(esdbtest.Start(t))},
	}
	if url := os.Getenv("EVENTSTORE_URL"); url != "" {
		m["eventstoredb"] = []serverOption{withEventStore(url)}
	} else {
		t.Log("EVENTSTORE_URL is not set: the end-to-end tests run on the embedded store and the EventStoreDB double only")
	}
	return m
}

// tamper changes one character in the middle of a token's signature. (The
// last base64url character of a signature carries padding bits a decoder
// may ignore, so changing it does not always change the signature.)
func tamper(token string) string {
	i := len(token) - 10
	c := byte('A')
	if token[i] == 'A' {
		c = 'B'
	}
	return token[:i] + string(c) + token[i+1:]
}
