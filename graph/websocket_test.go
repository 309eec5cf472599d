package graph_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/eventstore/sqlite"
	"github.com/partnercenter/multichannel/graph"
	"github.com/partnercenter/multichannel/internal/auth"
	"github.com/partnercenter/multichannel/internal/ratelimit"
	"github.com/partnercenter/multichannel/projections"
)

var wsSecret = []byte("websocket-test-secret-0123456789abcdef")

// wsAPI is the GraphQL handler on a loopback HTTP server, over an empty
// store, with a clock the test moves.
type wsAPI struct {
	t      *testing.T
	url    string
	offset atomic.Int64
}

func (a *wsAPI) now() time.Time { return time.Now().Add(time.Duration(a.offset.Load())) }

func newWSAPI(t *testing.T, opts graph.Options) *wsAPI {
	t.Helper()
	a := &wsAPI{t: t}
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	m := projections.New(nil)
	m.ReadLogFrom(st)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); projections.Run(ctx, st, m) }()
	t.Cleanup(func() { cancel(); <-done })
	opts.Verifier = auth.NewHS256Verifier(wsSecret, auth.WithClock(a.now))
	opts.Now = a.now
	if opts.Websocket.PingInterval == 0 {
		opts.Websocket.PingInterval = -1
	}
	srv := graph.NewServer(&graph.Resolver{Model: m, Store: st}, opts)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	a.url = "ws" + strings.TrimPrefix(ts.URL, "http")
	return a
}

// token mints a token of a user of tenant, issued at iat, valid for ttl.
func wsToken(t *testing.T, tenant uuid.UUID, iat time.Time, ttl time.Duration) string {
	t.Helper()
	tok, err := auth.MintHS256(wsSecret, domain.Actor{UserID: "u1", TenantID: tenant, Role: domain.RoleAuditor}, ttl, iat)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

type wsPeer struct {
	t    *testing.T
	conn *websocket.Conn
}

func (a *wsAPI) dial() *wsPeer {
	a.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, a.url, &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		a.t.Fatalf("dial: %v", err)
	}
	a.t.Cleanup(func() { conn.CloseNow() })
	return &wsPeer{t: a.t, conn: conn}
}

// connect dials and initialises with token, expecting the acknowledgement.
func (a *wsAPI) connect(token string) *wsPeer {
	a.t.Helper()
	p := a.dial()
	p.send(map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer " + token}})
	if m := p.read(); m["type"] != "connection_ack" {
		a.t.Fatalf("want connection_ack, got %v", m)
	}
	return p
}

func (p *wsPeer) send(v any) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := wsjson.Write(ctx, p.conn, v); err != nil {
		p.t.Fatalf("write: %v", err)
	}
}

// sync waits until the server has read every message sent before: it
// reads them in order, and answers a ping with a pong.
func (p *wsPeer) sync() {
	p.t.Helper()
	p.send(map[string]any{"type": "ping"})
	for {
		if m := p.read(); m["type"] == "pong" {
			return
		}
	}
}

func (p *wsPeer) sendRaw(s string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.conn.Write(ctx, websocket.MessageText, []byte(s)); err != nil {
		p.t.Fatalf("write: %v", err)
	}
}

// next reads the next message; err is the connection's end.
func (p *wsPeer) next() (map[string]any, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var m map[string]any
	err := wsjson.Read(ctx, p.conn, &m)
	return m, err
}

func (p *wsPeer) read() map[string]any {
	p.t.Helper()
	m, err := p.next()
	if err != nil {
		p.t.Fatalf("read: %v", err)
	}
	return m
}

// closed reads until the server closes the connection and returns the
// close frame's code and reason.
func (p *wsPeer) closed() (websocket.StatusCode, string) {
	p.t.Helper()
	for {
		m, err := p.next()
		if err == nil {
			if m["type"] == "next" || m["type"] == "connection_ack" {
				p.t.Fatalf("got %v, want the connection closed", m)
			}
			continue
		}
		var ce websocket.CloseError
		if !asCloseError(err, &ce) {
			p.t.Fatalf("connection ended without a close frame: %v", err)
		}
		return ce.Code, ce.Reason
	}
}

func asCloseError(err error, ce *websocket.CloseError) bool {
	if websocket.CloseStatus(err) == -1 {
		return false
	}
	for e := err; e != nil; {
		if c, ok := e.(websocket.CloseError); ok {
			*ce = c
			return true
		}
		u, ok := e.(interface{ Unwrap() error })
		if !ok {
			break
		}
		e = u.Unwrap()
	}
	ce.Code = websocket.CloseStatus(err)
	return true
}

func (p *wsPeer) wantClosed(code websocket.StatusCode, reason string) {
	p.t.Helper()
	got, why := p.closed()
	if got != code || !strings.Contains(why, reason) {
		p.t.Fatalf("closed with %d %q, want %d with %q", got, why, code, reason)
	}
}

func subscribe(id, query string) map[string]any {
	return map[string]any{"id": id, "type": "subscribe", "payload": map[string]any{"query": query}}
}

const (
	typename = `{ __typename }`
	feed     = `subscription { eventAppended { id } }`
)

// answered reads the answer to query operation id: its next and complete.
func (p *wsPeer) answered(id string) {
	p.t.Helper()
	if m := p.read(); m["type"] != "next" || m["id"] != id {
		p.t.Fatalf("want next for %s, got %v", id, m)
	}
	if m := p.read(); m["type"] != "complete" || m["id"] != id {
		p.t.Fatalf("want complete for %s, got %v", id, m)
	}
}

// refusedWith reads an error message for id and returns its first error's
// code.
func (p *wsPeer) refusedWith(id string) (code string, ext map[string]any) {
	p.t.Helper()
	m := p.read()
	if m["type"] != "error" || m["id"] != id {
		p.t.Fatalf("want an error for %s, got %v", id, m)
	}
	b, _ := json.Marshal(m["payload"])
	var errs []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	}
	if err := json.Unmarshal(b, &errs); err != nil || len(errs) == 0 {
		p.t.Fatalf("error payload %s", b)
	}
	code, _ = errs[0].Extensions["code"].(string)
	return code, errs[0].Extensions
}

func TestWebsocketClosedWhenItsTokenExpires(t *testing.T) {
	a := newWSAPI(t, graph.Options{})
	// exp 29 s ago is inside the 30 s leeway: accepted, for one second more.
	tok := wsToken(t, uuid.New(), time.Now().Add(-40*time.Second), 11*time.Second)
	p := a.connect(tok)
	p.send(subscribe("1", feed))
	p.wantClosed(4403, "UNAUTHENTICATED: token is expired")
}

func TestWebsocketOperationAfterExpiryIsRefused(t *testing.T) {
	a := newWSAPI(t, graph.Options{})
	p := a.connect(wsToken(t, uuid.New(), time.Now(), time.Hour))
	p.send(subscribe("1", typename))
	p.answered("1")
	// The clock passes exp + leeway; the timer, set by the real clock, has
	// not fired: the operation itself is checked.
	a.offset.Store(int64(time.Hour + auth.MaxLeeway + time.Second))
	p.send(subscribe("2", typename))
	p.wantClosed(4403, "UNAUTHENTICATED: token is expired")
}

func TestWebsocketRefusedTokenNamesTheCause(t *testing.T) {
	a := newWSAPI(t, graph.Options{})
	for name, tc := range map[string]struct{ payload, reason string }{
		"none":    {`{}`, "UNAUTHENTICATED: no bearer token"},
		"expired": {`{"Authorization":"Bearer ` + wsToken(t, uuid.New(), time.Now().Add(-2*time.Hour), time.Hour) + `"}`, "UNAUTHENTICATED: token is expired"},
		"garbage": {`{"Authorization":"Bearer abc"}`, "UNAUTHENTICATED: token is malformed"},
		"number":  {`{"Authorization":5}`, "UNAUTHENTICATED: Authorization in connection_init is not a string"},
	} {
		t.Run(name, func(t *testing.T) {
			p := a.dial()
			p.sendRaw(`{"type":"connection_init","payload":` + tc.payload + `}`)
			p.wantClosed(4403, tc.reason)
		})
	}
}

func TestWebsocketOperationsCountAgainstTheRateLimit(t *testing.T) {
	// A burst of 2 and no refill to speak of.
	a := newWSAPI(t, graph.Options{RateLimiter: ratelimit.New[uuid.UUID](0.001, 2)})
	tenant := uuid.New()
	p := a.connect(wsToken(t, tenant, time.Now(), time.Hour))
	p.send(subscribe("1", typename))
	p.answered("1")
	p.send(subscribe("2", typename))
	p.answered("2")
	p.send(subscribe("3", typename))
	code, ext := p.refusedWith("3")
	if code != graph.CodeRateLimited || ext["retryAfterSeconds"] == nil {
		t.Fatalf("third operation: %s %v, want RATE_LIMITED with retryAfterSeconds", code, ext)
	}
	// The same tenant on another connection shares the bucket; another
	// tenant has its own.
	q := a.connect(wsToken(t, tenant, time.Now(), time.Hour))
	q.send(subscribe("1", typename))
	if code, _ := q.refusedWith("1"); code != graph.CodeRateLimited {
		t.Fatalf("other connection: %s", code)
	}
	r := a.connect(wsToken(t, uuid.New(), time.Now(), time.Hour))
	r.send(subscribe("1", typename))
	r.answered("1")
}

func TestWebsocketOperationsPerConnectionAreCapped(t *testing.T) {
	a := newWSAPI(t, graph.Options{Websocket: graph.WebsocketLimits{MaxOperations: 2}})
	p := a.connect(wsToken(t, uuid.New(), time.Now(), time.Hour))
	p.send(subscribe("1", feed))
	p.send(subscribe("2", feed))
	p.send(subscribe("3", feed))
	p.wantClosed(4429, "more than 2 operations on this connection")
}

func TestWebsocketCompletedOperationsFreeTheirSlot(t *testing.T) {
	a := newWSAPI(t, graph.Options{Websocket: graph.WebsocketLimits{MaxOperations: 2}})
	p := a.connect(wsToken(t, uuid.New(), time.Now(), time.Hour))
	for i := range 10 {
		id := string(rune('a' + i))
		p.send(subscribe(id, typename))
		p.answered(id)
	}
	p.send(subscribe("s1", feed))
	p.send(map[string]any{"id": "s1", "type": "complete"})
	if m := p.read(); m["type"] != "complete" || m["id"] != "s1" {
		t.Fatalf("want complete for s1, got %v", m)
	}
	p.send(subscribe("s2", feed))
	p.send(subscribe("q", typename))
	p.answered("q")
}

func TestWebsocketOperationsPerTenantAreCapped(t *testing.T) {
	a := newWSAPI(t, graph.Options{Websocket: graph.WebsocketLimits{MaxOperations: 10, MaxTenantOperations: 2}})
	tenant := uuid.New()
	p := a.connect(wsToken(t, tenant, time.Now(), time.Hour))
	p.send(subscribe("1", feed))
	p.send(subscribe("2", feed))
	p.sync()
	q := a.connect(wsToken(t, tenant, time.Now(), time.Hour))
	q.send(subscribe("1", typename))
	if code, _ := q.refusedWith("1"); code != graph.CodeRateLimited {
		t.Fatalf("over the tenant's cap: %s, want RATE_LIMITED", code)
	}
	// Another tenant is not affected.
	r := a.connect(wsToken(t, uuid.New(), time.Now(), time.Hour))
	r.send(subscribe("1", typename))
	r.answered("1")
	// A closed connection gives its slots back.
	p.conn.Close(websocket.StatusNormalClosure, "")
	for i := 0; ; i++ {
		id := "again" + string(rune('a'+i))
		q.send(subscribe(id, typename))
		m := q.read()
		if m["type"] == "next" {
			if m := q.read(); m["type"] != "complete" {
				t.Fatalf("want complete, got %v", m)
			}
			break
		}
		if m["type"] != "error" || i > 200 {
			t.Fatalf("slots not given back: %v", m)
		}
		time.Sleep(10 * time.Millisecond) // the server sees the close asynchronously
	}
}

func TestWebsocketInitTimeout(t *testing.T) {
	a := newWSAPI(t, graph.Options{Websocket: graph.WebsocketLimits{InitTimeout: 100 * time.Millisecond}})
	p := a.dial()
	p.wantClosed(4408, "Connection initialisation timeout")
}

func TestWebsocketInitPayloadMustBeAnObject(t *testing.T) {
	a := newWSAPI(t, graph.Options{})
	for _, payload := range []string{`"Bearer x"`, `[1,2]`, `5`, `true`} {
		t.Run(payload, func(t *testing.T) {
			p := a.dial()
			p.sendRaw(`{"type":"connection_init","payload":` + payload + `}`)
			p.wantClosed(4400, "payload must be an object")
		})
	}
}

func TestWebsocketProtocolOrder(t *testing.T) {
	a := newWSAPI(t, graph.Options{})
	tok := wsToken(t, uuid.New(), time.Now(), time.Hour)
	t.Run("second connection_init", func(t *testing.T) {
		p := a.connect(tok)
		p.send(map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer " + tok}})
		p.wantClosed(4429, "Too many initialisation requests")
	})
	t.Run("subscribe before connection_init", func(t *testing.T) {
		p := a.dial()
		p.send(subscribe("1", typename))
		p.wantClosed(4401, "Unauthorized")
	})
	t.Run("ping before connection_init", func(t *testing.T) {
		p := a.dial()
		p.send(map[string]any{"type": "ping"})
		if m := p.read(); m["type"] != "pong" {
			t.Fatalf("want pong, got %v", m)
		}
	})
	t.Run("duplicate id", func(t *testing.T) {
		p := a.connect(tok)
		p.send(subscribe("1", feed))
		p.send(subscribe("1", feed))
		p.wantClosed(4409, "Subscriber for 1 already exists")
	})
	t.Run("unknown type", func(t *testing.T) {
		p := a.connect(tok)
		p.send(map[string]any{"type": "start"})
		p.wantClosed(4400, "Invalid message type")
	})
}

func TestWebsocketAuthorizationKeyIsChosenDeterministically(t *testing.T) {
	a := newWSAPI(t, graph.Options{})
	good := "Bearer " + wsToken(t, uuid.New(), time.Now(), time.Hour)
	other := "Bearer " + wsToken(t, uuid.New(), time.Now(), time.Hour)
	bad := "Bearer " + tamper(strings.TrimPrefix(good, "Bearer "))
	cases := []struct {
		name    string
		payload map[string]any
		ack     bool
	}{
		{"exact wins over another case", map[string]any{"Authorization": good, "AUTHORIZATION": bad}, true},
		{"exact wins, bad exact refused", map[string]any{"Authorization": bad, "AUTHORIZATION": good}, false},
		{"one other case", map[string]any{"authorization": good}, true},
		{"two other cases that agree", map[string]any{"authorization": good, "AUTHORIZATION": good}, true},
		{"two other cases that differ", map[string]any{"authorization": good, "AUTHORIZATION": other}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Map order changes from run to run: the answer must not.
			for range 8 {
				p := a.dial()
				p.send(map[string]any{"type": "connection_init", "payload": tc.payload})
				if tc.ack {
					if m := p.read(); m["type"] != "connection_ack" {
						t.Fatalf("want connection_ack, got %v", m)
					}
				} else {
					p.wantClosed(4403, "UNAUTHENTICATED")
				}
				p.conn.CloseNow()
			}
		})
	}
}

// tamper flips the token's last signature character.
func tamper(token string) string {
	b := []byte(token)
	if b[len(b)-2] == 'A' {
		b[len(b)-2] = 'B'
	} else {
		b[len(b)-2] = 'A'
	}
	return string(b)
}
