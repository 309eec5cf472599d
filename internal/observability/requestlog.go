package observability

import (
	"bufio"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/partnercenter/multichannel/domain"
)

// record is what the layers of one HTTP request learn about it, for its
// log line: the HTTP layer notes the correlation id and the caller, the
// GraphQL extension the operation and its outcome.
type record struct {
	mu            sync.Mutex
	correlationID string
	caller        domain.Actor
	hasCaller     bool
	operation     string
	opType        string
	code          string
	operations    int
}

type recordKey struct{}

func recordFrom(ctx context.Context) *record {
	r, _ := ctx.Value(recordKey{}).(*record)
	return r
}

// NoteCorrelationID records the request's correlation id for its log line
// (a no-op when the request is not logged).
func NoteCorrelationID(ctx context.Context, id string) {
	if r := recordFrom(ctx); r != nil {
		r.mu.Lock()
		r.correlationID = id
		r.mu.Unlock()
	}
}

// NoteCaller records the request's verified caller for its log line.
func NoteCaller(ctx context.Context, a domain.Actor) {
	if r := recordFrom(ctx); r != nil {
		r.mu.Lock()
		r.caller, r.hasCaller = a, true
		r.mu.Unlock()
	}
}

// NoteRefusal records the error code of a request refused before GraphQL
// ran (RATE_LIMITED), so that its log line and the metrics name it.
func NoteRefusal(ctx context.Context, code string) {
	if r := recordFrom(ctx); r != nil {
		r.mu.Lock()
		r.code = code
		r.mu.Unlock()
	}
}

// noteOperation records an operation that ran on the request: a WebSocket
// carries many, and its line names the first and counts them; the code is
// the first that is not OK.
func noteOperation(ctx context.Context, name, typ, code string, caller domain.Actor, hasCaller bool) {
	r := recordFrom(ctx)
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.operations == 0 {
		r.operation, r.opType = name, typ
	}
	r.operations++
	if r.code == "" || r.code == codeOK {
		r.code = code
	}
	if hasCaller && !r.hasCaller {
		r.caller, r.hasCaller = caller, true
	}
}

// Middleware wraps the handler of route with the HTTP metrics (when m is
// not nil) and, when logger is not nil, one log line per request: method,
// route, status, duration, the GraphQL operation's name and type, its
// error code (OK without errors), the caller's tenant and role, and the
// correlation id. With neither it returns the handler as it is, so that
// switching both off costs nothing.
//
// What the layers inside note (NoteCorrelationID, NoteCaller, the
// Extension's operation) reaches the line once a layer has put the record
// in the request's context with Attach: that layer makes a new context
// anyway, and the request is not copied once more for the record.
func Middleware(route string, m *Metrics, logger *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		if m == nil && logger == nil {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			// One allocation for the writer that sees the status and what
			// the request's layers note.
			sw := &statusWriter{ResponseWriter: w}
			rec := &sw.record
			next.ServeHTTP(sw, r)
			d := time.Since(start)
			status := sw.status
			if status == 0 {
				status = http.StatusOK
			}
			if sw.hijacked {
				status = http.StatusSwitchingProtocols
			}
			m.ObserveHTTP(route, status, d)
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if rec.operations == 0 && rec.code != "" {
				// Refused before GraphQL saw it: still an outcome to count.
				m.ObserveOperation("", "unknown", rec.code, d)
			}
			if logger == nil {
				return
			}
			level := slog.LevelInfo
			if status >= 500 || rec.code == string(domain.CodeInternal) || rec.code == string(domain.CodeUnavailable) {
				level = slog.LevelWarn
			}
			ctx := r.Context()
			h := logger.Handler()
			if !h.Enabled(ctx, level) {
				return
			}
			// The record is made here rather than by logger.LogAttrs, which
			// captures the caller's program counter (runtime.Callers, a
			// stack walk) for a source location this line never shows.
			line := slog.NewRecord(time.Now(), level, "request", 0)
			attrs := [...]slog.Attr{
				slog.String("method", r.Method),
				slog.String("route", route),
				slog.Int("status", status),
				slog.Float64("duration_ms", float64(d.Microseconds())/1000),
				slog.String("operation", rec.operation),
				slog.String("type", rec.opType),
				slog.String("code", rec.code),
				slog.String("correlation_id", rec.correlationID),
				{}, {}, {},
			}
			n := 8
			if rec.operations > 1 {
				attrs[n] = slog.Int("operations", rec.operations)
				n++
			}
			if rec.hasCaller {
				attrs[n], attrs[n+1] = slog.String("tenant", rec.caller.TenantID.String()), slog.String("role", string(rec.caller.Role))
				n += 2
			}
			line.AddAttrs(attrs[:n]...) // one call: the record grows once
			_ = h.Handle(ctx, line)
		})
	}
}

// Attach returns ctx with the observation record of the request that w,
// the writer Middleware gave the handler, answers; ctx itself when w is
// another writer (nothing observed).
func Attach(ctx context.Context, w http.ResponseWriter) context.Context {
	if sw, ok := w.(*statusWriter); ok {
		return context.WithValue(ctx, recordKey{}, &sw.record)
	}
	return ctx
}

// statusWriter remembers the status written; it passes Flush and Hijack
// through, which streaming responses and the WebSocket upgrade need.
type statusWriter struct {
	http.ResponseWriter
	record   record // what the request's layers note, for Attach
	status   int
	hijacked bool
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("the response writer cannot be hijacked")
	}
	c, rw, err := h.Hijack()
	if err == nil {
		w.hijacked = true
	}
	return c, rw, err
}

// Unwrap lets http.ResponseController reach the writer underneath.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
