// Package playground serves GraphiQL from the binary, so that the API's
// playground works on a closed network.
//
// gqlgen's own playground loads GraphiQL and React from a CDN, and its page
// stays blank where that CDN cannot be reached (CI, air-gapped and many
// corporate networks). This package embeds the built files of the npm
// packages instead, each next to its LICENSE:
//
//	assets/graphiql/   graphiql 3.9.0: graphiql.min.js (UMD), graphiql.min.css
//	assets/react/      react 18.3.1: umd/react.production.min.js
//	assets/react-dom/  react-dom 18.3.1: umd/react-dom.production.min.js
//	assets/plugin-explorer/  @graphiql/plugin-explorer 3.2.6: dist/index.umd.js,
//	                   dist/style.css (the version whose peer is the
//	                   @graphiql/react 0.29 that graphiql 3.9.0 bundles)
//	assets/graphql-ws/ graphql-ws 5.16.2: umd/graphql-ws.min.js
//
// graphiql 3 is the last major version with a UMD build; its stylesheet
// inlines its fonts. Its bundle includes a graphql-ws client, but one that
// retries a socket the server closed with 4403 for half a minute and never
// shows why: the page runs subscriptions (GraphiQL's and the live event
// view's) on a graphql-ws client of its own, which stops at the first
// close code of the 4400s and shows the server's close reason. To upgrade,
// `npm pack` the packages in a scratch directory and copy the same files.
//
// assets/playground.js starts GraphiQL with one tab per example operation
// (Config.Tabs), a role switcher built from the demo users (Config.Roles),
// the explorer plugin, and a live event view (a plugin of its own).
//
// The page references nothing outside its own origin, and its
// Content-Security-Policy says so to the browser.
package playground

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"
)

// AssetPrefix is the URL path under which the assets are served. The
// server mounts Handler at "/" and at this prefix.
const AssetPrefix = "/playground/assets/"

//go:embed assets/graphiql/graphiql.min.js assets/graphiql/graphiql.min.css assets/graphiql/LICENSE
//go:embed assets/react/react.production.min.js assets/react/LICENSE
//go:embed assets/react-dom/react-dom.production.min.js assets/react-dom/LICENSE
//go:embed assets/plugin-explorer/index.umd.js assets/plugin-explorer/style.css assets/plugin-explorer/LICENSE
//go:embed assets/graphql-ws/graphql-ws.min.js assets/graphql-ws/LICENSE
//go:embed assets/playground.js assets/playground.css
var assetFS embed.FS

//go:embed page.html
var pageHTML string

var pageTemplate = template.Must(template.New("page").Parse(pageHTML))

// asset is one embedded file, ready to serve.
type asset struct {
	name        string
	body        []byte
	contentType string
	// etag is a strong validator from the content, so that it changes
	// exactly when an upgrade changes the file.
	etag string

	gzipOnce sync.Once
	gzipped  []byte
}

// gz compresses the asset the first time a client asks for gzip: GraphiQL
// is almost 1 MB and compresses about five-fold.
func (a *asset) gz() []byte {
	a.gzipOnce.Do(func() {
		var buf bytes.Buffer
		w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression) // the level is valid
		w.Write(a.body)                                         // a bytes.Buffer does not fail
		w.Close()
		if buf.Len() < len(a.body) {
			a.gzipped = buf.Bytes()
		}
	})
	return a.gzipped
}

// assets maps a URL path (AssetPrefix + file path) to its file. It is built
// once; Handlers share it.
var assets = sync.OnceValue(func() map[string]*asset {
	m := map[string]*asset{}
	err := fs.WalkDir(assetFS, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := assetFS.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		name := strings.TrimPrefix(p, "assets/")
		m[AssetPrefix+name] = &asset{
			name:        name,
			body:        body,
			contentType: contentType(name),
			etag:        `"` + hex.EncodeToString(sum[:12]) + `"`,
		}
		return nil
	})
	if err != nil {
		// The files are compiled in: failing to read them is a build defect.
		panic(fmt.Sprintf("playground: embedded assets: %v", err))
	}
	return m
})

func contentType(name string) string {
	switch path.Ext(name) {
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	}
	return "text/plain; charset=utf-8" // the LICENSE files
}

// assetURL returns the URL of an embedded file with its content version,
// so that a browser may cache it for good and still fetch an upgrade.
func assetURL(name string) string {
	a, ok := assets()[AssetPrefix+name]
	if !ok {
		panic("playground: no embedded asset " + name)
	}
	return AssetPrefix + name + "?v=" + strings.Trim(a.etag, `"`)
}

// pageData is what the page template is given. Config is rendered by
// html/template into a JSON data block: it is JSON-encoded and escaped for
// its context, so a header value cannot close the script element.
type pageData struct {
	Title  string
	Config pageConfig
	Assets struct {
		CSS, ExplorerCSS, PageCSS                            string
		React, ReactDOM, GraphiQL, Explorer, GraphQLWS, Init string
	}
}

type pageConfig struct {
	Endpoint string `json:"endpoint"`
	// Headers is the headers editor's initial text (a JSON object) for a
	// new tab, or empty for none.
	Headers string `json:"headers"`
	// Roles are the users the role switcher offers; none on the page for
	// a client that is not on this machine.
	Roles []Role `json:"roles"`
	// Tabs are the tabs GraphiQL opens with.
	Tabs []pageTab `json:"tabs"`
	// Namespace keys the browser's stored tabs: a page with other tokens
	// or other examples (a restarted server) opens on its own tabs instead
	// of the ones stored with tokens that no longer verify.
	Namespace string `json:"namespace"`
}

type pageTab struct {
	Query     string `json:"query"`
	Variables string `json:"variables,omitempty"`
	Headers   string `json:"headers,omitempty"`
	// Role is the label of the tab's user, for the role switcher.
	Role string `json:"role,omitempty"`
}

// Role is a user the role switcher offers: one click sets the tab's
// Authorization header to "Bearer " + Token.
type Role struct {
	Label string `json:"label"`
	Token string `json:"token"`
}

// Tab is an operation the playground opens in a tab of its own.
type Tab struct {
	// Query is the tab's document (comments included).
	Query string
	// Variables is a JSON object, or empty.
	Variables string
	// Role is the label of the Role whose token the tab carries; empty or
	// unknown gives the first role's.
	Role string
}

// Config is what New serves.
type Config struct {
	// Title is the page's title.
	Title string
	// Endpoint is the GraphQL URL (usually relative, "/graphql");
	// subscriptions use the same URL over ws: or wss:.
	Endpoint string
	// Headers pre-fill the headers editor of a new tab. With Roles set
	// and no Authorization here, a new tab carries the first role's.
	Headers map[string]string
	// Roles are the users of the role switcher, the first the default.
	Roles []Role
	// Tabs are the tabs the playground opens with, in order.
	Tabs []Tab
}

// Handler serves the playground: the GraphiQL page at "/" and the embedded
// assets under AssetPrefix. endpoint is the GraphQL URL (usually relative,
// "/graphql"); subscriptions use the same URL over ws: or wss:, as the page
// is served. headers pre-fill GraphiQL's headers editor, e.g.
// {"Authorization": "Bearer <token>"}; nil or empty leaves it empty.
//
// The headers go only to a client on a loopback address that no proxy
// forwarded (see LoopbackClient): they carry development's bearer tokens,
// which anyone else who reaches the port must not be handed. Any other
// client gets the page with an empty headers editor.
func Handler(title, endpoint string, headers map[string]string) http.Handler {
	return New(Config{Title: title, Endpoint: endpoint, Headers: headers})
}

// New serves the playground of c: the page at "/" and the embedded assets
// under AssetPrefix. As with Handler, the headers and the roles' tokens go
// only to a client on this machine (LoopbackClient); any other gets the
// same tabs with no headers and no role switcher.
func New(c Config) http.Handler {
	h := &handler{
		csp:    contentSecurityPolicy(c.Endpoint),
		assets: assets(),
	}
	h.public = newPage(c, false)
	h.local = h.public
	if len(c.Headers) > 0 || len(c.Roles) > 0 {
		h.local = newPage(c, true)
	}
	return h
}

// page is the rendered GraphiQL page and its validator.
type page struct {
	body []byte
	etag string
}

// headersText is the headers editor's text for headers: a JSON object,
// indented, or "" for none. The editor shows this text as it is, so it is
// not HTML-escaped here (a "<" would read as \u003c); the template escapes
// the whole config for the script element. A map of strings always
// encodes, with its keys sorted.
func headersText(headers map[string]string) string {
	if len(headers) == 0 {
		return ""
	}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	_ = enc.Encode(headers)
	return strings.TrimSuffix(b.String(), "\n")
}

// withAuthorization returns base with Authorization set to role's token.
func withAuthorization(base map[string]string, r Role) map[string]string {
	m := make(map[string]string, len(base)+1)
	for k, v := range base {
		m[k] = v
	}
	m["Authorization"] = "Bearer " + r.Token
	return m
}

// newPage renders c's page; local says whether it carries the headers and
// the roles' tokens (for a client on this machine).
func newPage(c Config, local bool) *page {
	data := pageData{Title: c.Title, Config: pageConfig{Endpoint: c.Endpoint, Roles: []Role{}, Tabs: []pageTab{}}}
	roles := map[string]Role{}
	if local {
		data.Config.Roles = append(data.Config.Roles, c.Roles...)
		for _, r := range c.Roles {
			roles[r.Label] = r
		}
		headers := c.Headers
		if _, ok := headers["Authorization"]; !ok && len(c.Roles) > 0 {
			headers = withAuthorization(headers, c.Roles[0])
		}
		data.Config.Headers = headersText(headers)
	}
	for _, t := range c.Tabs {
		pt := pageTab{Query: t.Query, Variables: indentJSON(t.Variables)}
		if local {
			r, ok := roles[t.Role]
			if !ok && len(c.Roles) > 0 {
				r, ok = c.Roles[0], true
			}
			if ok {
				pt.Role = r.Label
				pt.Headers = headersText(withAuthorization(c.Headers, r))
			} else {
				pt.Headers = data.Config.Headers
			}
		}
		data.Config.Tabs = append(data.Config.Tabs, pt)
	}
	ns, _ := json.Marshal(data.Config) // strings, slices and maps of them always encode
	nsSum := sha256.Sum256(ns)
	data.Config.Namespace = hex.EncodeToString(nsSum[:8])

	data.Assets.CSS = assetURL("graphiql/graphiql.min.css")
	data.Assets.ExplorerCSS = assetURL("plugin-explorer/style.css")
	data.Assets.PageCSS = assetURL("playground.css")
	data.Assets.React = assetURL("react/react.production.min.js")
	data.Assets.ReactDOM = assetURL("react-dom/react-dom.production.min.js")
	data.Assets.GraphiQL = assetURL("graphiql/graphiql.min.js")
	data.Assets.Explorer = assetURL("plugin-explorer/index.umd.js")
	data.Assets.GraphQLWS = assetURL("graphql-ws/graphql-ws.min.js")
	data.Assets.Init = assetURL("playground.js")

	var b bytes.Buffer
	if err := pageTemplate.Execute(&b, data); err != nil {
		// The template and its data are fixed here; an error is a defect.
		panic(fmt.Sprintf("playground: page: %v", err))
	}
	sum := sha256.Sum256(b.Bytes())
	return &page{body: b.Bytes(), etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
}

// indentJSON indents a JSON text for the variables editor; a text that is
// not JSON is kept as it is, for the user to see and fix.
func indentJSON(s string) string {
	var b bytes.Buffer
	if json.Indent(&b, []byte(strings.TrimSpace(s)), "", "  ") != nil {
		return s
	}
	return b.String()
}

// LoopbackClient reports whether r comes from this machine: its peer is a
// loopback address and it carries no proxy's forwarding header (a reverse
// proxy on the same machine would make every client's request look
// local).
func LoopbackClient(r *http.Request) bool {
	if r.Header.Get("Forwarded") != "" || r.Header.Get("X-Forwarded-For") != "" || r.Header.Get("X-Real-Ip") != "" {
		return false
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

type handler struct {
	// local is the page for a loopback client (with the headers), public
	// the one for any other (without); the same page without headers.
	local, public *page
	csp           string
	assets        map[string]*asset
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	switch p := r.URL.Path; {
	case p == "/" || p == "/playground" || p == "/playground/":
		h.servePage(w, r)
	case strings.HasPrefix(p, AssetPrefix):
		a, ok := h.assets[p]
		if !ok {
			http.NotFound(w, r)
			return
		}
		serveAsset(w, r, a)
	default:
		http.NotFound(w, r)
	}
}

func (h *handler) servePage(w http.ResponseWriter, r *http.Request) {
	p := h.public
	if LoopbackClient(r) {
		p = h.local
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	// The page may carry a bearer token: keep it out of shared caches and
	// revalidate it, so that a restarted server's new token shows.
	hd.Set("Cache-Control", "no-cache, private")
	hd.Set("ETag", p.etag)
	hd.Set("Content-Security-Policy", h.csp)
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Frame-Options", "DENY")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(p.body))
}

func serveAsset(w http.ResponseWriter, r *http.Request, a *asset) {
	hd := w.Header()
	hd.Set("Content-Type", a.contentType)
	hd.Set("ETag", a.etag)
	hd.Set("Vary", "Accept-Encoding")
	if r.URL.Query().Get("v") == strings.Trim(a.etag, `"`) {
		// The URL names this exact content: it never changes.
		hd.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		hd.Set("Cache-Control", "public, no-cache")
	}
	if acceptsGzip(r) && r.Header.Get("Range") == "" {
		if z := a.gz(); z != nil {
			// Another representation, so another strong validator.
			etag := strings.TrimSuffix(a.etag, `"`) + `-gzip"`
			hd.Set("ETag", etag)
			if match(r.Header.Get("If-None-Match"), etag) {
				w.WriteHeader(http.StatusNotModified)
				return
			}
			hd.Set("Content-Encoding", "gzip")
			hd.Set("Content-Length", fmt.Sprint(len(z)))
			if r.Method != http.MethodHead {
				w.Write(z)
			}
			return
		}
	}
	// ServeContent handles If-None-Match and Range with the ETag set above.
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}

// acceptsGzip reports whether Accept-Encoding lists gzip with a non-zero
// quality.
func acceptsGzip(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept-Encoding") {
		for _, part := range strings.Split(v, ",") {
			coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
				continue
			}
			q := strings.ReplaceAll(params, " ", "")
			return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
		}
	}
	return false
}

// match reports whether an If-None-Match header names etag.
func match(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}

// contentSecurityPolicy allows the page to load only its own assets and to
// talk only to its own origin (over HTTP and WebSocket), plus the
// endpoint's origin when the endpoint is an absolute URL.
func contentSecurityPolicy(endpoint string) string {
	// 'self' covers same-origin WebSockets (ws: and wss:) in current
	// browsers.
	connect := "'self'"
	if u, err := url.Parse(endpoint); err == nil && u.Host != "" && !strings.ContainsAny(u.Host, " ;,'") {
		switch u.Scheme {
		case "http", "ws":
			connect += " http://" + u.Host + " ws://" + u.Host
		case "https", "wss":
			connect += " https://" + u.Host + " wss://" + u.Host
		}
	}
	return strings.Join([]string{
		"default-src 'none'",
		"script-src 'self'",
		// GraphiQL and CodeMirror set inline styles; the page has a small
		// style element of its own.
		"style-src 'self' 'unsafe-inline'",
		"img-src 'self' data:",
		"font-src 'self' data:",
		"connect-src " + connect,
		"base-uri 'none'",
		"form-action 'none'",
		"frame-ancestors 'none'",
	}, "; ")
}
