package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/coder/websocket"
	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/internal/auth"
)

// WebsocketLimits bound what a WebSocket connection (graphql-transport-ws)
// may hold and do. Zero values mean the defaults below.
type WebsocketLimits struct {
	// InitTimeout is how long a connection may stay open before it sends
	// connection_init; past it, it is closed with 4408.
	InitTimeout time.Duration
	// WriteTimeout bounds the writing of one message to the client: a
	// client that stops reading is dropped instead of holding the
	// server's buffers and goroutines.
	WriteTimeout time.Duration
	// PingInterval is how often the server pings; a client that has not
	// answered a ping within two intervals is dropped. Negative: no pings.
	PingInterval time.Duration
	// MaxOperations bounds the operations in flight on one connection (a
	// subscription is in flight until it completes); the one past it
	// closes the connection with 4429.
	MaxOperations int
	// MaxTenantOperations bounds the operations in flight on this server's
	// WebSockets for one tenant, all connections together; past it an
	// operation is refused with an error message, RATE_LIMITED.
	MaxTenantOperations int
}

// Defaults of WebsocketLimits.
const (
	DefaultWebsocketInitTimeout  = 10 * time.Second
	DefaultWebsocketWriteTimeout = 10 * time.Second
	DefaultWebsocketPingInterval = 30 * time.Second
	// A screen follows a handful of feeds; 100 leaves room for many tabs
	// sharing one connection.
	DefaultWebsocketMaxOperations = 100
	// Each live subscription holds a goroutine and a buffer: 1,000 a
	// tenant keeps one tenant's scripts from taking a server's memory.
	DefaultWebsocketMaxTenantOperations = 1000
)

func (l WebsocketLimits) withDefaults() WebsocketLimits {
	if l.InitTimeout <= 0 {
		l.InitTimeout = DefaultWebsocketInitTimeout
	}
	if l.WriteTimeout <= 0 {
		l.WriteTimeout = DefaultWebsocketWriteTimeout
	}
	if l.PingInterval == 0 {
		l.PingInterval = DefaultWebsocketPingInterval
	}
	if l.MaxOperations <= 0 {
		l.MaxOperations = DefaultWebsocketMaxOperations
	}
	if l.MaxTenantOperations <= 0 {
		l.MaxTenantOperations = DefaultWebsocketMaxTenantOperations
	}
	return l
}

// RateLimiter takes a token from a tenant's bucket; ratelimit.Limiter
// keyed by uuid.UUID is one. Refused, it tells how long until a token is
// there.
type RateLimiter interface {
	Allow(tenant uuid.UUID) (ok bool, retryAfter time.Duration)
}

// Close codes of the graphql-transport-ws protocol (4403 also for a token
// that expires while the socket is open).
const (
	closeBadRequest       = 4400
	closeUnauthorized     = 4401
	closeForbidden        = 4403
	closeInitTimeout      = 4408
	closeSubscriberExists = 4409
	closeTooMany          = 4429
)

// wsGuard holds what the WebSocket connections of one server share.
type wsGuard struct {
	limits   WebsocketLimits
	limiter  RateLimiter // nil: no rate limit
	verifier *auth.Verifier
	now      func() time.Time

	mu      sync.Mutex
	tenants map[uuid.UUID]int // operations in flight per tenant
}

// acquire takes one of tenant's operation slots, if one is free.
func (g *wsGuard) acquire(tenant uuid.UUID) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.tenants[tenant] >= g.limits.MaxTenantOperations {
		return false
	}
	g.tenants[tenant]++
	return true
}

func (g *wsGuard) release(tenant uuid.UUID, n int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.tenants[tenant] -= n; g.tenants[tenant] <= 0 {
		delete(g.tenants, tenant)
	}
}

// newWebsocket returns gqlgen's WebSocket transport with the protocol's
// rules that it does not keep, and the server's bounds, around it.
//
// gqlgen reads each client message through the connection its
// Implementation accepts, and writes each server message through it too:
// wsConn is that connection, and it sees every message before gqlgen does.
// There it enforces what gqlgen's transport lets through or answers with
// 1002: a subscribe before connection_init (4401), a second
// connection_init (4429), an init payload that is not an object (4400,
// where gqlgen neither acknowledges nor closes), no connection_init in
// time (4408), a duplicate operation id (4409); and the server's bounds:
// operations per connection (4429), per tenant (RATE_LIMITED), the
// tenant's rate limit (RATE_LIMITED), the token's expiry (4403, checked on
// every operation and by a timer).
func newWebsocket(g *wsGuard) websocketTransport {
	ws := transport.Websocket{
		Implementation: wsAccept{},
		InitFunc:       g.init,
		// graphql-ws (the legacy protocol) keep-alives.
		KeepAlivePingInterval: 15 * time.Second,
	}
	if g.limits.PingInterval > 0 {
		ws.PingPongInterval = g.limits.PingInterval
	}
	return websocketTransport{Websocket: ws, g: g}
}

// websocketTransport is the WebSocket transport: gqlgen's, given a wsConn
// for each connection.
type websocketTransport struct {
	transport.Websocket
	g *wsGuard
}

type wsConnKey struct{}

// Do serves one WebSocket connection.
func (t websocketTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	ctx, cancel := context.WithCancel(r.Context())
	c := &wsConn{g: t.g, cancel: cancel, active: map[string]struct{}{}}
	defer c.finish()
	t.Websocket.Do(w, r.WithContext(context.WithValue(ctx, wsConnKey{}, c)), exec)
}

// init is the connection_init handler: the token in the payload, verified,
// becomes the connection's caller until it expires.
func (g *wsGuard) init(ctx context.Context, p transport.InitPayload) (context.Context, *transport.InitPayload, error) {
	c, _ := ctx.Value(wsConnKey{}).(*wsConn)
	header, err := initAuthorization(p)
	var a domain.Actor
	var exp time.Time
	if err == nil {
		a, exp, err = g.verifier.VerifyHeaderExpiry(header)
	}
	if err != nil {
		// 4403 is the protocol's Forbidden; the reason names the cause in
		// the contract's terms, for a client to show.
		ctx = transport.WithWebsocketCloseCode(ctx, closeForbidden)
		return transport.AppendCloseReason(ctx, unauthenticatedReason(err)), nil, err
	}
	if c != nil {
		c.authenticated(a, exp.Add(auth.MaxLeeway))
	}
	return auth.WithCaller(ctx, a), nil, nil
}

// unauthenticatedReason is a close reason for a refused token:
// "UNAUTHENTICATED: token is expired".
func unauthenticatedReason(err error) string {
	reason := err.Error()
	var te *auth.TokenError
	if errors.As(err, &te) {
		reason = te.Reason
	}
	return closeReason(string(domain.CodeUnauthenticated) + ": " + reason)
}

// closeReason cuts a reason to the 123 bytes a close frame can carry.
func closeReason(s string) string {
	if len(s) > 123 {
		s = s[:123]
	}
	return s
}

// initAuthorization reads {"Authorization": "Bearer <jwt>"} from a
// connection_init payload. The key "Authorization" spelled exactly wins;
// else one key equal to it but for case is taken; several such keys that
// disagree are refused, as are a value that is not a string: a map has
// no order, and the token used must not depend on it.
func initAuthorization(p transport.InitPayload) (string, error) {
	pick := func(v any) (string, error) {
		s, ok := v.(string)
		if !ok {
			return "", &auth.TokenError{Reason: "Authorization in connection_init is not a string"}
		}
		return s, nil
	}
	if v, ok := p["Authorization"]; ok {
		return pick(v)
	}
	var found []any
	for k, v := range p {
		if strings.EqualFold(k, "Authorization") {
			found = append(found, v)
		}
	}
	if len(found) == 0 {
		return "", nil
	}
	first, err := pick(found[0])
	if err != nil {
		return "", err
	}
	for _, v := range found[1:] {
		if s, err := pick(v); err != nil || s != first {
			return "", &auth.TokenError{Reason: "connection_init has several Authorization keys that differ"}
		}
	}
	return first, nil
}

// wsAccept accepts the connection with github.com/coder/websocket, as
// gqlgen's own adapter does, into the wsConn that Do made for it.
type wsAccept struct{}

func (wsAccept) Accept(w http.ResponseWriter, r *http.Request, o transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
	c, ok := r.Context().Value(wsConnKey{}).(*wsConn)
	if !ok {
		return nil, errors.New("websocket: no connection state")
	}
	for k, vs := range o.ResponseHeader {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: o.Subprotocols})
	if err != nil {
		return nil, err
	}
	c.accepted(conn)
	return c, nil
}

// wsConn is one WebSocket connection as gqlgen's transport sees it, with
// the protocol's rules and the server's bounds kept on every message.
type wsConn struct {
	g      *wsGuard
	conn   *websocket.Conn
	cancel context.CancelFunc // ends the connection's context: gqlgen closes it and ends its operations

	mu       sync.Mutex
	inited   bool // connection_init received
	authed   bool
	caller   domain.Actor
	expires  time.Time           // the token's exp plus the leeway
	active   map[string]struct{} // operation ids in flight
	closing  bool                // a close frame is on its way
	timers   []*time.Timer
	deadline *time.Timer // the read deadline gqlgen's pings set
}

var (
	_ transport.WebsocketConn          = (*wsConn)(nil)
	_ transport.WebsocketReadLimiter   = (*wsConn)(nil)
	_ transport.WebsocketReadDeadliner = (*wsConn)(nil)
)

func (c *wsConn) accepted(conn *websocket.Conn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.conn = conn
	c.timers = append(c.timers, time.AfterFunc(c.g.limits.InitTimeout, func() {
		c.mu.Lock()
		inited := c.inited
		c.mu.Unlock()
		if !inited {
			c.closeWith(closeInitTimeout, "Connection initialisation timeout")
		}
	}))
}

// authenticated records the caller and closes the connection when its
// token expires.
func (c *wsConn) authenticated(a domain.Actor, expires time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.authed, c.caller, c.expires = true, a, expires
	c.timers = append(c.timers, time.AfterFunc(expires.Sub(c.g.now()), c.expire))
}

func (c *wsConn) expire() {
	c.closeWith(closeForbidden, string(domain.CodeUnauthenticated)+": token is expired")
}

// expired reports whether the caller's token has expired. c.mu is held.
func (c *wsConn) expired() bool {
	return c.authed && !c.g.now().Before(c.expires)
}

// closeWith closes the connection with code and reason, once: the close
// handshake runs in the background (it may wait seconds for the peer);
// the connection's context ends at once, and with it every operation.
func (c *wsConn) closeWith(code int, reason string) {
	c.mu.Lock()
	if c.closing || c.conn == nil {
		c.mu.Unlock()
		return
	}
	c.closing = true
	conn := c.conn
	c.mu.Unlock()
	go conn.Close(websocket.StatusCode(code), closeReason(reason))
	c.cancel()
}

func (c *wsConn) isClosing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closing
}

// finish runs when the transport is done with the connection: it gives the
// tenant's slots back, stops the timers, and closes the connection if
// gqlgen did not (it does not after a payload it cannot decode).
func (c *wsConn) finish() {
	c.mu.Lock()
	for _, t := range c.timers {
		t.Stop()
	}
	if c.deadline != nil {
		c.deadline.Stop()
	}
	n := len(c.active)
	clear(c.active)
	closing, conn := c.closing, c.conn
	c.closing = true
	c.mu.Unlock()
	if n > 0 {
		c.g.release(c.caller.TenantID, n)
	}
	if !closing && conn != nil {
		conn.CloseNow()
	}
	c.cancel()
}

// done gives back the slot of operation id, once it has ended.
func (c *wsConn) done(id string) {
	c.mu.Lock()
	_, ok := c.active[id]
	delete(c.active, id)
	tenant := c.caller.TenantID
	c.mu.Unlock()
	if ok {
		c.g.release(tenant, 1)
	}
}

// clientMessage is what the guard reads of a client's message.
type clientMessage struct {
	ID      string          `json:"id"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload"`
}

// NextReader returns the client's next message that gqlgen should handle;
// the guard answers or refuses the others itself.
func (c *wsConn) NextReader() (int, io.Reader, error) {
	for {
		typ, data, err := c.conn.Read(context.Background())
		if err != nil {
			if c.isClosing() {
				return int(typ), nil, transport.ErrWebsocketClosed
			}
			switch websocket.CloseStatus(err) {
			case websocket.StatusNormalClosure, websocket.StatusNoStatusRcvd:
				return int(typ), nil, transport.ErrWebsocketClosed
			}
			return int(typ), nil, err
		}
		if c.admit(data) {
			return int(typ), bytes.NewReader(data), nil
		}
		if c.isClosing() {
			return int(typ), nil, transport.ErrWebsocketClosed
		}
	}
}

// admit decides what becomes of a client's message: passed on to gqlgen
// (true), answered here, or the connection closed.
func (c *wsConn) admit(data []byte) bool {
	var m clientMessage
	if err := json.Unmarshal(data, &m); err != nil {
		c.closeWith(closeBadRequest, "Invalid message received")
		return false
	}
	c.mu.Lock()
	inited := c.inited
	c.mu.Unlock()
	switch m.Type {
	case "connection_init":
		if inited {
			c.closeWith(closeTooMany, "Too many initialisation requests")
			return false
		}
		c.mu.Lock()
		c.inited = true
		c.mu.Unlock()
		if p := bytes.TrimSpace(m.Payload); len(p) > 0 && p[0] != '{' && string(p) != "null" {
			c.closeWith(closeBadRequest, "Bad request: the connection_init payload must be an object")
			return false
		}
		return true
	case "ping":
		if !inited {
			// The protocol allows a ping at any time; gqlgen takes one
			// only after the acknowledgement.
			c.write(map[string]string{"type": "pong"})
			return false
		}
		return true
	case "pong":
		return inited
	case "complete":
		return inited
	case "subscribe":
		if !inited {
			c.closeWith(closeUnauthorized, "Unauthorized")
			return false
		}
		return c.admitOperation(m.ID)
	}
	c.closeWith(closeBadRequest, closeReason("Invalid message type "+strconv.Quote(m.Type)))
	return false
}

// admitOperation applies the bounds to a subscribe message.
func (c *wsConn) admitOperation(id string) bool {
	c.mu.Lock()
	expired, tenant := c.expired(), c.caller.TenantID
	_, dup := c.active[id]
	full := len(c.active) >= c.g.limits.MaxOperations
	c.mu.Unlock()
	switch {
	case id == "":
		c.closeWith(closeBadRequest, "Bad request: subscribe without an id")
		return false
	case expired:
		c.expire()
		return false
	case dup:
		c.closeWith(closeSubscriberExists, closeReason("Subscriber for "+id+" already exists"))
		return false
	case full:
		c.closeWith(closeTooMany, fmt.Sprintf("%s: more than %d operations on this connection", CodeRateLimited, c.g.limits.MaxOperations))
		return false
	}
	if c.g.limiter != nil {
		if ok, after := c.g.limiter.Allow(tenant); !ok {
			s := retryAfterSeconds(after)
			c.refuse(id, fmt.Sprintf("rate limit exceeded for this tenant; retry after %ds", s), map[string]any{
				"code": CodeRateLimited, "retryAfterSeconds": s,
			})
			return false
		}
	}
	if !c.g.acquire(tenant) {
		c.refuse(id, fmt.Sprintf("this tenant has %d operations in flight on this server's WebSockets, the most it may", c.g.limits.MaxTenantOperations),
			map[string]any{"code": CodeRateLimited})
		return false
	}
	c.mu.Lock()
	c.active[id] = struct{}{}
	c.mu.Unlock()
	return true
}

// retryAfterSeconds rounds up to whole seconds, at least 1 (as
// ratelimit.RetryAfterSeconds, which graph does not import).
func retryAfterSeconds(d time.Duration) int {
	s := int((d + time.Second - 1) / time.Second)
	return max(s, 1)
}

// refuse answers a subscribe with an error message: the operation ends
// there, and the connection stays.
func (c *wsConn) refuse(id, message string, extensions map[string]any) {
	c.write(map[string]any{"id": id, "type": "error", "payload": []map[string]any{{
		"message": message, "extensions": extensions,
	}}})
}

// write sends one message, within the write timeout; a client that does
// not take it in time is dropped.
func (c *wsConn) write(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.writeBytes(b)
}

func (c *wsConn) writeBytes(b []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), c.g.limits.WriteTimeout)
	defer cancel()
	// coder/websocket closes the connection when ctx ends mid-write.
	return c.conn.Write(ctx, websocket.MessageText, b)
}

// WriteJSON sends a server message from gqlgen. The end of an operation
// (complete, error) frees its slot; nothing is sent once the connection is
// closing, nor once the token has expired.
func (c *wsConn) WriteJSON(v any) error {
	c.mu.Lock()
	closing, expired := c.closing, c.expired()
	c.mu.Unlock()
	if closing {
		return errClosing
	}
	if expired {
		c.expire()
		return errClosing
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	// gqlgen's message struct puts type last: an operation's end is told
	// by the suffix, without decoding a large next payload.
	if bytes.HasSuffix(b, []byte(`"type":"complete"}`)) || bytes.HasSuffix(b, []byte(`"type":"error"}`)) {
		var m clientMessage
		if json.Unmarshal(b, &m) == nil && m.ID != "" {
			defer c.done(m.ID)
		}
	}
	return c.writeBytes(b)
}

// errClosing is what a write to a closing connection returns.
var errClosing = errors.New("websocket: connection is closing")

// WriteClose is gqlgen closing the connection; a close already begun here
// (with its own code) wins.
func (c *wsConn) WriteClose(code int, reason string) error {
	c.closeWith(code, reason)
	return nil
}

// Close ends the connection at once unless a close handshake is under way.
func (c *wsConn) Close() error {
	if c.isClosing() {
		return nil
	}
	return c.conn.CloseNow()
}

func (c *wsConn) Subprotocol() string { return c.conn.Subprotocol() }

func (c *wsConn) SetReadLimit(limit int64) { c.conn.SetReadLimit(limit) }

// SetReadDeadline drops the connection at t (gqlgen's pings: a client that
// does not answer is gone); the zero time clears it.
func (c *wsConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.deadline != nil {
		c.deadline.Stop()
		c.deadline = nil
	}
	if !t.IsZero() {
		conn := c.conn
		c.deadline = time.AfterFunc(time.Until(t), func() { conn.CloseNow() })
	}
	return nil
}
