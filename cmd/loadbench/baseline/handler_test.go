package baseline

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func post(t *testing.T, h http.Handler, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestPing(t *testing.T) {
	rec := post(t, NewMux(), `{"query":"{ ping }"}`)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if got, want := strings.TrimSpace(rec.Body.String()), `{"data":{"ping":"pong"}}`; got != want {
		t.Fatalf("body %s, want %s", got, want)
	}
}

// The baseline is bare gqlgen: an unknown field is still a validation error,
// so a benchmark that sent the wrong document would fail, not go fast.
func TestUnknownFieldIsAnError(t *testing.T) {
	rec := post(t, NewMux(), `{"query":"{ pong }"}`)
	if !strings.Contains(rec.Body.String(), "GRAPHQL_VALIDATION_FAILED") {
		t.Fatalf("body %s, want a validation error", rec.Body)
	}
}

func TestHealthz(t *testing.T) {
	rec := httptest.NewRecorder()
	NewMux().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
}
