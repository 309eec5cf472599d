package playground_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/partnercenter/multichannel/internal/playground"
)

// serve mounts the handler as the server does, at "/" and under
// "/playground/", on a loopback server.
func serve(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/playground/", h)
	mux.Handle("/{$}", h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, url string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	// A Transport of its own: one that does not add Accept-Encoding or
	// decompress, so that the tests see the bytes that were sent.
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

var configRE = regexp.MustCompile(`(?s)<script type="application/json" id="playground-config">(.*?)</script>`)

type config struct {
	Endpoint string `json:"endpoint"`
	Headers  string `json:"headers"`
}

func pageConfig(t *testing.T, page string) config {
	t.Helper()
	m := configRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no config block in the page:\n%s", page)
	}
	var c config
	if err := json.Unmarshal([]byte(m[1]), &c); err != nil {
		t.Fatalf("config block %q: %v", m[1], err)
	}
	return c
}

func TestPagePrefillsHeaders(t *testing.T) {
	t.Parallel()
	hostile := `Bearer x</script><script>alert(1)</script>"&'`
	srv := serve(t, playground.Handler(`API <b>"&`, "/graphql", map[string]string{"Authorization": hostile}))

	for _, path := range []string{"/", "/playground/"} {
		resp, body := get(t, srv.URL+path, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s", path, resp.Status)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Fatalf("GET %s: Content-Type %q", path, ct)
		}
		page := string(body)
		if strings.Contains(page, "<script>alert") || strings.Contains(page, `x</script>`) {
			t.Fatalf("the header value is not escaped:\n%s", page)
		}
		if !strings.Contains(page, "<title>API &lt;b&gt;&#34;&amp;</title>") {
			t.Fatalf("the title is not escaped:\n%s", page)
		}
		c := pageConfig(t, page)
		if c.Endpoint != "/graphql" {
			t.Fatalf("endpoint %q", c.Endpoint)
		}
		// The editor's text is JSON that gives back the headers exactly.
		var headers map[string]string
		if err := json.Unmarshal([]byte(c.Headers), &headers); err != nil {
			t.Fatalf("headers text %q: %v", c.Headers, err)
		}
		if len(headers) != 1 || headers["Authorization"] != hostile {
			t.Fatalf("headers %v, want Authorization %q", headers, hostile)
		}
		if strings.Contains(c.Headers, `\u003c`) {
			t.Fatalf("headers text %q shows escapes in the editor", c.Headers)
		}
		if !strings.Contains(resp.Header.Get("Cache-Control"), "no-cache") {
			t.Fatalf("a page with a token is cached: %q", resp.Header.Get("Cache-Control"))
		}
	}
}

func TestPageWithoutHeaders(t *testing.T) {
	t.Parallel()
	srv := serve(t, playground.Handler("API", "/graphql", nil))
	_, body := get(t, srv.URL+"/", nil)
	if c := pageConfig(t, string(body)); c.Headers != "" {
		t.Fatalf("headers %q, want none", c.Headers)
	}
}

var refRE = regexp.MustCompile(`(?:src|href)="([^"]*)"`)

func TestEveryReferencedAssetIsServed(t *testing.T) {
	t.Parallel()
	srv := serve(t, playground.Handler("API", "/graphql", map[string]string{"Authorization": "Bearer t"}))
	_, body := get(t, srv.URL+"/", nil)
	refs := refRE.FindAllStringSubmatch(string(body), -1)
	if len(refs) != 9 {
		t.Fatalf("page references %d files, want 9 (GraphiQL's, the explorer's and the page's CSS; React, ReactDOM, GraphiQL, the explorer, graphql-ws, init):\n%s", len(refs), body)
	}
	for _, m := range refs {
		ref := html.UnescapeString(m[1])
		if !strings.HasPrefix(ref, playground.AssetPrefix) {
			t.Fatalf("reference %q is not under %s", ref, playground.AssetPrefix)
		}
		resp, asset := get(t, srv.URL+ref, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s", ref, resp.Status)
		}
		ct := resp.Header.Get("Content-Type")
		switch {
		case strings.Contains(ref, ".js?"):
			if ct != "text/javascript; charset=utf-8" {
				t.Fatalf("GET %s: Content-Type %q", ref, ct)
			}
		case strings.Contains(ref, ".css?"):
			if ct != "text/css; charset=utf-8" {
				t.Fatalf("GET %s: Content-Type %q", ref, ct)
			}
		default:
			t.Fatalf("reference %q is neither JS nor CSS", ref)
		}
		if len(asset) < 1000 {
			t.Fatalf("GET %s: %d bytes", ref, len(asset))
		}
		// The references carry the content's version: cache for good.
		if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "immutable") {
			t.Fatalf("GET %s: Cache-Control %q", ref, cc)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Fatalf("GET %s: no nosniff", ref)
		}
	}
}

var urlRE = regexp.MustCompile(`(?i)https?://`)

func TestNothingExternal(t *testing.T) {
	t.Parallel()
	srv := serve(t, playground.Handler("API", "/graphql", map[string]string{"Authorization": "Bearer t"}))
	_, body := get(t, srv.URL+"/", nil)
	page := string(body)
	// Drop comments, where a license may name its home page.
	page = regexp.MustCompile(`(?s)<!--.*?-->`).ReplaceAllString(page, "")
	if loc := urlRE.FindStringIndex(page); loc != nil {
		t.Fatalf("the page names an external URL at %q", page[loc[0]:min(len(page), loc[1]+40)])
	}

	// The stylesheet must not pull fonts or images from elsewhere (its
	// fonts are inlined as data: URLs), and the init script must not load
	// anything itself.
	_, css := get(t, srv.URL+playground.AssetPrefix+"graphiql/graphiql.min.css", nil)
	if regexp.MustCompile(`(?i)@import|url\(\s*['"]?(https?:)?//`).Match(css) {
		t.Fatal("graphiql.min.css loads something from another host")
	}
	_, js := get(t, srv.URL+playground.AssetPrefix+"playground.js", nil)
	if urlRE.Match(js) {
		t.Fatal("playground.js names an external URL")
	}

	resp, _ := get(t, srv.URL+"/", nil)
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self'"} {
		if !strings.Contains(csp, want) {
			t.Fatalf("Content-Security-Policy %q lacks %q", csp, want)
		}
	}
}

func TestAbsoluteEndpointIsAllowedByCSP(t *testing.T) {
	t.Parallel()
	srv := serve(t, playground.Handler("API", "https://api.example.test/graphql", nil))
	resp, _ := get(t, srv.URL+"/", nil)
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "connect-src 'self' https://api.example.test wss://api.example.test") {
		t.Fatalf("Content-Security-Policy %q does not allow the endpoint", csp)
	}
}

// TestGraphiQLBundlesGraphQLWS guards the subscription support: the page
// passes subscriptionUrl to createFetcher, which works only if the UMD build
// carries its own graphql-ws client (graphiql 3 does). An upgrade to a
// build without it must add graphql-ws to the assets.
func TestGraphiQLBundlesGraphQLWS(t *testing.T) {
	t.Parallel()
	srv := serve(t, playground.Handler("API", "/graphql", nil))
	_, js := get(t, srv.URL+playground.AssetPrefix+"graphiql/graphiql.min.js", nil)
	for _, want := range []string{`"graphql-transport-ws"`, "createFetcher", "subscriptionUrl"} {
		if !bytes.Contains(js, []byte(want)) {
			t.Fatalf("graphiql.min.js lacks %s", want)
		}
	}
}

func TestAssetCompressionAndValidators(t *testing.T) {
	t.Parallel()
	srv := serve(t, playground.Handler("API", "/graphql", nil))
	url := srv.URL + playground.AssetPrefix + "graphiql/graphiql.min.js"
	_, plain := get(t, url, nil)

	resp, z := get(t, url, http.Header{"Accept-Encoding": {"br, gzip"}})
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding %q, want gzip", resp.Header.Get("Content-Encoding"))
	}
	if len(z) >= len(plain)/2 {
		t.Fatalf("gzip sent %d bytes of %d", len(z), len(plain))
	}
	r, err := gzip.NewReader(bytes.NewReader(z))
	if err != nil {
		t.Fatal(err)
	}
	unz, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(unz, plain) {
		t.Fatal("the gzip body does not decompress to the file")
	}
	if resp.Header.Get("Vary") != "Accept-Encoding" {
		t.Fatalf("Vary %q", resp.Header.Get("Vary"))
	}

	// Revalidation answers 304 for each representation's own validator.
	etag := resp.Header.Get("ETag")
	resp, body := get(t, url, http.Header{"Accept-Encoding": {"gzip"}, "If-None-Match": {etag}})
	if resp.StatusCode != http.StatusNotModified || len(body) != 0 {
		t.Fatalf("revalidation with %s: %s, %d bytes", etag, resp.Status, len(body))
	}
	resp, _ = get(t, url, nil)
	plainTag := resp.Header.Get("ETag")
	if plainTag == etag {
		t.Fatal("the gzip and identity representations share an ETag")
	}
	resp, _ = get(t, url, http.Header{"If-None-Match": {plainTag}})
	if resp.StatusCode != http.StatusNotModified {
		t.Fatalf("revalidation with %s: %s", plainTag, resp.Status)
	}

	// Without the version in the URL the file is revalidated, not kept.
	if cc := resp.Header.Get("Cache-Control"); strings.Contains(cc, "immutable") {
		t.Fatalf("unversioned URL is cached for good: %q", cc)
	}
	resp, _ = get(t, url, http.Header{"Accept-Encoding": {"gzip;q=0"}})
	if resp.Header.Get("Content-Encoding") != "" {
		t.Fatal("gzip sent although refused with q=0")
	}
}

func TestLicensesAreServed(t *testing.T) {
	t.Parallel()
	srv := serve(t, playground.Handler("API", "/graphql", nil))
	for _, pkg := range []string{"graphiql", "react", "react-dom", "plugin-explorer", "graphql-ws"} {
		resp, body := get(t, srv.URL+playground.AssetPrefix+pkg+"/LICENSE", nil)
		if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("MIT License")) {
			t.Fatalf("%s/LICENSE: %s, %.40q", pkg, resp.Status, body)
		}
	}
}

func TestNotFoundAndMethods(t *testing.T) {
	t.Parallel()
	srv := serve(t, playground.Handler("API", "/graphql", nil))
	for _, path := range []string{
		playground.AssetPrefix + "missing.js",
		playground.AssetPrefix + "../playground.go",
		"/playground/page.html",
	} {
		if resp, _ := get(t, srv.URL+path, nil); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("GET %s: %s, want 404", path, resp.Status)
		}
	}
	resp, err := http.Post(srv.URL+"/", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST /: %s, want 405", resp.Status)
	}
}

// The headers (development's bearer tokens) go only to a client on a
// loopback address that no proxy forwarded; anyone else who reaches the
// port gets the page with an empty headers editor.
func TestHeadersOnlyForLoopbackClients(t *testing.T) {
	t.Parallel()
	h := playground.Handler("API", "/graphql", map[string]string{"Authorization": "Bearer secret-token"})
	for _, c := range []struct {
		name, remote string
		header       []string
		tokens       bool
	}{
		{"IPv4 loopback", "127.0.0.1:50000", nil, true},
		{"another 127/8 address", "127.0.0.2:50000", nil, true},
		{"IPv6 loopback", "[::1]:50000", nil, true},
		{"IPv4-mapped loopback", "[::ffff:127.0.0.1]:50000", nil, true},
		{"another machine", "192.0.2.10:50000", nil, false},
		{"another machine over IPv6", "[2001:db8::1]:50000", nil, false},
		{"the machine's own LAN address", "10.1.2.3:50000", nil, false},
		{"through a local proxy (X-Forwarded-For)", "127.0.0.1:50000", []string{"X-Forwarded-For", "192.0.2.10"}, false},
		{"through a local proxy (Forwarded)", "127.0.0.1:50000", []string{"Forwarded", "for=192.0.2.10"}, false},
		{"through a local proxy (X-Real-IP)", "127.0.0.1:50000", []string{"X-Real-IP", "192.0.2.10"}, false},
		{"no address", "", nil, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = c.remote
			for i := 0; i+1 < len(c.header); i += 2 {
				r.Header.Set(c.header[i], c.header[i+1])
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != http.StatusOK {
				t.Fatalf("HTTP %d", w.Code)
			}
			page := w.Body.String()
			if got := strings.Contains(page, "secret-token"); got != c.tokens {
				t.Fatalf("token in the page: %v, want %v", got, c.tokens)
			}
			if !c.tokens && pageConfig(t, page).Headers != "" {
				t.Fatalf("headers %q, want none", pageConfig(t, page).Headers)
			}
		})
	}
}

type tabConfig struct {
	Roles []struct{ Label, Token string } `json:"roles"`
	Tabs  []struct {
		Query, Variables, Headers, Role string
	} `json:"tabs"`
	Namespace string `json:"namespace"`
}

func tabsOf(t *testing.T, page string) tabConfig {
	t.Helper()
	m := configRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no config block in the page")
	}
	var c tabConfig
	if err := json.Unmarshal([]byte(m[1]), &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// Each tab carries the token of the role its example names (the first
// role's when it names none it knows), and only a client on this machine
// gets tokens or the role switcher; the tabs' namespace changes with the
// tokens, so that a restarted server's page opens on fresh tabs.
func TestTabsCarryTheirRolesTokens(t *testing.T) {
	t.Parallel()
	cfg := playground.Config{
		Title: "API", Endpoint: "/graphql",
		Headers: map[string]string{"X-Extra": "1"},
		Roles:   []playground.Role{{Label: "Sales agent", Token: "tok-sales"}, {Label: "Auditor", Token: "tok-audit"}},
		Tabs: []playground.Tab{
			{Query: "{ viewer { role } }", Role: "Auditor", Variables: `{"a":1}`},
			{Query: "{ viewer { userId } }", Role: "nobody"},
		},
	}
	local := func(h http.Handler) tabConfig {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = "127.0.0.1:50000"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return tabsOf(t, w.Body.String())
	}
	c := local(playground.New(cfg))
	if len(c.Roles) != 2 || len(c.Tabs) != 2 {
		t.Fatalf("roles %v, tabs %v", c.Roles, c.Tabs)
	}
	for i, want := range []struct{ role, token string }{{"Auditor", "tok-audit"}, {"Sales agent", "tok-sales"}} {
		var h map[string]string
		if err := json.Unmarshal([]byte(c.Tabs[i].Headers), &h); err != nil {
			t.Fatalf("tab %d headers %q: %v", i, c.Tabs[i].Headers, err)
		}
		if c.Tabs[i].Role != want.role || h["Authorization"] != "Bearer "+want.token || h["X-Extra"] != "1" {
			t.Fatalf("tab %d: role %q, headers %v; want %s's token and the extra header", i, c.Tabs[i].Role, h, want.role)
		}
	}
	if c.Tabs[0].Variables != "{\n  \"a\": 1\n}" {
		t.Fatalf("variables %q, want indented JSON", c.Tabs[0].Variables)
	}

	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "192.0.2.10:50000"
	w := httptest.NewRecorder()
	playground.New(cfg).ServeHTTP(w, r)
	if strings.Contains(w.Body.String(), "tok-") {
		t.Fatal("a client on another machine got a token")
	}
	if p := tabsOf(t, w.Body.String()); len(p.Roles) != 0 || len(p.Tabs) != 2 || p.Tabs[0].Headers != "" {
		t.Fatalf("another machine's page: roles %v, tabs %v; want the tabs without headers and no roles", p.Roles, p.Tabs)
	}

	cfg.Roles = []playground.Role{{Label: "Sales agent", Token: "tok-sales-2"}, {Label: "Auditor", Token: "tok-audit-2"}}
	if again := local(playground.New(cfg)); again.Namespace == c.Namespace || again.Namespace == "" {
		t.Fatalf("namespace %q after new tokens, was %q", again.Namespace, c.Namespace)
	}
}
