package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/partnercenter/multichannel/internal/auth"
	"github.com/partnercenter/multichannel/internal/httpapi"
)

// The request deadline is applied here and only here: a GraphQL request
// over HTTP gets a context that ends at it, so every wait below (the
// store, the read models, the command handlers) ends there too; a
// WebSocket gets none, since it lives as long as its subscriptions.
func TestRequestDeadlineIsTheContexts(t *testing.T) {
	t.Parallel()
	const timeout = time.Minute
	type seen struct {
		deadline time.Time
		ok       bool
	}
	got := make(chan seen, 1)
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, ok := r.Context().Deadline()
		got <- seen{d, ok}
	})
	h := httpapi.New(api, auth.NewHS256Verifier([]byte("deadline-test-secret-0123456789abcdef")), httpapi.Config{RequestTimeout: timeout})

	before := time.Now()
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/graphql", nil))
	s := <-got
	if !s.ok || s.deadline.Before(before.Add(timeout)) || s.deadline.After(time.Now().Add(timeout)) {
		t.Errorf("HTTP request: deadline %v (%v), want %v after it arrived", s.deadline, s.ok, timeout)
	}

	ws := httptest.NewRequest(http.MethodGet, "/graphql", nil)
	ws.Header.Set("Connection", "Upgrade")
	ws.Header.Set("Upgrade", "websocket")
	h.ServeHTTP(httptest.NewRecorder(), ws)
	if s := <-got; s.ok {
		t.Errorf("WebSocket: deadline %v, want none", s.deadline)
	}

	none := httpapi.New(api, auth.NewHS256Verifier([]byte("deadline-test-secret-0123456789abcdef")), httpapi.Config{})
	none.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/graphql", nil))
	if s := <-got; s.ok {
		t.Errorf("no timeout: deadline %v, want none", s.deadline)
	}
}
