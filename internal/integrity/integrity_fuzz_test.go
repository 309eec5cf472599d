package integrity_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/partnercenter/multichannel/internal/integrity"
)

// FuzzSealOpenVerify: for any event whose metadata is a JSON object, Open
// gives back exactly what Seal was given, with the hash Seal returned;
// Verify accepts the sealed event; and flipping any one byte of it (data,
// sealed metadata, type, stream, previous hash) or changing its revision
// makes Verify fail.
func FuzzSealOpenVerify(f *testing.F) {
	f.Add("", "partner-1", uint64(0), "PartnerEnrolled", []byte(`{"name":"x"}`), []byte(`{"schemaVersion":1}`), uint(7))
	f.Add("ab", "s", uint64(1)<<40, "T", []byte(`{}`), []byte(` { } `), uint(0))
	f.Add("", "", uint64(0), "", []byte{}, []byte(`{"a":"}"}  `), uint(3))
	f.Fuzz(func(t *testing.T, prev, stream string, revision uint64, typ string, data, metadata []byte, flip uint) {
		var obj map[string]json.RawMessage
		if json.Unmarshal(metadata, &obj) != nil || obj == nil {
			return // Seal takes a JSON object
		}
		sealed, hash := integrity.Seal(prev, stream, revision, typ, data, metadata)
		got, gotHash, ok := integrity.Open(sealed)
		if !ok || !bytes.Equal(got, metadata) || gotHash != hash {
			t.Fatalf("Open(Seal(%q)) = %q, %q, %v; hash %q", metadata, got, gotHash, ok, hash)
		}
		if err := integrity.Verify(prev, stream, revision, typ, data, sealed); err != nil {
			t.Fatalf("a sealed event does not verify: %v", err)
		}
		if !json.Valid(sealed) {
			t.Fatalf("sealed metadata is not JSON: %q", sealed)
		}

		mustFail := func(what string, err error) {
			t.Helper()
			if err == nil {
				t.Fatalf("verified with %s changed", what)
			}
			if !errors.Is(err, integrity.ErrMismatch) && !errors.Is(err, integrity.ErrUnsealed) {
				t.Fatalf("%s changed: unexpected error %v", what, err)
			}
		}
		flipped := func(b []byte) []byte {
			c := bytes.Clone(b)
			c[flip%uint(len(c))] ^= byte(1 + flip%255)
			return c
		}
		mustFail("a byte of the sealed metadata", integrity.Verify(prev, stream, revision, typ, data, flipped(sealed)))
		if len(data) > 0 {
			mustFail("a byte of the data", integrity.Verify(prev, stream, revision, typ, flipped(data), sealed))
		}
		if typ != "" {
			mustFail("a byte of the type", integrity.Verify(prev, stream, revision, string(flipped([]byte(typ))), data, sealed))
		}
		if stream != "" {
			mustFail("a byte of the stream", integrity.Verify(prev, string(flipped([]byte(stream))), revision, typ, data, sealed))
		}
		if prev != "" {
			mustFail("a byte of the previous hash", integrity.Verify(string(flipped([]byte(prev))), stream, revision, typ, data, sealed))
		}
		mustFail("the revision", integrity.Verify(prev, stream, revision^(1<<(flip%64)), typ, data, sealed))
	})
}

// FuzzOpen: Open never panics on any bytes, and what it accepts carries a
// hash of 64 lower-case hex digits and is no longer than its input.
func FuzzOpen(f *testing.F) {
	f.Add([]byte(`{"hash":"` + string(bytes.Repeat([]byte("a"), 64)) + `"}`))
	f.Add([]byte(`}`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, sealed []byte) {
		metadata, hash, ok := integrity.Open(sealed)
		if !ok {
			return
		}
		if len(hash) != 64 || len(metadata) >= len(sealed) {
			t.Fatalf("Open(%q) = %q, %q", sealed, metadata, hash)
		}
		for _, c := range []byte(hash) {
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				t.Fatalf("hash %q", hash)
			}
		}
	})
}
