package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Digest is the log digest after Count events: D_0 is 32 zero bytes and
// D_n = SHA-256(D_{n-1} || H_n), where H_n is the 32-byte chain hash of the
// n-th event of the log (in log order) as recomputed from its content (see
// package integrity). It is indexed by event count, not position, because
// positions differ between stores while the count and the order do not: a
// log exported and imported elsewhere keeps its digests.
//
// Since H_n chains the event to its stream's history, and D_n chains every
// event to the log before it, a digest (n, D_n) saved earlier proves that
// the first n events of the log seen now are exactly those seen then.
type Digest struct {
	Count int64
	Sum   [sha256.Size]byte
}

// ErrBadDigest is returned by ParseDigest for a string that is not
// "<count>:<64 hex digits>".
var ErrBadDigest = errors.New(`audit: a digest is "<count>:<64 lowercase hex digits>"`)

// String encodes the digest as "<count>:<hex>", the form auditors keep.
func (d Digest) String() string {
	return strconv.FormatInt(d.Count, 10) + ":" + hex.EncodeToString(d.Sum[:])
}

// ParseDigest decodes the form String writes.
func ParseDigest(s string) (Digest, error) {
	c, h, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok || len(h) != 2*sha256.Size || strings.ToLower(h) != h {
		return Digest{}, fmt.Errorf("%w, got %q", ErrBadDigest, s)
	}
	n, err := strconv.ParseInt(c, 10, 64)
	if err != nil || n < 0 || c != strconv.FormatInt(n, 10) {
		return Digest{}, fmt.Errorf("%w, got %q", ErrBadDigest, s)
	}
	var d Digest
	d.Count = n
	if _, err := hex.Decode(d.Sum[:], []byte(h)); err != nil {
		return Digest{}, fmt.Errorf("%w, got %q", ErrBadDigest, s)
	}
	return d, nil
}

// digester folds event hashes into the log digest without allocating.
type digester struct {
	d   Digest
	buf [2 * sha256.Size]byte
}

// add folds the next event's hex chain hash. A hash that is not 64 hex
// digits (it cannot happen for a computed one) is hashed as its bytes.
func (g *digester) add(hexHash string) {
	copy(g.buf[:sha256.Size], g.d.Sum[:])
	if !decodeHex(g.buf[sha256.Size:], hexHash) {
		sum := sha256.Sum256([]byte(hexHash))
		copy(g.buf[sha256.Size:], sum[:])
	}
	g.d.Sum = sha256.Sum256(g.buf[:])
	g.d.Count++
}

// decodeHex decodes exactly len(dst) bytes of lowercase hex from s, without
// the allocation of converting s to a []byte.
func decodeHex(dst []byte, s string) bool {
	if len(s) != 2*len(dst) {
		return false
	}
	for i := range dst {
		hi, ok1 := fromHex(s[2*i])
		lo, ok2 := fromHex(s[2*i+1])
		if !ok1 || !ok2 {
			return false
		}
		dst[i] = hi<<4 | lo
	}
	return true
}

func fromHex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}
