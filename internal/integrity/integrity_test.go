package integrity_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/partnercenter/multichannel/internal/integrity"
)

func TestSealOpen(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		metadata string
		// wantPrefix/wantSuffix: the sealed document around the hash.
		wantPrefix, wantSuffix string
	}{
		{"object", `{"schemaVersion":1}`, `{"schemaVersion":1,"hash":"`, `"}`},
		{"empty object", `{}`, `{"hash":"`, `"}`},
		{"empty object with space", `{ }`, `{ "hash":"`, `"}`},
		{"space before brace", `{"a":1 }`, `{"a":1 ,"hash":"`, `"}`},
		{"trailing newline", "{\"a\":1}\n", `{"a":1,"hash":"`, "\"}\n"},
		{"brace in a string", `{"notes":"}"}`, `{"notes":"}","hash":"`, `"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sealed, hash := integrity.Seal("prev", "partner-1", 3, "PartnerEnrolled", []byte(`{"x":1}`), []byte(tt.metadata))
			if len(hash) != 64 {
				t.Fatalf("hash %q is not 64 hex digits", hash)
			}
			if want := tt.wantPrefix + hash + tt.wantSuffix; string(sealed) != want {
				t.Fatalf("sealed = %s, want %s", sealed, want)
			}
			md, h, ok := integrity.Open(sealed)
			if !ok || h != hash || string(md) != tt.metadata {
				t.Fatalf("Open = %q, %q, %v; want %q, %q, true", md, h, ok, tt.metadata, hash)
			}
			if err := integrity.Verify("prev", "partner-1", 3, "PartnerEnrolled", []byte(`{"x":1}`), sealed); err != nil {
				t.Fatalf("Verify: %v", err)
			}
		})
	}
}

func TestOpenRefusesUnsealed(t *testing.T) {
	t.Parallel()
	hex := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, s := range []string{
		``, `{}`, `{"a":1}`, `not json`,
		`{"a":1,"hash":"` + hex[:63] + `"}`, // too short
		`{"a":1,"hash":"` + "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef" + `"}`, // upper case
		`{"a":1 "hash":"` + hex + `"}`, // no comma
		`{"hash":"` + hex + `","a":1}`, // not last
	} {
		if _, _, ok := integrity.Open([]byte(s)); ok {
			t.Errorf("Open(%q) ok", s)
		}
		if err := integrity.Verify("", "s-1", 0, "T", nil, []byte(s)); !errors.Is(err, integrity.ErrUnsealed) {
			t.Errorf("Verify(%q) = %v, want ErrUnsealed", s, err)
		}
	}
}

// Every field counts, and the length prefixes keep fields from running into
// each other.
func TestHashCoversEveryField(t *testing.T) {
	t.Parallel()
	type in struct {
		prev, stream string
		rev          uint64
		typ          string
		data, md     string
	}
	base := in{"p", "subscription-1", 7, "SubscriptionCancelled", `{"a":1}`, `{"b":2}`}
	variants := []in{
		{"q", base.stream, base.rev, base.typ, base.data, base.md},
		{base.prev, "subscription-2", base.rev, base.typ, base.data, base.md},
		{base.prev, base.stream, 8, base.typ, base.data, base.md},
		{base.prev, base.stream, base.rev, "SubscriptionSwitched", base.data, base.md},
		{base.prev, base.stream, base.rev, base.typ, `{"a":2}`, base.md},
		{base.prev, base.stream, base.rev, base.typ, base.data, `{"b":3}`},
		// Moving bytes across a field boundary.
		{"ps", "ubscription-1", base.rev, base.typ, base.data, base.md},
		{base.prev, base.stream, base.rev, base.typ, `{"a":1}{`, `"b":2}`},
	}
	h := func(x in) string { return integrity.Hash(x.prev, x.stream, x.rev, x.typ, []byte(x.data), []byte(x.md)) }
	want := h(base)
	if h(base) != want {
		t.Fatal("hash is not deterministic")
	}
	for i, v := range variants {
		if h(v) == want {
			t.Errorf("variant %d hashes like the base", i)
		}
	}
}

// Flipping any single byte of the data or of the sealed metadata breaks
// verification.
func TestFlippedByteBreaksVerification(t *testing.T) {
	t.Parallel()
	data := []byte(`{"subscriptionId":"0195d2a0-0000-7000-8000-000000000050","customerId":"0195d2a0-0000-7000-8000-0000000000c0"}`)
	md := []byte(`{"schemaVersion":1,"recordedAt":"2026-03-01T12:00:00Z","actor":{"userId":"u","tenantId":"0195d2a0-0000-7000-8000-00000000000a","role":"GLOBAL_ADMIN"},"correlationId":"0195d2a0-0000-7000-8000-000000000001"}`)
	sealed, _ := integrity.Seal("prevhash", "subscription-0195d2a0-0000-7000-8000-000000000050", 2, "SubscriptionCancelled", data, md)
	verify := func(d, m []byte) error {
		return integrity.Verify("prevhash", "subscription-0195d2a0-0000-7000-8000-000000000050", 2, "SubscriptionCancelled", d, m)
	}
	if err := verify(data, sealed); err != nil {
		t.Fatalf("intact event: %v", err)
	}
	for i := range data {
		d := bytes.Clone(data)
		d[i] ^= 0x01
		if err := verify(d, sealed); !errors.Is(err, integrity.ErrMismatch) {
			t.Fatalf("data byte %d flipped: %v, want ErrMismatch", i, err)
		}
	}
	for i := range sealed {
		m := bytes.Clone(sealed)
		m[i] ^= 0x01
		if err := verify(data, m); err == nil {
			t.Fatalf("metadata byte %d flipped: verified", i)
		}
	}
	var mm *integrity.MismatchError
	if err := verify(data[:len(data)-1], sealed); !errors.As(err, &mm) || mm.Revision != 2 {
		t.Fatalf("truncated data: %v, want a *MismatchError", err)
	}
}

// A chain breaks at the first changed event and after it.
func TestChain(t *testing.T) {
	t.Parallel()
	type ev struct {
		data, md []byte
	}
	var events []ev
	prev := ""
	for rev := range 4 {
		sealed, h := integrity.Seal(prev, "relationship-1", uint64(rev), "T", []byte{byte('a' + rev)}, []byte(`{"n":1}`))
		events = append(events, ev{[]byte{byte('a' + rev)}, sealed})
		prev = h
	}
	check := func(evs []ev) int {
		prev := ""
		for rev, e := range evs {
			if err := integrity.Verify(prev, "relationship-1", uint64(rev), "T", e.data, e.md); err != nil {
				return rev
			}
			_, prev, _ = integrity.Open(e.md)
		}
		return -1
	}
	if got := check(events); got != -1 {
		t.Fatalf("intact chain breaks at %d", got)
	}
	// Drop revision 1: revision 2 now follows 0 and fails.
	dropped := append([]ev{events[0]}, events[2:]...)
	if got := check(dropped); got != 1 {
		t.Fatalf("dropped event: chain breaks at %d, want 1", got)
	}
}

func BenchmarkSeal(b *testing.B) {
	data := bytes.Repeat([]byte("x"), 300)
	md := []byte(`{"schemaVersion":1,"recordedAt":"2026-03-01T12:00:00Z","correlationId":"0195d2a0-0000-7000-8000-000000000001"}`)
	b.SetBytes(int64(len(data) + len(md)))
	for b.Loop() {
		integrity.Seal("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "subscription-0195d2a0-0000-7000-8000-000000000050", 9, "SubscriptionCancelled", data, md)
	}
}
