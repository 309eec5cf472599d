// Package httpapi assembles the HTTP surface: the GraphQL endpoint (POST,
// GET and WebSocket), the playground, health probes, and the middleware that
// every request passes through (body limit, correlation id, idempotency key,
// identity).
package httpapi

import (
	"bytes"
	"io"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/auth"
	"github.com/partnercenter/multichannel/graph"
)

// Config is what the HTTP layer needs from the server's configuration.
type Config struct {
	// MaxBodyBytes bounds a request body; a larger one gets HTTP 413.
	MaxBodyBytes int64
	// Playground serves GraphiQL at / when set.
	Playground http.Handler
	// Ready answers /readyz: nil when the server can take traffic.
	Ready func() error
}

// DefaultMaxBodyBytes is 1 MiB, as the contract fixes.
const DefaultMaxBodyBytes = 1 << 20

// New returns the server's root handler.
func New(api http.Handler, verifier *auth.Verifier, cfg Config) http.Handler {
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	mux := http.NewServeMux()
	gql := limitBody(cfg.MaxBodyBytes, requestIDs(auth.Middleware(verifier)(api)))
	mux.Handle("/graphql", gql)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if cfg.Ready != nil {
			if err := cfg.Ready(); err != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				w.Write([]byte("not ready: " + err.Error() + "\n"))
				return
			}
		}
		w.Write([]byte("ready\n"))
	})
	if cfg.Playground != nil {
		mux.Handle("/playground/", cfg.Playground)
		mux.Handle("/{$}", cfg.Playground)
	}
	return mux
}

// CorrelationHeader carries the correlation id in and out.
const CorrelationHeader = "X-Correlation-ID"

// requestIDs takes the correlation id from X-Correlation-ID when it is a
// UUID, else from a W3C traceparent's trace id, else makes a UUIDv7; echoes
// it in the response; and passes the Idempotency-Key header on.
func requestIDs(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := correlationID(r.Header)
		w.Header().Set(CorrelationHeader, id.String())
		ctx := graph.WithCorrelationID(r.Context(), id)
		if key := strings.TrimSpace(r.Header.Get("Idempotency-Key")); key != "" {
			ctx = graph.WithIdempotencyKey(ctx, key)
		}
		next.ServeHTTP(w, r.WithContext(ctx))
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
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		if r.Body != nil && r.Body != http.NoBody && r.Method != http.MethodGet {
			body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
			if err != nil {
				http.Error(w, "could not read the request body", http.StatusBadRequest)
				return
			}
			if int64(len(body)) > limit {
				http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		next.ServeHTTP(w, r)
	})
}
