package httpapi

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/rs/cors"
)

// CORS says which browser origins other than the API's own may call it
// (Cross-Origin Resource Sharing), on /graphql and /audit/export. The zero
// value allows none: a browser then refuses a page of another origin the
// answer, as it does without CORS.
type CORS struct {
	// Origins lists the allowed origins, each as a browser sends it
	// (scheme://host[:port]); one "*" in an origin is a wildcard
	// ("https://*.example.com"), and "*" alone allows every origin.
	Origins []string
	// Loopback, when Origins is empty, allows every origin whose host is
	// a loopback one (localhost, 127.0.0.0/8, [::1]) on any port:
	// development's default, so that a frontend's dev server reaches a
	// local API without configuration.
	Loopback bool
}

// Request headers the API reads, which a browser asks a preflight for
// (Content-Type, for application/json, is not one of the CORS-safelisted
// values); response headers a client reads.
var (
	corsRequestHeaders = []string{"Authorization", "Content-Type", "Idempotency-Key", "X-Correlation-Id", "X-Consistency-Token", "traceparent"}
	corsExposedHeaders = []string{"X-Correlation-Id", "X-Consistency-Token", "Retry-After"}
)

// corsMaxAge is how long, in seconds, a browser may reuse a preflight's
// answer: a page makes one preflight per ten minutes instead of one per
// request. (Chromium caps it at two hours, Firefox at a day.)
const corsMaxAge = 600

// enabled reports whether any origin is allowed.
func (c CORS) enabled() bool { return len(c.Origins) > 0 || c.Loopback }

// handler wraps next with the CORS handling: a preflight (OPTIONS with
// Access-Control-Request-Method) is answered here, 204, with the allowed
// methods and headers when its origin is allowed and without them when
// not; any other request runs, with Access-Control-Allow-Origin and the
// exposed headers only for an allowed origin.
func (c CORS) handler(next http.Handler) http.Handler {
	if !c.enabled() {
		return next
	}
	opts := cors.Options{
		AllowedOrigins: c.Origins,
		AllowedMethods: []string{http.MethodGet, http.MethodPost},
		AllowedHeaders: corsRequestHeaders,
		ExposedHeaders: corsExposedHeaders,
		MaxAge:         corsMaxAge,
		// Bearer tokens, not cookies: no credentials mode.
		AllowCredentials: false,
	}
	if len(c.Origins) == 0 {
		opts.AllowOriginFunc = LoopbackOrigin
	}
	return cors.New(opts).Handler(next)
}

// LoopbackOrigin reports whether origin (as a browser sends it) is http or
// https on a loopback host.
func LoopbackOrigin(origin string) bool {
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Path != "" || u.User != nil {
		return false
	}
	host := u.Hostname()
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// ParseCORSOrigins reads a comma-separated list of origins (CORS_ORIGINS):
// each "*" or scheme://host[:port] with at most one "*" wildcard, as a
// browser's Origin header spells it. "none" is the empty list. An origin a
// browser never sends (a path, a trailing slash, another scheme) is an
// error, since it would never match.
func ParseCORSOrigins(s string) ([]string, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "none" {
		return nil, nil
	}
	var out []string
	for part := range strings.SplitSeq(s, ",") {
		o := strings.TrimSpace(part)
		if o == "" {
			continue
		}
		if err := checkOrigin(o); err != nil {
			return nil, fmt.Errorf("CORS origin %q: %w", o, err)
		}
		out = append(out, o)
	}
	return out, nil
}

func checkOrigin(o string) error {
	if o == "*" {
		return nil
	}
	if strings.Count(o, "*") > 1 {
		return fmt.Errorf("at most one * wildcard")
	}
	scheme, rest, ok := strings.Cut(o, "://")
	if !ok || (scheme != "http" && scheme != "https") {
		return fmt.Errorf("not http:// or https:// followed by a host")
	}
	if rest == "" || strings.ContainsAny(rest, "/?#@ ") {
		return fmt.Errorf("an origin is scheme://host[:port], without a path or a trailing slash")
	}
	// The host and port must parse once the wildcard stands for a label
	// ("https://*.example.com") or a port ("http://localhost:*").
	var err error
	for _, stand := range []string{"x", "1"} {
		if err = checkHostPort(scheme, strings.Replace(rest, "*", stand, 1)); err == nil {
			return nil
		}
	}
	return err
}

func checkHostPort(scheme, hostport string) error {
	u, err := url.Parse(scheme + "://" + hostport)
	if err != nil {
		return err
	}
	if u.Hostname() == "" {
		return fmt.Errorf("no host")
	}
	if _, p, err := net.SplitHostPort(hostport); err == nil && p == "" {
		return fmt.Errorf("an empty port")
	}
	return nil
}
