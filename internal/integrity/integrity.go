// Package integrity chains every event of a stream to the one before it with
// a SHA-256 hash kept in the event's metadata, so that a changed, removed or
// reordered event is detected when the stream is verified.
//
// The hash covers what the appender knows before the append: the previous
// event's hash, the stream, the revision, the type, the data and the
// metadata as written (without the hash itself). The global position and any
// store-set timestamp come later and differ between stores, so they are left
// out. Everything is byte-exact: the stores keep bytes as written, and
// nothing here re-encodes JSON.
package integrity

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
)

// hashKey is the metadata field that carries the hash. Seal appends it as
// the document's last member, so Open can strip the exact bytes it added.
const hashKey = `"hash":"`

// hexLen is the length of a hex-encoded SHA-256 digest.
const hexLen = 2 * sha256.Size

var (
	// ErrUnsealed: the metadata carries no hash in the form Seal writes.
	ErrUnsealed = errors.New("integrity: metadata is not sealed")
	// ErrMismatch: the hash does not match the event (see *MismatchError).
	ErrMismatch = errors.New("integrity: hash mismatch")
)

// MismatchError reports an event whose stored hash is not the one computed
// from its content and its predecessor's hash.
type MismatchError struct {
	Stream   string
	Revision uint64
	Stored   string
	Computed string
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("integrity: %s@%d: stored hash %s, computed %s", e.Stream, e.Revision, e.Stored, e.Computed)
}

// Unwrap makes errors.Is(err, ErrMismatch) true.
func (e *MismatchError) Unwrap() error { return ErrMismatch }

// Hash returns hex(SHA-256) over a canonical encoding of the fields: each
// variable-length field is prefixed with its length as 8 bytes big-endian,
// and the revision is 8 bytes big-endian, so that no two different field
// tuples encode to the same bytes.
func Hash(prevHash, stream string, revision uint64, eventType string, data, metadata []byte) string {
	var out [hexLen]byte
	NewHasher().Sum(&out, []byte(prevHash), stream, revision, eventType, data, metadata, nil)
	return string(out[:])
}

// Seal computes the event's hash and returns metadata (a JSON object with no
// hash field) with `,"hash":"<hex>"` inserted before its final '}' (without
// the comma when the object is empty), and the hash.
func Seal(prevHash, stream string, revision uint64, eventType string, data, metadata []byte) (sealedMetadata []byte, hash string) {
	hash = Hash(prevHash, stream, revision, eventType, data, metadata)
	end := bytes.LastIndexByte(metadata, '}')
	if end < 0 {
		// Not a JSON object: the caller's bug; keep the bytes and append a
		// document Open will not accept, rather than guess.
		return append(bytes.Clone(metadata), hash...), hash
	}
	out := make([]byte, 0, len(metadata)+len(hashKey)+hexLen+3)
	out = append(out, metadata[:end]...)
	if !isEmptyObject(metadata[:end]) {
		out = append(out, ',')
	}
	out = append(out, hashKey...)
	out = append(out, hash...)
	out = append(out, '"')
	out = append(out, metadata[end:]...)
	return out, hash
}

// isEmptyObject reports whether head (an object up to its final '}') has no
// member yet: only an opening brace and whitespace.
func isEmptyObject(head []byte) bool {
	return len(bytes.TrimSpace(head)) == 1 && bytes.TrimSpace(head)[0] == '{'
}

// Open strips what Seal added: it returns the metadata as it was before
// sealing and the hash; ok is false when sealedMetadata does not end with a
// hash member in the exact form Seal writes.
func Open(sealedMetadata []byte) (metadata []byte, hash string, ok bool) {
	head, tail, h, ok := SplitSealed(sealedMetadata)
	if !ok {
		return nil, "", false
	}
	metadata = make([]byte, 0, len(head)+len(tail))
	metadata = append(metadata, head...)
	metadata = append(metadata, tail...)
	return metadata, string(h), true
}

// Verify checks that sealedMetadata's hash is the one Seal computes for the
// event after prevHash. It returns ErrUnsealed or a *MismatchError.
func Verify(prevHash, stream string, revision uint64, eventType string, data, sealedMetadata []byte) error {
	metadata, stored, ok := Open(sealedMetadata)
	if !ok {
		return fmt.Errorf("%s@%d: %w", stream, revision, ErrUnsealed)
	}
	computed := Hash(prevHash, stream, revision, eventType, data, metadata)
	if subtle.ConstantTimeCompare([]byte(stored), []byte(computed)) != 1 {
		return &MismatchError{Stream: stream, Revision: revision, Stored: stored, Computed: computed}
	}
	return nil
}
