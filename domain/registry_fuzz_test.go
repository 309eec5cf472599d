package domain_test

import (
	"bytes"
	"testing"

	"github.com/partnercenter/multichannel/domain"
)

// everyType is one event of each registered type, for seeds.
var everyType = []domain.Event{
	domain.PartnerEnrolled{}, domain.CustomerOnboarded{}, domain.ExternalSubscriptionRecorded{},
	domain.RelationshipRequested{}, domain.RelationshipAccepted{}, domain.RelationshipDeclined{},
	domain.RelationshipExpired{}, domain.RelationshipTerminated{}, domain.SubscriptionCancelled{},
	domain.SubscriptionSwitched{}, domain.AzureSubscriptionCreated{}, domain.LegacyServiceCancelled{},
}

// FuzzDecodeEvent feeds stored bytes of any type and version to the
// registry, as a damaged or hostile log would: decoding (upcasting
// included) must never panic, and whatever decodes must encode at the
// current version to bytes that decode to the same event (one round trip
// reaches the canonical form).
func FuzzDecodeEvent(f *testing.F) {
	for _, e := range everyType {
		data, version, err := domain.EncodeEvent(e)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(e.EventType(), version, data)
		f.Add(e.EventType(), version-1, data)
		f.Add(e.EventType(), version+1, []byte(`{"x":[1,{"y":null}]}`))
	}
	f.Add("NoSuchType", 1, []byte(`{}`))
	f.Fuzz(func(t *testing.T, typ string, version int, data []byte) {
		ev, err := domain.DecodeEvent(typ, version, data)
		if err != nil {
			return
		}
		if ev.EventType() != typ {
			t.Fatalf("decoded %q as a %s", typ, ev.EventType())
		}
		enc, v, err := domain.EncodeEvent(ev)
		if err != nil {
			t.Fatalf("a decoded event does not encode: %v", err)
		}
		if current, _ := domain.SchemaVersion(typ); v != current {
			t.Fatalf("encoded at version %d, current is %d", v, current)
		}
		again, err := domain.DecodeEvent(typ, v, enc)
		if err != nil {
			t.Fatalf("a re-encoded event does not decode: %v\n%s", err, enc)
		}
		enc2, _, err := domain.EncodeEvent(again)
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("round trip changed the event:\n%s\n%s (%v)", enc, enc2, err)
		}
	})
}

// FuzzDecodeMetadata: metadata decoding never panics, and what decodes
// encodes to a canonical form that round-trips exactly.
func FuzzDecodeMetadata(f *testing.F) {
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"schemaVersion":2,"recordedAt":"2026-01-02T03:04:05.123456789+01:00","actor":{"userId":"u\u00e9","tenantId":"00000000-0000-0000-0000-000000000000","role":"SYSTEM"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		md, err := domain.DecodeMetadata(b)
		if err != nil {
			return
		}
		enc, err := domain.EncodeMetadata(md)
		if err != nil {
			// encoding/json refuses some times it accepted (a year
			// outside 0-9999 cannot be written back as RFC 3339).
			if md.RecordedAt.Year() < 0 || md.RecordedAt.Year() > 9999 {
				return
			}
			t.Fatalf("decoded metadata does not encode: %v", err)
		}
		again, err := domain.DecodeMetadata(enc)
		if err != nil {
			t.Fatalf("re-encoded metadata does not decode: %v\n%s", err, enc)
		}
		enc2, err := domain.EncodeMetadata(again)
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("round trip changed the metadata:\n%s\n%s (%v)", enc, enc2, err)
		}
	})
}
