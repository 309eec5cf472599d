package auth_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/internal/auth"
)

// FuzzVerify feeds arbitrary tokens to the verifier. With resign set, the
// token's signature is replaced by a valid HS256 signature of its header and
// payload, so that the fuzzer reaches the claim checks instead of stopping
// at the signature. The seed corpus is in testdata/fuzz/FuzzVerify.
func FuzzVerify(f *testing.F) {
	v := verifier()
	f.Fuzz(func(t *testing.T, token string, resign bool) {
		if resign {
			token = resignHS256(token)
		}
		a, err := v.Verify(token)
		if err != nil {
			if !errors.Is(err, auth.ErrUnauthenticated) {
				t.Fatalf("refusal %v does not match ErrUnauthenticated", err)
			}
			if a != (domain.Actor{}) {
				t.Fatalf("refusal returned an actor %+v", a)
			}
			return
		}
		if !a.Role.Valid() || a.Role == domain.RoleSystem {
			t.Fatalf("accepted role %q", a.Role)
		}
		if a.TenantID == uuid.Nil {
			t.Fatal("accepted the nil tenant")
		}
		if strings.TrimSpace(a.UserID) == "" {
			t.Fatal("accepted an empty sub")
		}
		// The accepted token must be one the secret signed: the header and
		// payload it carries, signed again, give its signature.
		if resignHS256(token) != token {
			t.Fatal("accepted a token whose signature is not the secret's")
		}
	})
}

// resignHS256 replaces the third dot-separated part of token with the
// HS256 signature of the first two.
func resignHS256(token string) string {
	parts := strings.SplitN(token, ".", 3)
	if len(parts) < 2 {
		return token
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(parts[0] + "." + parts[1]))
	return parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
