package record_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/internal/integrity"
	"github.com/partnercenter/multichannel/internal/record"
)

// Events chains each event after the head, stamps the metadata as given
// (the key on the first event only) and gives the bytes the command side
// wrote before it recorded through this package.
func TestEventsSealsAfterTheHead(t *testing.T) {
	p1, p2 := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
	events := []domain.Event{
		domain.PartnerEnrolled{PartnerID: p1, Name: "One", Cloud: domain.CloudPublic},
		domain.PartnerEnrolled{PartnerID: p2, Name: "Two", Cloud: domain.CloudPublic},
	}
	corr := uuid.Must(uuid.NewV7())
	md := domain.Metadata{
		RecordedAt:    domain.AtAPIPrecision(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)),
		Actor:         domain.Actor{UserID: "u", TenantID: p1, Role: domain.RoleGlobalAdmin},
		CorrelationID: corr, CausationID: &corr,
		IdempotencyKey: "key-1", IdempotencyFingerprint: "fp",
	}
	head := record.Head{Stream: domain.PartnerStream(p1), Next: 3, Hash: "ab"}
	got, err := record.Events(head, md, events)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Events) != 2 || len(got.Versions) != 2 {
		t.Fatalf("%d events, %d versions; want 2 of each", len(got.Events), len(got.Versions))
	}
	prev := head.Hash
	for i, e := range events {
		// The bytes as the command side encoded them by hand.
		data, version, err := domain.EncodeEvent(e)
		if err != nil {
			t.Fatal(err)
		}
		m := md
		m.SchemaVersion = version
		if i > 0 {
			m.IdempotencyKey, m.IdempotencyFingerprint = "", ""
		}
		mdBytes, err := domain.EncodeMetadata(m)
		if err != nil {
			t.Fatal(err)
		}
		wantMD, hash := integrity.Seal(prev, head.Stream, head.Next+uint64(i), e.EventType(), data, mdBytes)
		ev := got.Events[i]
		if ev.Type != e.EventType() || !bytes.Equal(ev.Data, data) || !bytes.Equal(ev.Metadata, wantMD) || got.Versions[i] != version {
			t.Fatalf("event %d: %s %s %s (version %d)\nwant %s %s %s (version %d)", i, ev.Type, ev.Data, ev.Metadata, got.Versions[i], e.EventType(), data, wantMD, version)
		}
		if err := integrity.Verify(prev, head.Stream, head.Next+uint64(i), ev.Type, ev.Data, ev.Metadata); err != nil {
			t.Fatalf("event %d does not verify: %v", i, err)
		}
		if ev.ID.Version() != 7 {
			t.Fatalf("event %d id %s is not a UUIDv7", i, ev.ID)
		}
		prev = hash
	}
	if got.Hash != prev {
		t.Fatalf("last hash %s, want %s", got.Hash, prev)
	}
	back, err := domain.DecodeMetadata(got.Events[1].Metadata)
	if err != nil || back.IdempotencyKey != "" {
		t.Fatalf("second event's metadata: %+v, %v; want no idempotency key", back, err)
	}
	if exp := head.Expected(); exp.String() != "revision 2" {
		t.Fatalf("expected revision at %d: %s, want revision 2", head.Next, exp)
	}
	if exp := (record.Head{}).Expected(); !exp.IsNoStream() {
		t.Fatalf("expected revision of a new stream: %s, want no stream", exp)
	}
}
