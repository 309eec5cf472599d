// Package httpapi assembles the HTTP surface: the GraphQL endpoint (POST,
// GET and WebSocket), the playground, health probes, metrics, and the
// middleware that every request passes through (CORS, observation,
// correlation id, body limit, identity, per-tenant rate limit, deadline,
// idempotency key).
package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/graph"
	"github.com/partnercenter/multichannel/internal/auth"
	"github.com/partnercenter/multichannel/internal/observability"
	"github.com/partnercenter/multichannel/internal/ratelimit"
)

// Config is what the HTTP layer needs from the server's configuration.
type Config struct {
	// MaxBodyBytes bounds a request body; a larger one gets HTTP 413.
	MaxBodyBytes int64
	// Playground serves GraphiQL at / when set.
	Playground http.Handler
	// Ready answers /readyz: nil when the server can take traffic.
	Ready func() error
	// Metrics serves /metrics when set.
	Metrics http.Handler
	// Observe, when set, wraps the handler of each route (HTTP metrics,
	// request logs), outermost. Routes: graphql, healthz, readyz, metrics,
	// playground, export, schema.
	Observe func(route string, h http.Handler) http.Handler
	// RateLimiter, when set, limits the GraphQL requests of each tenant
	// (keyed by the verified caller's tid): over the limit, HTTP 429 with
	// Retry-After and a RATE_LIMITED GraphQL error.
	RateLimiter *ratelimit.Limiter[uuid.UUID]
	// Export, when set, serves GET /audit/export (the log as NDJSON). It
	// runs behind the identity middleware: AuditorOnly tells it who called.
	Export http.Handler
	// CORS says which other origins browsers may call the API from; the
	// zero value allows none.
	CORS CORS
	// RequestTimeout, when positive, is the deadline of a GraphQL request
	// over HTTP; a request past it is answered UNAVAILABLE. WebSockets are
	// exempt: they live as long as their subscriptions.
	RequestTimeout time.Duration
	// Schema, when set, is served at GET /schema.graphql: the schema as SDL,
	// for codegen tools. Set it only where introspection is on, since it
	// says what introspection does; like introspection, it needs a valid
	// token unless SchemaPublic (development mode).
	Schema       []byte
	SchemaPublic bool
}

// DefaultMaxBodyBytes is 1 MiB, as the contract fixes.
const DefaultMaxBodyBytes = 1 << 20

// New returns the server's root handler.
func New(api http.Handler, verifier *auth.Verifier, cfg Config) http.Handler {
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	observe := cfg.Observe
	if observe == nil {
		observe = func(_ string, h http.Handler) http.Handler { return h }
	}
	mux := http.NewServeMux()
	// The correlation id comes first, so that even a refused body is
	// answered and logged with one.
	gql := requestIDs(cfg.RequestTimeout, limitBody(cfg.MaxBodyBytes, auth.Middleware(verifier)(
		perCaller(cfg.RateLimiter, api))))
	// CORS is outermost: a preflight is answered before anything else
	// runs (and is not a GraphQL request to count or log), and every
	// answer, a refusal included, carries the headers a page needs to
	// read it.
	mux.Handle("/graphql", cfg.CORS.handler(observe("graphql", gql)))
	mux.Handle("/healthz", observe("healthz", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})))
	if cfg.Export != nil {
		// No request deadline: an export streams as long as the log is.
		mux.Handle("/audit/export", cfg.CORS.handler(observe("export", noWriteDeadline(requestIDs(0, auth.Middleware(verifier)(cfg.Export))))))
	}
	if cfg.Metrics != nil {
		mux.Handle("/metrics", observe("metrics", cfg.Metrics))
	}
	mux.Handle("/readyz", observe("readyz", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if cfg.Ready != nil {
			if err := cfg.Ready(); err != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				w.Write([]byte("not ready: " + err.Error() + "\n"))
				return
			}
		}
		w.Write([]byte("ready\n"))
	})))
	if cfg.Schema != nil {
		mux.Handle("GET /schema.graphql", observe("schema", requestIDs(0, auth.Middleware(verifier)(serveSchema(cfg.Schema, cfg.SchemaPublic)))))
	}
	if cfg.Playground != nil {
		pg := observe("playground", cfg.Playground)
		mux.Handle("/playground/", pg)
		mux.Handle("/{$}", pg)
	}
	return mux
}

func serveSchema(sdl []byte, public bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := auth.CallerFrom(r.Context()); !ok && !public {
			err := auth.AuthErrorFrom(r.Context())
			if err == nil {
				err = auth.ErrNoToken
			}
			w.Header().Set("WWW-Authenticate", "Bearer")
			http.Error(w, string(domain.CodeUnauthenticated)+": "+err.Error(), http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write(sdl)
	})
}

// perCaller runs once the caller is known: it notes the caller for the log
// line and applies the caller's tenant's rate limit. A request without a
// verified caller is not rate limited here: it is refused UNAUTHENTICATED
// before anything runs (or, in development, may only introspect).
func perCaller(limiter *ratelimit.Limiter[uuid.UUID], next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if a, ok := auth.CallerFrom(ctx); ok {
			observability.NoteCaller(ctx, a)
			if limiter != nil {
				if ok, after := limiter.Allow(a.TenantID); !ok {
					observability.NoteRefusal(ctx, graph.CodeRateLimited)
					rateLimited(w, ratelimit.RetryAfterSeconds(after))
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// IsWebSocket reports whether r asks to upgrade to a WebSocket: such a
// request lives as long as its subscriptions, so it gets no request
// deadline, and the server tracks it for shutdown.
func IsWebSocket(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// rateLimited answers HTTP 429 with Retry-After and a GraphQL error whose
// extensions carry the code and the same wait, for clients that read only
// the body.
func rateLimited(w http.ResponseWriter, seconds int) {
	w.Header().Set("Retry-After", strconv.Itoa(seconds))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusTooManyRequests)
	json.NewEncoder(w).Encode(map[string]any{
		"errors": []map[string]any{{
			"message": "rate limit exceeded for this tenant; retry after " + strconv.Itoa(seconds) + "s",
			"extensions": map[string]any{
				"code":              graph.CodeRateLimited,
				"retryAfterSeconds": seconds,
			},
		}},
		"data": nil,
	})
}

// CorrelationHeader carries the correlation id in and out.
const CorrelationHeader = "X-Correlation-ID"

// requestIDs takes the correlation id from X-Correlation-ID when it is a
// UUID, else from a W3C traceparent's trace id, else makes a UUIDv7; echoes
// it in the response and gives it to the request's log line; passes the
// Idempotency-Key and X-Consistency-Token headers on; and, with a positive
// timeout, gives the request a context that ends at its deadline
// (WebSockets are exempt: they live as long as their subscriptions). It is
// the one layer that gives the request a new context, the observation
// record's and the deadline's included, so that the request is copied
// once.
func requestIDs(timeout time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := correlationID(r.Header)
		s := id.String()
		w.Header().Set(CorrelationHeader, s)
		ctx := observability.Attach(r.Context(), w)
		observability.NoteCorrelationID(ctx, s)
		req := &graph.Request{CorrelationID: id, IdempotencyKey: strings.TrimSpace(r.Header.Get("Idempotency-Key"))}
		if !IsWebSocket(r) {
			// The consistency token: the one sent is waited for, a
			// mutation's is answered in the header (see graph/consistency.go).
			req.ConsistencyToken = strings.TrimSpace(r.Header.Get(graph.ConsistencyHeader))
			req.SetConsistencyToken = func(tok string) { w.Header().Set(graph.ConsistencyHeader, tok) }
		}
		if timeout > 0 && !IsWebSocket(r) {
			// The one place the request deadline is applied: the store's
			// reads, the read models' waits and the command handlers all
			// end with this context (see graph/deadline.go).
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, timeout)
			defer cancel()
		}
		next.ServeHTTP(w, r.WithContext(graph.WithRequest(ctx, req)))
	})
}

func correlationID(h http.Header) uuid.UUID {
	if id, err := uuid.Parse(strings.TrimSpace(h.Get(CorrelationHeader))); err == nil && id != uuid.Nil {
		return id
	}
	// traceparent: version-traceid-parentid-flags, the trace id 32 hex digits.
	if parts := strings.Split(h.Get("traceparent"), "-"); len(parts) == 4 && len(parts[1]) == 32 {
		if id, err := uuid.Parse(parts[1]); err == nil && id != uuid.Nil {
			return id
		}
	}
	return uuid.Must(uuid.NewV7())
}

// limitBody answers 413 for a body over the limit, whether its length is
// declared or it arrives chunked: the body (at most limit bytes) is read
// here, so the GraphQL transport never sees a truncated document.
func limitBody(limit int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > limit {
			refuse(w, http.StatusRequestEntityTooLarge, "request body too large")
			return
		}
		// A body of declared length is cut at that length by net/http
		// already; only one of unknown length (chunked) is read here.
		if r.ContentLength < 0 && r.Body != nil && r.Body != http.NoBody && r.Method != http.MethodGet {
			body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
			if err != nil {
				refuse(w, http.StatusBadRequest, "could not read the request body")
				return
			}
			if int64(len(body)) > limit {
				refuse(w, http.StatusRequestEntityTooLarge, "request body too large")
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		next.ServeHTTP(w, r)
	})
}

// refuse answers a request the HTTP layer turns away with status and a
// GraphQL error: BAD_USER_INPUT (the request is the client's) and the
// correlation id (set in the response's header by requestIDs), as every
// error of the API carries.
func refuse(w http.ResponseWriter, status int, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{
		"errors": []map[string]any{{
			"message": message,
			"extensions": map[string]any{
				"code":          string(domain.CodeBadUserInput),
				"correlationId": w.Header().Get(CorrelationHeader),
			},
		}},
		"data": nil,
	})
}

// AuditorOnly authorizes a request made by the AUDITOR role: the caller's
// verification error (401) when it has none, FORBIDDEN (403) for others.
func AuditorOnly(r *http.Request) error {
	a, ok := auth.CallerFrom(r.Context())
	if !ok {
		if err := auth.AuthErrorFrom(r.Context()); err != nil {
			return err
		}
		return auth.ErrNoToken
	}
	return domain.AuthorizeAudit(a)
}
