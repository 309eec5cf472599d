package e2e

import (
	"context"
	"encoding/json"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/internal/auth"
)

// The WebSocket side of hostile traffic, bounded in count and time: floods
// of sockets and of subscriptions, idle sockets, a token that expires
// mid-socket. Each asserts what the server does (close codes, goroutines
// back to their baseline), never how long it took.

func rawWS(t *testing.T, ts *testServer) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, strings.Replace(ts.url, "http", "ws", 1)+"/graphql",
		&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

// closeCode reads until the server closes c.
func closeCode(t *testing.T, c *websocket.Conn) (websocket.StatusCode, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		var m map[string]any
		if err := wsjson.Read(ctx, c, &m); err != nil {
			var ce websocket.CloseError
			if ok := asClose(err, &ce); ok {
				return ce.Code, ce.Reason
			}
			t.Fatalf("ended without a close frame: %v", err)
		}
	}
}

func asClose(err error, ce *websocket.CloseError) bool {
	for e := err; e != nil; {
		if c, ok := e.(websocket.CloseError); ok {
			*ce = c
			return true
		}
		u, ok := e.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		e = u.Unwrap()
	}
	return false
}

// goroutinesBackTo waits for the goroutine count to come back near base.
func goroutinesBackTo(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for runtime.NumGoroutine() > base+10 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > base+10 {
		t.Fatalf("%d goroutines, %d before the flood", n, base)
	}
}

func TestAbuseWebsocketFloodOfSilentSockets(t *testing.T) {
	ts := startServer(t, func(c *setup) { c.Ops.Websocket.InitTimeout = 200 * time.Millisecond })
	base := runtime.NumGoroutine()
	const sockets = 100
	conns := make([]*websocket.Conn, sockets)
	for i := range conns {
		conns[i] = rawWS(t, ts)
	}
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if code, _ := closeCode(t, c); code != 4408 {
				t.Errorf("a silent socket closed with %d, want 4408", code)
			}
		}()
	}
	wg.Wait()
	goroutinesBackTo(t, base)
}

func TestAbuseWebsocketFloodOfSubscriptions(t *testing.T) {
	ts := startServer(t)
	w := newWorld(t, ts)
	w.record(w.c, "USAGE_BASED", "OPEN", nil, nil)
	auditor := ts.user(uuid.New(), domain.RoleAuditor)
	base := runtime.NumGoroutine()
	c := rawWS(t, ts)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	wsjson.Write(ctx, c, map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer " + auditor.token}})
	// 3,000 catch-ups of the whole log on one socket: the connection is
	// closed at the 101st; the writes past it may fail, and that is fine.
	for i := range 3000 {
		if wsjson.Write(ctx, c, map[string]any{"id": uuid.NewString(), "type": "subscribe", "payload": map[string]any{
			"query": `subscription { eventAppended(after: "0-0") { id } }`}}) != nil {
			t.Logf("writes refused after %d subscriptions", i)
			break
		}
	}
	if code, reason := closeCode(t, c); code != 4429 || !strings.Contains(reason, "RATE_LIMITED") {
		t.Fatalf("closed with %d %q, want 4429", code, reason)
	}
	goroutinesBackTo(t, base)
}

func TestAbuseWebsocketTokenExpiresMidSocket(t *testing.T) {
	ts := startServer(t)
	a := domain.Actor{UserID: "u1", TenantID: uuid.New(), Role: domain.RoleAuditor}
	// exp is 29 s past: inside the leeway for one more second.
	tok, err := auth.MintHS256([]byte(testSecret), a, 11*time.Second, time.Now().Add(-40*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	c := rawWS(t, ts)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	wsjson.Write(ctx, c, map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer " + tok}})
	wsjson.Write(ctx, c, map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{
		"query": `subscription { eventAppended { id } }`}})
	if code, reason := closeCode(t, c); code != 4403 || reason != "UNAUTHENTICATED: token is expired" {
		t.Fatalf("closed with %d %q, want 4403 UNAUTHENTICATED: token is expired", code, reason)
	}
}

func TestAbuseWebsocketSharesTheTenantsRateLimit(t *testing.T) {
	ts := startServer(t, func(c *setup) { c.Ops.RateLimit, c.Ops.RateBurst = 0.001, 2 })
	u := ts.user(uuid.New(), domain.RoleAuditor)
	// Two HTTP requests take the burst; the socket's first operation is
	// then refused.
	u.ok(nil, `{ __typename }`, nil)
	u.ok(nil, `{ __typename }`, nil)
	c := rawWS(t, ts)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	wsjson.Write(ctx, c, map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer " + u.token}})
	wsjson.Write(ctx, c, map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{"query": `{ __typename }`}})
	for {
		var m map[string]any
		if err := wsjson.Read(ctx, c, &m); err != nil {
			t.Fatal(err)
		}
		switch m["type"] {
		case "connection_ack", "ping", "pong":
			continue
		case "error":
			if !strings.Contains(mustJSON(m["payload"]), "RATE_LIMITED") {
				t.Fatalf("error %v, want RATE_LIMITED", m)
			}
			return
		default:
			t.Fatalf("got %v, want an error message with RATE_LIMITED", m)
		}
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
