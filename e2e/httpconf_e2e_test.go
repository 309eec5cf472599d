package e2e

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/partnercenter/multichannel/internal/app"
	"github.com/partnercenter/multichannel/internal/httpapi"
)

// CORS_ORIGINS (or -cors-origins): the list when set; else loopback
// origins in development and none in production. A malformed origin stops
// the start.
func TestCORSConfig(t *testing.T) {
	for _, c := range []struct {
		name string
		env  map[string]string
		args []string
		want httpapi.CORS
	}{
		{"development", nil, nil, httpapi.CORS{Loopback: true}},
		{"production", map[string]string{"APP_ENV": "production"}, nil, httpapi.CORS{}},
		{"production, listed", map[string]string{"APP_ENV": "production", "CORS_ORIGINS": "https://app.example.com,https://*.example.org"}, nil,
			httpapi.CORS{Origins: []string{"https://app.example.com", "https://*.example.org"}}},
		{"development, listed", map[string]string{"CORS_ORIGINS": "https://app.example.com"}, nil, httpapi.CORS{Origins: []string{"https://app.example.com"}}},
		{"development, none", map[string]string{"CORS_ORIGINS": "none"}, nil, httpapi.CORS{}},
		{"the flag wins", map[string]string{"CORS_ORIGINS": "https://a.example.com"}, []string{"-cors-origins", "https://b.example.com"}, httpapi.CORS{Origins: []string{"https://b.example.com"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("JWT_SECRET", testSecret)
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			cfg, err := app.ParseConfig(c.args)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.CORS.Loopback != c.want.Loopback || !slices.Equal(cfg.CORS.Origins, c.want.Origins) {
				t.Errorf("CORS %+v, want %+v", cfg.CORS, c.want)
			}
		})
	}
	t.Run("malformed", func(t *testing.T) {
		t.Setenv("CORS_ORIGINS", "https://app.example.com/")
		if _, err := app.ParseConfig(nil); err == nil || !strings.Contains(err.Error(), "CORS_ORIGINS") {
			t.Errorf("a trailing slash: %v", err)
		}
	})
}

// The real server, in production with CORS_ORIGINS set, answers a
// browser's preflight and request from that origin, and not from another.
func TestCORSServer(t *testing.T) {
	t.Parallel()
	const allowed = "https://app.example.com"
	ts := startServer(t, func(c *setup) { c.CORS = httpapi.CORS{Origins: []string{allowed}} })
	for _, origin := range []string{allowed, "http://localhost:5173"} {
		req, _ := http.NewRequest(http.MethodOptions, ts.url+"/graphql", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization,content-type,x-consistency-token")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		want := ""
		if origin == allowed {
			want = origin
		}
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != want {
			t.Errorf("preflight from %s: Allow-Origin %q, want %q", origin, got, want)
		}
		r := ts.anonymous().do(`{ __typename }`, nil, "Origin", origin)
		if got := r.header.Get("Access-Control-Allow-Origin"); got != want {
			t.Errorf("POST from %s: Allow-Origin %q, want %q", origin, got, want)
		}
		if origin == allowed && !strings.Contains(strings.ToLower(r.header.Get("Access-Control-Expose-Headers")), "x-correlation-id") {
			t.Errorf("POST from %s: Expose-Headers %q", origin, r.header.Get("Access-Control-Expose-Headers"))
		}
	}
}

// Production refuses a JWT_SECRET shorter than 32 bytes, and says how to
// make one; development takes any.
func TestJWTSecretLength(t *testing.T) {
	for _, c := range []struct {
		env, secret string
		ok          bool
	}{
		{"production", "", false},
		{"production", "x", false},
		{"production", strings.Repeat("x", 31), false},
		{"production", strings.Repeat("x", 32), true},
		{"development", "x", true},
	} {
		_, err := app.ParseConfig([]string{"-env", c.env, "-jwt-secret=" + c.secret})
		if (err == nil) != c.ok {
			t.Errorf("%s, %d-byte secret: %v", c.env, len(c.secret), err)
		}
		if err != nil && !strings.Contains(err.Error(), "openssl rand -hex 32") {
			t.Errorf("%s, %d-byte secret: %q does not say how to make one", c.env, len(c.secret), err)
		}
	}
}

// Development listens on loopback only unless an address is given;
// production on every interface.
func TestListenAddressDefaults(t *testing.T) {
	for _, c := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"development", nil, nil, "127.0.0.1:8080"},
		{"production", map[string]string{"APP_ENV": "production"}, nil, ":8080"},
		{"development, HTTP_ADDR", map[string]string{"HTTP_ADDR": ":8080"}, nil, ":8080"},
		{"development, -addr", nil, []string{"-addr", ":9090"}, ":9090"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("JWT_SECRET", testSecret)
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			cfg, err := app.ParseConfig(c.args)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Addr != c.want {
				t.Errorf("address %q, want %q", cfg.Addr, c.want)
			}
		})
	}
}

// Through the development server's real handler, the playground page
// carries the demo token for a loopback client only.
func TestPlaygroundTokensOnlyForLoopback(t *testing.T) {
	root := startServer(t, func(c *setup) {
		c.Env = "development"
		c.Playground = true
	}).handler
	for remote, want := range map[string]bool{"127.0.0.1:40000": true, "[::1]:40000": true, "192.0.2.7:40000": false} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = remote
		w := httptest.NewRecorder()
		root.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			t.Fatalf("GET / from %s: HTTP %d", remote, w.Code)
		}
		if got := strings.Contains(w.Body.String(), "Bearer ey"); got != want {
			t.Errorf("GET / from %s: token in the page %v, want %v", remote, got, want)
		}
	}
}
