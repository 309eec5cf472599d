package audit

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/eventstore"
	"github.com/partnercenter/multichannel/internal/auth"
)

// ExportHandler serves GET /audit/export as application/x-ndjson, streamed
// page by page with a flush after each. Query parameters (all optional):
// stream, type (repeatable, or comma-separated), from and to (RFC 3339, on
// recordedAt: from inclusive, to exclusive), fromPosition and toPosition
// (inclusive) and afterPosition (exclusive), positions as the API shows
// them.
//
// authorize decides who may export (the server passes one that allows the
// AUDITOR role only). An error matching auth.ErrUnauthenticated, or a
// *domain.Error with code UNAUTHENTICATED, answers 401; any other error
// answers 403 (a *domain.Error with code FORBIDDEN, or anything else: the
// handler fails closed).
func ExportHandler(store eventstore.Store, authorize func(*http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			httpError(w, http.StatusMethodNotAllowed, "BAD_REQUEST", "use GET")
			return
		}
		if err := authorize(r); err != nil {
			var de *domain.Error
			if errors.Is(err, auth.ErrUnauthenticated) || errors.As(err, &de) && de.Code == domain.CodeUnauthenticated {
				w.Header().Set("WWW-Authenticate", `Bearer realm="audit"`)
				httpError(w, http.StatusUnauthorized, string(domain.CodeUnauthenticated), "a valid bearer token is required")
				return
			}
			httpError(w, http.StatusForbidden, string(domain.CodeForbidden), "only auditors may export the log")
			return
		}
		f, err := ParseFilter(r.URL.Query())
		if err != nil {
			httpError(w, http.StatusBadRequest, string(domain.CodeBadUserInput), err.Error())
			return
		}
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if r.Method == http.MethodHead {
			return
		}
		rc := http.NewResponseController(w)
		lines, err := export(r.Context(), store, f, flushWriter{w: w, rc: rc})
		if err == nil || r.Context().Err() != nil {
			return
		}
		slog.ErrorContext(r.Context(), "audit export failed", "err", err, "lines", lines)
		if lines == 0 {
			// Nothing sent yet (unless a flush already committed the
			// headers): an honest status is still possible.
			w.Header().Set("Content-Type", "application/json")
			httpError(w, http.StatusInternalServerError, string(domain.CodeInternal), "the export failed")
			return
		}
		// Mid-stream: the status is sent; end with a line that says the
		// export is incomplete (Import refuses it).
		b, _ := json.Marshal(Record{Error: "the export failed after this point; it is incomplete"})
		w.Write(append(b, '\n'))
		rc.Flush()
	})
}

// flushWriter gives export a Flush that reaches the client.
type flushWriter struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

func (f flushWriter) Write(p []byte) (int, error) { return f.w.Write(p) }

func (f flushWriter) Flush() error {
	if err := f.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	return nil
}

func httpError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

// ParseFilter reads an export filter from query parameters (see
// ExportHandler). Unknown parameters are refused, so that a misspelt
// filter does not silently export everything.
func ParseFilter(q url.Values) (Filter, error) {
	var f Filter
	for k := range q {
		switch k {
		case "stream", "type", "from", "to", "fromPosition", "afterPosition", "toPosition":
		default:
			return f, fmt.Errorf("unknown parameter %q", k)
		}
	}
	f.Stream = q.Get("stream")
	for _, t := range q["type"] {
		for _, s := range strings.Split(t, ",") {
			if s = strings.TrimSpace(s); s != "" {
				f.Types = append(f.Types, s)
			}
		}
	}
	var err error
	parseTime := func(name string) *time.Time {
		v := q.Get(name)
		if v == "" || err != nil {
			return nil
		}
		t, e := time.Parse(time.RFC3339Nano, v)
		if e != nil {
			err = fmt.Errorf("%s: %q is not an RFC 3339 time with a zone", name, v)
			return nil
		}
		return &t
	}
	parsePos := func(name string) *eventstore.Position {
		v := q.Get(name)
		if v == "" || err != nil {
			return nil
		}
		p, e := eventstore.ParsePosition(v)
		if e != nil {
			err = fmt.Errorf("%s: %q is not a position", name, v)
			return nil
		}
		return &p
	}
	f.From, f.To = parseTime("from"), parseTime("to")
	f.FromPosition, f.AfterPosition, f.ToPosition = parsePos("fromPosition"), parsePos("afterPosition"), parsePos("toPosition")
	return f, err
}
