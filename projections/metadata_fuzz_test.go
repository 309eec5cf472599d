package projections

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/partnercenter/multichannel/eventstore"
)

// FuzzScanMetadata checks the fast metadata scanner against encoding/json,
// the reference: whatever the scanner accepts, encoding/json must accept
// too and decode to the same fields. (What the scanner refuses goes to
// encoding/json anyway, so only its acceptances can be wrong.)
func FuzzScanMetadata(f *testing.F) {
	f.Add([]byte(`{"schemaVersion":1,"recordedAt":"2026-01-02T03:04:05Z","actor":{"userId":"u","tenantId":"00000000-0000-0000-0000-000000000001","role":"AUDITOR"},"correlationId":"00000000-0000-0000-0000-000000000002","idempotencyKey":"k","idempotencyFingerprint":"f","hash":"00"}`))
	f.Add([]byte(` { "actor" : { } , "extra" : [ 1 , "x" , { "y" : null } , true ] } `))
	f.Add([]byte(`{"userId":"\u0041"}`))
	f.Add([]byte("{\"actor\":{\"userId\":\"\xff\"}}"))
	f.Add([]byte(`{"recordedAt":"2026-01-02T3:04:05Z"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var fast metaLite
		if !scanMeta(b, &fast) {
			var viaFallback metaLite
			_ = decodeMeta(b, &viaFallback) // must not panic
			return
		}
		if !json.Valid(b) {
			// A known divergence: the scanner checks the syntax of the
			// values it skips loosely (a number is whatever ParseFloat
			// takes: 00, +1, Inf), so it accepts some invalid documents
			// that encoding/json refuses. On valid documents the two must
			// agree, which is what this target checks.
			t.Skip("not JSON")
		}
		if !utf8.Valid(b) {
			// A known divergence: encoding/json turns invalid UTF-8 in a
			// string into U+FFFD, the scanner keeps the bytes. The metadata
			// the server writes is always valid UTF-8 (json.Marshal makes
			// it so).
			t.Skip("not UTF-8")
		}
		if k := caseVariantKey(b); k != "" {
			// A known divergence, left to the scanner's owner: encoding/json
			// matches keys without regard to case, the scanner exactly, so
			// {"ACTOR":{...}} fills Actor for one and not the other.
			// domain.EncodeMetadata never writes such keys.
			t.Skipf("key %q differs from a field's name only in case", k)
		}
		var ref metaLite
		if err := json.Unmarshal(b, &ref); err != nil {
			t.Fatalf("the scanner accepted what encoding/json refuses (%v): %q", err, b)
		}
		if !fast.RecordedAt.Equal(ref.RecordedAt) {
			t.Fatalf("recordedAt %v, encoding/json %v: %q", fast.RecordedAt, ref.RecordedAt, b)
		}
		fast.RecordedAt = ref.RecordedAt
		if fast != ref {
			t.Fatalf("scanner %+v\nencoding/json %+v\ninput %q", fast, ref, b)
		}
	})
}

// metaKeys are the metadata's field names at the top level and in actor.
var metaKeys = []string{"schemaVersion", "recordedAt", "actor", "correlationId", "idempotencyKey", "idempotencyFingerprint", "userId", "tenantId", "role"}

// caseVariantKey returns a key of the document's top level or of its actor
// that equals a field's name but for case, or "".
func caseVariantKey(b []byte) string {
	var top map[string]json.RawMessage
	if json.Unmarshal(b, &top) != nil {
		return ""
	}
	check := func(m map[string]json.RawMessage) string {
		for k := range m {
			for _, name := range metaKeys {
				if k != name && strings.EqualFold(k, name) {
					return k
				}
			}
		}
		return ""
	}
	if k := check(top); k != "" {
		return k
	}
	for k, v := range top {
		if strings.EqualFold(k, "actor") {
			var actor map[string]json.RawMessage
			if json.Unmarshal(v, &actor) == nil {
				if k := check(actor); k != "" {
					return k
				}
			}
		}
	}
	return ""
}

var cursorPrefixes = []string{cursorCustomer, cursorSubscription, cursorRelationship, cursorEvent}

// FuzzCursor: the cursor parser never panics, and a cursor it accepts
// denotes a position whose own cursor it accepts as the same position.
func FuzzCursor(f *testing.F) {
	f.Add(uint(0), "cu:1-1")
	f.Add(uint(1), "su:ffffffffffffffff-ffffffffffffffff")
	f.Add(uint(2), "re:0-0")
	f.Add(uint(3), "a-b")
	f.Add(uint(3), "cu:1-1")
	f.Fuzz(func(t *testing.T, kind uint, after string) {
		prefix := cursorPrefixes[kind%uint(len(cursorPrefixes))]
		req, err := parsePage(prefix, nil, &after)
		if err != nil {
			return
		}
		if !req.hasAfter {
			t.Fatalf("accepted %q without a position", after)
		}
		canonical := prefix + req.after.String()
		again, err := parsePage(prefix, nil, &canonical)
		if err != nil || again.after != req.after {
			t.Fatalf("%q was accepted as %v, its own cursor %q as %v (%v)", after, req.after, canonical, again.after, err)
		}
	})
}

// FuzzParsePosition: ParsePosition never panics, and what it accepts is
// exactly the String of the position it returns (one spelling per position).
func FuzzParsePosition(f *testing.F) {
	f.Add("0-0")
	f.Add("1f-1f")
	f.Add("ffffffffffffffff-ffffffffffffffff")
	f.Add("-")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := eventstore.ParsePosition(s)
		if err != nil {
			return
		}
		if p.String() != s {
			t.Fatalf("%q accepted as %v, whose String is %q", s, p, p.String())
		}
	})
}

// FuzzPositionString: String and ParsePosition are inverse on every
// Position.
func FuzzPositionString(f *testing.F) {
	f.Add(uint64(0), uint64(0))
	f.Add(uint64(1)<<63, ^uint64(0))
	f.Fuzz(func(t *testing.T, commit, prepare uint64) {
		p := eventstore.Position{Commit: commit, Prepare: prepare}
		q, err := eventstore.ParsePosition(p.String())
		if err != nil || q != p {
			t.Fatalf("%v: String %q parsed as %v (%v)", p, p.String(), q, err)
		}
	})
}
