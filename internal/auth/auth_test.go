package auth_test

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/internal/auth"
)

var (
	secret = []byte("0123456789abcdef0123456789abcdef")
	now    = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	tenant = uuid.MustParse("0195a3c2-7b1e-7c3a-9f00-1234567890ab")
)

func verifier() *auth.Verifier {
	return auth.NewHS256Verifier(secret, auth.WithClock(func() time.Time { return now }))
}

// sign signs claims with method and key, as an attacker or another issuer would.
func sign(t *testing.T, method jwt.SigningMethod, key any, c jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, c).SignedString(key)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return s
}

// valid returns the claims of a good token; tests change one thing.
func valid() jwt.MapClaims {
	return jwt.MapClaims{
		"sub":  "user-1",
		"tid":  tenant.String(),
		"role": string(domain.RoleGlobalAdmin),
		"iat":  now.Add(-time.Minute).Unix(),
		"exp":  now.Add(time.Hour).Unix(),
	}
}

// nonCanonical sets one of the unused low bits of sig's last base64url
// character: the bytes it decodes to under lax decoding are unchanged.
func nonCanonical(sig string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, sig[len(sig)-1])
	return sig[:len(sig)-1] + string(alphabet[i|1])
}

func with(c jwt.MapClaims, k string, v any) jwt.MapClaims {
	c[k] = v
	return c
}

func without(c jwt.MapClaims, k string) jwt.MapClaims {
	delete(c, k)
	return c
}

// hmacWithHeader builds a token whose header is given verbatim and whose
// signature is HMAC-SHA256 with the server's secret: a forger who knows a
// public key and hopes the server uses it as an HMAC secret does this.
func hmacWithHeader(t *testing.T, header map[string]any, c jwt.MapClaims) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	signing := enc(header) + "." + enc(c)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(signing))
	return signing + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func TestVerifyRejects(t *testing.T) {
	t.Parallel()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	good := sign(t, jwt.SigningMethodHS256, secret, valid())
	parts := strings.Split(good, ".")

	tests := []struct {
		name   string
		token  string
		reason string
	}{
		{"missing", "", "no bearer token"},
		{"malformed", "not-a-jwt", "malformed"},
		{"malformed two parts", parts[0] + "." + parts[1], "malformed"},
		{"malformed payload", parts[0] + ".!!!." + parts[2], "malformed"},
		{"bad signature", sign(t, jwt.SigningMethodHS256, []byte("another secret, 32 bytes long..."), valid()), "signature is invalid"},
		// The last of a 32-byte signature's 43 characters carries 2 unused
		// bits; a token differing only there must not pass as another
		// spelling of a valid one.
		{"signature with non-canonical trailing bits", parts[0] + "." + parts[1] + "." + nonCanonical(parts[2]), "malformed"},
		// Base64 decoders skip line breaks; the token with them is another
		// spelling of a valid one, and refused.
		{"line break in the signature", parts[0] + "." + parts[1] + "." + parts[2][:10] + "\n" + parts[2][10:], "malformed"},
		{"padding", parts[0] + "." + parts[1] + "." + parts[2] + "=", "malformed"},
		{"tampered payload", parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"x","tid":"`+tenant.String()+`","role":"GLOBAL_ADMIN","exp":9999999999}`)) + "." + parts[2], "signature is invalid"},
		{"alg none", sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, valid()), "signing method"},
		{"alg none with HMAC signature", hmacWithHeader(t, map[string]any{"alg": "none", "typ": "JWT"}, valid()), "signing method"},
		{"alg HS512", sign(t, jwt.SigningMethodHS512, secret, valid()), "signing method"},
		{"alg RS256", sign(t, jwt.SigningMethodRS256, rsaKey, valid()), "signing method"},
		{"RS256 header, HMAC signature", hmacWithHeader(t, map[string]any{"alg": "RS256", "typ": "JWT"}, valid()), "signing method"},
		{"no alg", hmacWithHeader(t, map[string]any{"typ": "JWT"}, valid()), ""},
		{"expired beyond leeway", sign(t, jwt.SigningMethodHS256, secret, with(valid(), "exp", now.Add(-31*time.Second).Unix())), "expired"},
		{"missing exp", sign(t, jwt.SigningMethodHS256, secret, without(valid(), "exp")), "no exp"},
		{"exp not a number", sign(t, jwt.SigningMethodHS256, secret, with(valid(), "exp", "tomorrow")), ""},
		// RFC 7519: NumericDate is a JSON number; the JWT library alone
		// takes a string of digits.
		{"exp a numeric string", sign(t, jwt.SigningMethodHS256, secret, with(valid(), "exp", strconv.FormatInt(now.Add(time.Hour).Unix(), 10))), "exp claim is not a number"},
		{"nbf a numeric string", sign(t, jwt.SigningMethodHS256, secret, with(valid(), "nbf", strconv.FormatInt(now.Add(-time.Minute).Unix(), 10))), "nbf claim is not a number"},
		{"iat a numeric string", sign(t, jwt.SigningMethodHS256, secret, with(valid(), "iat", strconv.FormatInt(now.Add(-time.Minute).Unix(), 10))), "iat claim is not a number"},
		{"nbf beyond leeway", sign(t, jwt.SigningMethodHS256, secret, with(valid(), "nbf", now.Add(31*time.Second).Unix())), "not valid yet"},
		{"iat in the future", sign(t, jwt.SigningMethodHS256, secret, with(valid(), "iat", now.Add(time.Minute).Unix())), "issued in the future"},
		{"missing sub", sign(t, jwt.SigningMethodHS256, secret, without(valid(), "sub")), "no sub"},
		{"blank sub", sign(t, jwt.SigningMethodHS256, secret, with(valid(), "sub", "  ")), "no sub"},
		{"sub not a string", sign(t, jwt.SigningMethodHS256, secret, with(valid(), "sub", 42)), ""},
		{"missing tid", sign(t, jwt.SigningMethodHS256, secret, without(valid(), "tid")), "no tid"},
		{"tid not a UUID", sign(t, jwt.SigningMethodHS256, secret, with(valid(), "tid", "contoso")), "not a UUID"},
		{"tid braced UUID", sign(t, jwt.SigningMethodHS256, secret, with(valid(), "tid", "{"+tenant.String()+"}")), "not a UUID"},
		{"tid urn UUID", sign(t, jwt.SigningMethodHS256, secret, with(valid(), "tid", "urn:uuid:"+tenant.String())), "not a UUID"},
		{"tid nil UUID", sign(t, jwt.SigningMethodHS256, secret, with(valid(), "tid", uuid.Nil.String())), "nil UUID"},
		{"tid not a string", sign(t, jwt.SigningMethodHS256, secret, with(valid(), "tid", 7)), ""},
		{"missing role", sign(t, jwt.SigningMethodHS256, secret, without(valid(), "role")), "no role"},
		{"role unknown", sign(t, jwt.SigningMethodHS256, secret, with(valid(), "role", "SUPER_ADMIN")), "not a user role"},
		{"role lower case", sign(t, jwt.SigningMethodHS256, secret, with(valid(), "role", "global_admin")), "not a user role"},
		{"role SYSTEM", sign(t, jwt.SigningMethodHS256, secret, with(valid(), "role", string(domain.RoleSystem))), "not a user role"},
		{"too large", sign(t, jwt.SigningMethodHS256, secret, with(valid(), "pad", strings.Repeat("x", 9000))), "too large"},
	}
	v := verifier()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, err := v.Verify(tc.token)
			if err == nil {
				t.Fatalf("Verify accepted the token as %+v", a)
			}
			if !errors.Is(err, auth.ErrUnauthenticated) {
				t.Fatalf("error %v does not match ErrUnauthenticated", err)
			}
			var te *auth.TokenError
			if !errors.As(err, &te) {
				t.Fatalf("error %v is not a *TokenError", err)
			}
			if !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("error %q does not say %q", err, tc.reason)
			}
			if a != (domain.Actor{}) {
				t.Fatalf("refusal returned an actor %+v", a)
			}
		})
	}
}

func TestVerifyEmptySecretRefusesEverything(t *testing.T) {
	t.Parallel()
	v := auth.NewHS256Verifier(nil, auth.WithClock(func() time.Time { return now }))
	// An HMAC with an empty key is computable by anyone.
	tok := sign(t, jwt.SigningMethodHS256, []byte{}, valid())
	if _, err := v.Verify(tok); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Fatalf("Verify with an empty secret: %v, want ErrUnauthenticated", err)
	}
	if _, err := auth.MintHS256(nil, domain.Actor{}, time.Hour, now); err == nil {
		t.Fatal("MintHS256 signed with an empty secret")
	}
}

func TestVerifyLeeway(t *testing.T) {
	t.Parallel()
	v := verifier()
	for _, tc := range []struct {
		name  string
		claim string
		at    time.Time
	}{
		{"expired within leeway", "exp", now.Add(-29 * time.Second)},
		{"not before within leeway", "nbf", now.Add(29 * time.Second)},
		{"issued within leeway", "iat", now.Add(29 * time.Second)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tok := sign(t, jwt.SigningMethodHS256, secret, with(valid(), tc.claim, tc.at.Unix()))
			if _, err := v.Verify(tok); err != nil {
				t.Fatalf("Verify: %v", err)
			}
		})
	}
}

func TestVerifyAcceptsEveryUserRole(t *testing.T) {
	t.Parallel()
	v := verifier()
	roles := []domain.Role{
		domain.RoleGlobalAdmin, domain.RoleUserAdmin, domain.RoleSalesAgent,
		domain.RoleAdminAgent, domain.RoleBillingAdmin, domain.RoleAuditor,
	}
	for _, role := range roles {
		t.Run(string(role), func(t *testing.T) {
			t.Parallel()
			want := domain.Actor{UserID: "user-" + string(role), TenantID: tenant, Role: role}
			tok, err := auth.MintHS256(secret, want, time.Hour, now)
			if err != nil {
				t.Fatalf("MintHS256: %v", err)
			}
			got, err := v.Verify(tok)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got != want {
				t.Fatalf("Verify = %+v, want %+v", got, want)
			}
			got, err = v.VerifyHeader("Bearer " + tok)
			if err != nil || got != want {
				t.Fatalf("VerifyHeader = %+v, %v; want %+v", got, err, want)
			}
		})
	}
}

func TestMintedTokenExpires(t *testing.T) {
	t.Parallel()
	a := domain.Actor{UserID: "u", TenantID: tenant, Role: domain.RoleAuditor}
	tok, err := auth.MintHS256(secret, a, time.Minute, now)
	if err != nil {
		t.Fatal(err)
	}
	later := auth.NewHS256Verifier(secret, auth.WithClock(func() time.Time { return now.Add(time.Minute + auth.MaxLeeway + time.Second) }))
	if _, err := later.Verify(tok); !errors.Is(err, jwt.ErrTokenExpired) {
		t.Fatalf("Verify after expiry: %v, want jwt.ErrTokenExpired in the chain", err)
	}
	if _, err := auth.MintHS256(secret, a, 0, now); err == nil {
		t.Fatal("MintHS256 accepted a zero ttl")
	}
}

func TestVerifyHeader(t *testing.T) {
	t.Parallel()
	v := verifier()
	tok := sign(t, jwt.SigningMethodHS256, secret, valid())
	for _, tc := range []struct {
		name    string
		header  string
		ok      bool
		noToken bool
	}{
		{"bearer", "Bearer " + tok, true, false},
		{"scheme in lower case", "bearer " + tok, true, false},
		{"surrounding spaces", "  Bearer " + tok + " ", true, false},
		{"empty", "", false, true},
		{"scheme only", "Bearer", false, true},
		{"scheme and space", "Bearer  ", false, true},
		{"basic", "Basic dXNlcjpwYXNz", false, false},
		{"token without scheme", tok, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := v.VerifyHeader(tc.header)
			if tc.ok {
				if err != nil {
					t.Fatalf("VerifyHeader: %v", err)
				}
				return
			}
			if !errors.Is(err, auth.ErrUnauthenticated) {
				t.Fatalf("VerifyHeader: %v, want ErrUnauthenticated", err)
			}
			if got := errors.Is(err, auth.ErrNoToken); got != tc.noToken {
				t.Fatalf("errors.Is(%v, ErrNoToken) = %v, want %v", err, got, tc.noToken)
			}
		})
	}
}

func TestNewSecret(t *testing.T) {
	t.Parallel()
	a, err := auth.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	b, err := auth.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != 32 || len(b) != 32 {
		t.Fatalf("secret lengths %d and %d, want 32", len(a), len(b))
	}
	if string(a) == string(b) {
		t.Fatal("two secrets are equal")
	}
}

func TestPluggableKeyFunc(t *testing.T) {
	t.Parallel()
	// An RS256 verifier with a key lookup by kid, as a JWKS cache would do.
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]*rsa.PublicKey{"k1": &key.PublicKey}
	v := auth.NewVerifier(jwt.SigningMethodRS256, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if k, ok := keys[kid]; ok {
			return k, nil
		}
		return nil, errors.New("unknown kid")
	}, auth.WithClock(func() time.Time { return now }))

	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, valid())
	tok.Header["kid"] = "k1"
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(s); err != nil {
		t.Fatalf("Verify RS256 with a known kid: %v", err)
	}
	tok.Header["kid"] = "k2"
	s, err = tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(s); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Fatalf("Verify RS256 with an unknown kid: %v", err)
	}
	// The pinned algorithm holds for the pluggable verifier too: an HS256
	// token is refused before the key lookup is asked.
	if _, err := v.Verify(sign(t, jwt.SigningMethodHS256, secret, valid())); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Fatalf("RS256 verifier accepted HS256: %v", err)
	}
}

func TestMiddleware(t *testing.T) {
	t.Parallel()
	tok := sign(t, jwt.SigningMethodHS256, secret, valid())
	type seen struct {
		actor  domain.Actor
		ok     bool
		err    error
		status int
	}
	run := func(t *testing.T, headers ...string) seen {
		t.Helper()
		var s seen
		h := auth.Middleware(verifier())(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.actor, s.ok = auth.CallerFrom(r.Context())
			s.err = auth.AuthErrorFrom(r.Context())
			w.WriteHeader(http.StatusTeapot)
		}))
		req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader("{}"))
		for _, v := range headers {
			req.Header.Add("Authorization", v)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		s.status = rec.Code
		return s
	}

	t.Run("valid token", func(t *testing.T) {
		t.Parallel()
		s := run(t, "Bearer "+tok)
		want := domain.Actor{UserID: "user-1", TenantID: tenant, Role: domain.RoleGlobalAdmin}
		if !s.ok || s.actor != want || s.err != nil {
			t.Fatalf("caller %+v, %v; error %v; want %+v", s.actor, s.ok, s.err, want)
		}
	})
	t.Run("no header", func(t *testing.T) {
		t.Parallel()
		s := run(t)
		if s.ok || !errors.Is(s.err, auth.ErrNoToken) {
			t.Fatalf("caller %v; error %v; want ErrNoToken", s.ok, s.err)
		}
		if s.status != http.StatusTeapot {
			t.Fatalf("status %d: the middleware must not answer itself", s.status)
		}
	})
	t.Run("bad token", func(t *testing.T) {
		t.Parallel()
		s := run(t, "Bearer "+tok+"x")
		if s.ok || !errors.Is(s.err, auth.ErrUnauthenticated) || errors.Is(s.err, auth.ErrNoToken) {
			t.Fatalf("caller %v; error %v; want a refused token", s.ok, s.err)
		}
		if s.status != http.StatusTeapot {
			t.Fatalf("status %d: the middleware must not answer itself", s.status)
		}
	})
	t.Run("two headers", func(t *testing.T) {
		t.Parallel()
		s := run(t, "Bearer "+tok, "Bearer "+tok)
		if s.ok || !errors.Is(s.err, auth.ErrUnauthenticated) {
			t.Fatalf("caller %v; error %v; want a refusal", s.ok, s.err)
		}
	})
}

// BenchmarkVerify measures one accepted token's check (HMAC, JSON, claims).
func BenchmarkVerify(b *testing.B) {
	v := verifier()
	tok, err := auth.MintHS256(secret, domain.Actor{UserID: "u", TenantID: tenant, Role: domain.RoleSalesAgent}, time.Hour, now)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(tok); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
}

// TestCachedTokenStillExpires: a token verified once is remembered, but
// only until its exp: past it (and the leeway) it is refused again.
func TestCachedTokenStillExpires(t *testing.T) {
	t.Parallel()
	secret := []byte("a-secret-of-at-least-32-bytes-long!!")
	now := time.Now()
	clock := now
	v := auth.NewHS256Verifier(secret, auth.WithClock(func() time.Time { return clock }))
	a := domain.Actor{UserID: "u", TenantID: uuid.New(), Role: domain.RoleSalesAgent}
	tok, err := auth.MintHS256(secret, a, time.Minute, now)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ { // the second is a cache hit
		if got, err := v.Verify(tok); err != nil || got != a {
			t.Fatalf("verify #%d: %v, %v", i, got, err)
		}
	}
	clock = now.Add(time.Minute + auth.MaxLeeway + time.Second)
	if _, err := v.Verify(tok); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Fatalf("expired cached token: %v, want ErrUnauthenticated", err)
	}
}
