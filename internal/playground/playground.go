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
//
// graphiql 3 is the last major version with a UMD build. Its bundle
// includes graphql-ws, so subscriptions work over graphql-transport-ws
// without another file, and its stylesheet inlines its fonts. To upgrade,
// `npm pack` the packages in a scratch directory and copy the same files.
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
//go:embed assets/playground.js
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
	Assets struct{ CSS, React, ReactDOM, GraphiQL, Init string }
}

type pageConfig struct {
	Endpoint string `json:"endpoint"`
	// Headers is the headers editor's initial text (a JSON object), or
	// empty for none.
	Headers string `json:"headers"`
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
	h := &handler{
		csp:    contentSecurityPolicy(endpoint),
		assets: assets(),
	}
	h.public = newPage(title, endpoint, nil)
	h.local = h.public
	if len(headers) > 0 {
		h.local = newPage(title, endpoint, headers)
	}
	return h
}

// page is the rendered GraphiQL page and its validator.
type page struct {
	body []byte
	etag string
}

func newPage(title, endpoint string, headers map[string]string) *page {
	data := pageData{Title: title, Config: pageConfig{Endpoint: endpoint}}
	if len(headers) > 0 {
		// The editor shows this text as it is, so it is not HTML-escaped
		// here (a "<" would read as \u003c); the template escapes the
		// whole config for the script element. A map of strings always
		// encodes, with its keys sorted.
		var b strings.Builder
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		_ = enc.Encode(headers)
		data.Config.Headers = strings.TrimSuffix(b.String(), "\n")
	}
	data.Assets.CSS = assetURL("graphiql/graphiql.min.css")
	data.Assets.React = assetURL("react/react.production.min.js")
	data.Assets.ReactDOM = assetURL("react-dom/react-dom.production.min.js")
	data.Assets.GraphiQL = assetURL("graphiql/graphiql.min.js")
	data.Assets.Init = assetURL("playground.js")

	var b bytes.Buffer
	if err := pageTemplate.Execute(&b, data); err != nil {
		// The template and its data are fixed here; an error is a defect.
		panic(fmt.Sprintf("playground: page: %v", err))
	}
	sum := sha256.Sum256(b.Bytes())
	return &page{body: b.Bytes(), etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
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
