package integrity

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
)

// HexLen is the length of a hash as Seal writes it: hex-encoded SHA-256.
const HexLen = hexLen

// A Hasher computes event hashes as Hash does, reusing its state and
// writing into the caller's array, so that a verifier hashing millions of
// events allocates nothing per event. It is not safe for concurrent use:
// one per goroutine.
type Hasher struct {
	h   hash.Hash
	n   [8]byte
	sum [sha256.Size]byte
}

// NewHasher returns a Hasher.
func NewHasher() *Hasher { return &Hasher{h: sha256.New()} }

// Sum writes into dst the hex hash Hash returns for the same fields, the
// metadata given as two parts whose concatenation it is (SplitSealed's
// head and tail, so that the unsealed metadata is never copied).
func (x *Hasher) Sum(dst *[HexLen]byte, prevHash []byte, stream string, revision uint64, eventType string, data, mdHead, mdTail []byte) {
	h := x.h
	h.Reset()
	x.field(prevHash)
	x.length(len(stream))
	h.Write([]byte(stream)) // no allocation: the conversion does not escape
	binary.BigEndian.PutUint64(x.n[:], revision)
	h.Write(x.n[:])
	x.length(len(eventType))
	h.Write([]byte(eventType))
	x.field(data)
	x.length(len(mdHead) + len(mdTail))
	h.Write(mdHead)
	h.Write(mdTail)
	hex.Encode(dst[:], h.Sum(x.sum[:0]))
}

func (x *Hasher) length(n int) {
	binary.BigEndian.PutUint64(x.n[:], uint64(n))
	x.h.Write(x.n[:])
}

func (x *Hasher) field(b []byte) {
	x.length(len(b))
	x.h.Write(b)
}

// SplitSealed is Open without its copy: the metadata as it was before
// sealing is head followed by tail, and hash is the stored hash (HexLen
// lowercase hex digits); all three alias sealedMetadata. ok is false where
// Open's is.
func SplitSealed(sealedMetadata []byte) (head, tail, hash []byte, ok bool) {
	// Seal's suffix: "hash":"<64 hex>"} with maybe trailing bytes after '}'
	// that Seal kept as they were.
	end := bytes.LastIndexByte(sealedMetadata, '}')
	if end < 0 {
		return nil, nil, nil, false
	}
	start := end - (len(hashKey) + hexLen + 1)
	if start < 1 || !bytes.Equal(sealedMetadata[start:start+len(hashKey)], []byte(hashKey)) ||
		sealedMetadata[end-1] != '"' {
		return nil, nil, nil, false
	}
	hash = sealedMetadata[start+len(hashKey) : end-1]
	if !isLowerHexBytes(hash) {
		return nil, nil, nil, false
	}
	head = sealedMetadata[:start]
	switch {
	case head[len(head)-1] == ',':
		head = head[:len(head)-1]
	case !isEmptyObject(head):
		return nil, nil, nil, false
	}
	return head, sealedMetadata[end:], hash, true
}

func isLowerHexBytes(b []byte) bool {
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
