// Package auth verifies bearer tokens and carries the caller's identity in
// a request's context.
//
// A token is a JWT whose claims name a user of a tenant in a role:
//
//	sub   the user id (required, non-empty)
//	tid   the tenant id, a UUID in its 36-character form (required)
//	role  a domain.Role value other than SYSTEM (required)
//	exp   the expiry (required; at most 30 s of clock leeway)
//	nbf   not before (checked when present)
//	iat   issued at (checked when present: a token issued in the future is refused)
//
// Every refusal is an error that matches ErrUnauthenticated with errors.Is
// and says why; a request without a token gets ErrNoToken, which matches
// ErrUnauthenticated too.
//
// # Algorithms and keys
//
// A Verifier accepts exactly one signing algorithm: the parser is given
// that algorithm as the only valid method, and the key lookup checks it
// again. A token whose header names another algorithm ("none", RS256 when
// HS256 is expected, HS512, ...) is refused before any key is looked up,
// which closes the classic algorithm-confusion attacks (an RSA public key
// used as an HMAC secret, or an unsigned token).
//
// NewHS256Verifier is the server's verifier: one shared secret (JWT_SECRET).
// The key lookup is pluggable through NewVerifier, which takes the
// algorithm and a KeyFunc. An identity provider that publishes its keys as
// a JWKS document (Entra ID, Auth0, Keycloak) would plug in as follows,
// without any change to this package's callers:
//
//	keys := jwksCache(ctx, "https://login.example.com/discovery/keys") // refreshed in the background, rate-limited on unknown kids
//	v := auth.NewVerifier(jwt.SigningMethodRS256, func(t *jwt.Token) (any, error) {
//		kid, _ := t.Header["kid"].(string)
//		return keys.RSAPublicKey(kid) // an *rsa.PublicKey, or an error for an unknown kid
//	})
//
// The algorithm stays pinned to RS256 by NewVerifier, so a token signed
// with HS256 using the public key as its secret is refused. Such a
// deployment would usually also check `iss` and `aud`, and map the
// provider's tenant and role claims onto tid and role; this package does
// neither today, since the server mints and checks its own HS256 tokens.
package auth

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/partnercenter/multichannel/domain"
)

// MaxLeeway is the clock skew tolerated on exp, nbf and iat.
const MaxLeeway = 30 * time.Second

// maxTokenBytes bounds what the parser is given: a real token of these
// claims is a few hundred bytes, and refusing a huge one early keeps a
// hostile header from costing base64 and JSON work.
const maxTokenBytes = 8 << 10

// compact reports whether token holds only what a JWS compact
// serialization may: base64url characters and dots. Go's base64 decoders,
// strict ones included, skip CR and LF, so without this check a token
// with line breaks inside would verify as the token without them: one
// signature, many spellings (a header cannot carry them, a WebSocket's
// connection_init payload can).
func compact(token string) bool {
	for i := 0; i < len(token); i++ {
		c := token[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_', c == '.':
		default:
			return false
		}
	}
	return true
}

// ErrUnauthenticated matches every refused token (errors.Is).
var ErrUnauthenticated = errors.New("unauthenticated")

// ErrNoToken is the refusal of a request that carries no bearer token. It
// matches ErrUnauthenticated as well.
var ErrNoToken error = &TokenError{Reason: "no bearer token"}

// TokenError is a refused token and the reason, fit to be shown to the
// caller (it never repeats the token).
type TokenError struct {
	// Reason says why the token was refused, e.g. "token is expired".
	Reason string
	// Err is the underlying error from the JWT library, if any.
	Err error
}

func (e *TokenError) Error() string {
	return "unauthenticated: " + e.Reason
}

// Unwrap exposes the JWT library's error (jwt.ErrTokenExpired, ...).
func (e *TokenError) Unwrap() error { return e.Err }

// Is makes every TokenError match ErrUnauthenticated.
func (e *TokenError) Is(target error) bool { return target == ErrUnauthenticated }

func refuse(reason string, err error) error {
	return &TokenError{Reason: reason, Err: err}
}

// KeyFunc returns the key that verifies a token, given the token as parsed
// but not yet verified (its header tells the key id). It is the JWT
// library's Keyfunc.
type KeyFunc = jwt.Keyfunc

// Verifier checks bearer tokens. It is safe for concurrent use.
type Verifier struct {
	alg    string
	key    KeyFunc
	parser *jwt.Parser
	now    func() time.Time
	// cache remembers tokens already verified, until they expire: a client
	// sends the same token with every request, and checking its signature
	// again each time was a tenth of a simple query's cost.
	cache     *lru.Cache[string, verified]
	cacheSize int
}

// verified is a cached verification: the caller, and until when the token
// stays valid (its exp; nbf was checked when it was first verified).
type verified struct {
	actor domain.Actor
	until time.Time
}

// DefaultCacheSize is how many verified tokens a Verifier remembers.
const DefaultCacheSize = 10000

// WithCacheSize sets how many verified tokens the Verifier remembers
// (0 turns the cache off). Only successes are cached, keyed by the whole
// token, and each only until its exp.
func WithCacheSize(n int) Option {
	return func(v *Verifier) { v.cacheSize = n }
}

// Option configures a Verifier.
type Option func(*Verifier)

// WithClock makes the Verifier read the time from now (tests, replays).
func WithClock(now func() time.Time) Option {
	return func(v *Verifier) { v.now = now }
}

// NewVerifier returns a Verifier that accepts only tokens signed with
// method, verified with the key that key returns. See the package doc for
// a JWKS-backed key function.
func NewVerifier(method jwt.SigningMethod, key KeyFunc, opts ...Option) *Verifier {
	v := &Verifier{alg: method.Alg(), key: key, now: time.Now, cacheSize: DefaultCacheSize}
	for _, o := range opts {
		o(v)
	}
	if v.cacheSize > 0 {
		v.cache, _ = lru.New[string, verified](v.cacheSize)
	}
	v.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{v.alg}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(MaxLeeway),
		jwt.WithTimeFunc(func() time.Time { return v.now() }),
		// Lax base64 ignores the unused trailing bits, so one signature
		// would have several spellings, each a different cache key and a
		// different string in logs; strict decoding accepts one spelling.
		jwt.WithStrictDecoding(),
	)
	return v
}

// NewHS256Verifier returns a Verifier of HS256 tokens signed with secret.
// Any other algorithm (none, RS256, HS512, ...) is refused. An empty secret
// refuses every token.
func NewHS256Verifier(secret []byte, opts ...Option) *Verifier {
	// Copy, so that a caller reusing its buffer cannot change the key.
	key := append([]byte(nil), secret...)
	return NewVerifier(jwt.SigningMethodHS256, func(*jwt.Token) (any, error) {
		if len(key) == 0 {
			return nil, errors.New("no secret configured")
		}
		return key, nil
	}, opts...)
}

// claims is the token's payload.
type claims struct {
	jwt.RegisteredClaims
	TenantID string `json:"tid"`
	Role     string `json:"role"`
}

// Verify checks a token (without the "Bearer " prefix) and returns its
// caller. Every error matches ErrUnauthenticated.
func (v *Verifier) Verify(token string) (domain.Actor, error) {
	a, _, err := v.verify(token)
	return a, err
}

// verify is Verify that also returns the token's exp: a WebSocket outlives
// the moment its token is checked, and is closed once exp plus MaxLeeway
// has passed.
func (v *Verifier) verify(token string) (domain.Actor, time.Time, error) {
	if v == nil {
		return domain.Actor{}, time.Time{}, refuse("no verifier configured", nil)
	}
	if token == "" {
		return domain.Actor{}, time.Time{}, ErrNoToken
	}
	if len(token) > maxTokenBytes {
		return domain.Actor{}, time.Time{}, refuse("token is too large", nil)
	}
	if !compact(token) {
		return domain.Actor{}, time.Time{}, refuse("token is malformed: not three base64url segments", nil)
	}
	if v.cache != nil {
		if hit, ok := v.cache.Get(token); ok && v.now().Before(hit.until) {
			return hit.actor, hit.until, nil
		}
	}
	var c claims
	t, err := v.parser.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) {
		// WithValidMethods already refused other algorithms; checking again
		// here keeps the pinning if the parser options ever change.
		if t.Method == nil || t.Method.Alg() != v.alg {
			return nil, fmt.Errorf("unexpected signing method %v", t.Header["alg"])
		}
		return v.key(t)
	})
	if err != nil {
		// The library reports another algorithm as an invalid signature;
		// the header it parsed tells the two apart.
		if t != nil && t.Header != nil && !errors.Is(err, jwt.ErrTokenMalformed) {
			if alg, _ := t.Header["alg"].(string); alg != v.alg {
				return domain.Actor{}, time.Time{}, refuse(fmt.Sprintf("signing method %.20q is not accepted", alg), err)
			}
		}
		return domain.Actor{}, time.Time{}, refuse(reason(err), err)
	}
	if err := numericDates(token); err != nil {
		return domain.Actor{}, time.Time{}, err
	}
	a, err := actorOf(&c)
	if err != nil {
		return domain.Actor{}, time.Time{}, err
	}
	if c.ExpiresAt == nil { // WithExpirationRequired refuses it already
		return domain.Actor{}, time.Time{}, refuse("token has no exp claim", nil)
	}
	exp := c.ExpiresAt.Time
	if v.cache != nil {
		v.cache.Add(token, verified{actor: a, until: exp})
	}
	return a, exp, nil
}

// reason turns the JWT library's error into a short reason. The library's
// own messages are safe to show (they never echo the token) but are long
// and nested; these are the cases a client can act on.
func reason(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "token is malformed"
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return "token is unverifiable"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return "token signature is invalid"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "token has no exp claim"
	case errors.Is(err, jwt.ErrTokenExpired):
		return "token is expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return "token is not valid yet"
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "token is issued in the future"
	}
	return "token is invalid"
}

// numericDates refuses a token whose exp, nbf or iat is not a JSON number.
// RFC 7519 makes them NumericDate values, JSON numbers; the JWT library
// also takes a string of digits ("exp": "1767225600"), so one expiry had
// two spellings, and an issuer's bug went unnoticed. The payload has
// verified, so decoding it again is safe; a cached token skips this.
func numericDates(token string) error {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return refuse("token is malformed", nil)
	}
	payload, err := base64.RawURLEncoding.Strict().DecodeString(parts[1])
	if err != nil {
		return refuse("token is malformed", err)
	}
	var times struct {
		Exp, Nbf, Iat json.RawMessage
	}
	if err := json.Unmarshal(payload, &times); err != nil {
		return refuse("token is malformed", err)
	}
	for _, c := range []struct {
		name  string
		value json.RawMessage
	}{{"exp", times.Exp}, {"nbf", times.Nbf}, {"iat", times.Iat}} {
		if len(c.value) == 0 {
			continue
		}
		if b := c.value[0]; b != '-' && (b < '0' || b > '9') {
			return refuse(c.name+" claim is not a number (RFC 7519 NumericDate)", nil)
		}
	}
	return nil
}

// actorOf checks the claims this API requires beyond the registered ones.
func actorOf(c *claims) (domain.Actor, error) {
	if strings.TrimSpace(c.Subject) == "" {
		return domain.Actor{}, refuse("token has no sub claim", nil)
	}
	if c.TenantID == "" {
		return domain.Actor{}, refuse("token has no tid claim", nil)
	}
	// uuid.Parse also takes the urn:uuid:, braced and 32-digit forms; only
	// the canonical form is a tenant id, so that one tenant has one spelling.
	tid, err := uuid.Parse(c.TenantID)
	if err != nil || len(c.TenantID) != 36 {
		return domain.Actor{}, refuse("tid claim is not a UUID", err)
	}
	if tid == uuid.Nil {
		return domain.Actor{}, refuse("tid claim is the nil UUID", nil)
	}
	role := domain.Role(c.Role)
	if c.Role == "" {
		return domain.Actor{}, refuse("token has no role claim", nil)
	}
	if !role.Valid() || role == domain.RoleSystem {
		return domain.Actor{}, refuse("role claim is not a user role", nil)
	}
	return domain.Actor{UserID: c.Subject, TenantID: tid, Role: role}, nil
}

// VerifyHeader checks an Authorization header value, "Bearer <jwt>" (the
// scheme in any case). An empty value, or a Bearer scheme without a token,
// is ErrNoToken.
func (v *Verifier) VerifyHeader(authorization string) (domain.Actor, error) {
	a, _, err := v.VerifyHeaderExpiry(authorization)
	return a, err
}

// VerifyHeaderExpiry is VerifyHeader that also returns the token's exp. The
// token is accepted until exp plus MaxLeeway.
func (v *Verifier) VerifyHeaderExpiry(authorization string) (domain.Actor, time.Time, error) {
	h := strings.TrimSpace(authorization)
	if h == "" {
		return domain.Actor{}, time.Time{}, ErrNoToken
	}
	scheme, token, _ := strings.Cut(h, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return domain.Actor{}, time.Time{}, refuse("authorization scheme is not Bearer", nil)
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return domain.Actor{}, time.Time{}, ErrNoToken
	}
	return v.verify(token)
}

// MintHS256 signs an HS256 token for a, valid for ttl from now. The server
// uses it for development tokens; tests use it too.
func MintHS256(secret []byte, a domain.Actor, ttl time.Duration, now time.Time) (string, error) {
	if len(secret) == 0 {
		return "", errors.New("mint token: empty secret")
	}
	if ttl <= 0 {
		return "", fmt.Errorf("mint token: ttl %v is not positive", ttl)
	}
	c := claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   a.UserID,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
		TenantID: a.TenantID.String(),
		Role:     string(a.Role),
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(secret)
	if err != nil {
		return "", fmt.Errorf("mint token: %w", err)
	}
	return s, nil
}

// MinSecretBytes is the shortest HS256 secret production accepts: RFC 7518
// (3.2) asks for a key at least as long as the hash, 256 bits, since an
// offline guess of a short one needs only one token.
const MinSecretBytes = 32

// NewSecret returns 32 random bytes, an HS256 key for development mode.
func NewSecret() ([]byte, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("new secret: %w", err)
	}
	return b, nil
}

// Middleware verifies the Authorization header when a request has one and
// records the result in the request's context: the caller (CallerFrom) or
// why there is none (AuthErrorFrom). It never refuses a request itself: the
// GraphQL layer decides, since introspection in development mode needs no
// token and a WebSocket client sends its token in connection_init.
func Middleware(v *Verifier) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx := r.Context()
			values := r.Header.Values("Authorization")
			switch {
			case len(values) == 0:
				ctx = WithAuthError(ctx, ErrNoToken)
			case len(values) > 1:
				// Two headers could be read differently by a proxy and by us.
				ctx = WithAuthError(ctx, refuse("more than one Authorization header", nil))
			default:
				if a, err := v.VerifyHeader(values[0]); err != nil {
					ctx = WithAuthError(ctx, err)
				} else {
					ctx = WithCaller(ctx, a)
				}
			}
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}
