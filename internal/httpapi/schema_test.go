package httpapi_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/graph"
	"github.com/partnercenter/multichannel/internal/auth"
	"github.com/partnercenter/multichannel/internal/httpapi"
)

// TestSchemaRoute: GET /schema.graphql answers the served schema's SDL where
// it is configured (introspection on), to a caller with a valid token, or to
// anyone when it is public (development mode); elsewhere it does not exist.
func TestSchemaRoute(t *testing.T) {
	secret := []byte("schema-route-test-secret-of-32-bytes")
	verifier := auth.NewHS256Verifier(secret)
	token, err := auth.MintHS256(secret, domain.Actor{UserID: "u", TenantID: uuid.New(), Role: domain.RoleSalesAgent}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	sdl := graph.SDL()

	for _, tc := range []struct {
		name       string
		cfg        httpapi.Config
		method     string
		token      string
		wantStatus int
		wantSDL    bool
	}{
		{"with a token", httpapi.Config{Schema: sdl}, http.MethodGet, "Bearer " + token, http.StatusOK, true},
		{"without a token", httpapi.Config{Schema: sdl}, http.MethodGet, "", http.StatusUnauthorized, false},
		{"with a bad token", httpapi.Config{Schema: sdl}, http.MethodGet, "Bearer x.y.z", http.StatusUnauthorized, false},
		{"public, without a token", httpapi.Config{Schema: sdl, SchemaPublic: true}, http.MethodGet, "", http.StatusOK, true},
		{"not a GET", httpapi.Config{Schema: sdl, SchemaPublic: true}, http.MethodPost, "", http.StatusMethodNotAllowed, false},
		{"introspection off", httpapi.Config{}, http.MethodGet, "Bearer " + token, http.StatusNotFound, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(httpapi.New(api, verifier, tc.cfg))
			defer srv.Close()
			req, _ := http.NewRequest(tc.method, srv.URL+"/schema.graphql", nil)
			if tc.token != "" {
				req.Header.Set("Authorization", tc.token)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("HTTP %d, want %d: %s", resp.StatusCode, tc.wantStatus, body)
			}
			if got := bytes.Equal(body, sdl); got != tc.wantSDL {
				t.Fatalf("body is the SDL: %v, want %v (body %.80q)", got, tc.wantSDL, body)
			}
			if tc.wantStatus == http.StatusUnauthorized && !bytes.HasPrefix(body, []byte("UNAUTHENTICATED: ")) {
				t.Errorf("refusal %q does not name UNAUTHENTICATED", body)
			}
		})
	}
}
