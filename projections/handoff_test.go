package projections_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/eventstore"
	"github.com/partnercenter/multichannel/projections"
)

// stored returns a PartnerEnrolled as the log would hand it to Apply, at
// commit position pos, with the event id it was appended under.
func stored(t *testing.T, pos uint64, partner uuid.UUID, name string) eventstore.RecordedEvent {
	t.Helper()
	b, v, err := domain.EncodeEvent(domain.PartnerEnrolled{PartnerID: partner, Name: name, Cloud: domain.CloudPublic})
	if err != nil {
		t.Fatal(err)
	}
	mb, err := domain.EncodeMetadata(domain.Metadata{SchemaVersion: v, RecordedAt: t0,
		Actor: user(partner, domain.RoleGlobalAdmin), CorrelationID: newID()})
	if err != nil {
		t.Fatal(err)
	}
	return eventstore.RecordedEvent{
		ID: newID(), Stream: domain.PartnerStream(partner), Revision: 0, Type: domain.TypePartnerEnrolled,
		Data: b, Metadata: mb, Position: eventstore.Position{Commit: pos, Prepare: pos},
	}
}

func partnerName(t *testing.T, m *projections.Model, id uuid.UUID) string {
	t.Helper()
	p, ok := m.Partner(id)
	if !ok {
		t.Fatalf("partner %s not folded", id)
	}
	return p.Name
}

// A handed-over event is folded as given: Apply does not decode it (the
// model below shows the offered name, not the stored one, which only an
// unchecked handoff can produce). Every 64th is decoded and compared; a
// difference folds the stored bytes and turns the handoff off.
func TestHandoffIsFoldedAndSampled(t *testing.T) {
	m := projections.New(func() time.Time { return t0 })
	var ids []uuid.UUID
	for i := range 64 {
		id := newID()
		ids = append(ids, id)
		e := stored(t, uint64(i+1), id, "Stored")
		m.Offer(e.ID, domain.PartnerEnrolled{PartnerID: id, Name: "Offered", Cloud: domain.CloudPublic})
		if err := m.Apply(e); err != nil {
			t.Fatal(err)
		}
	}
	for i, id := range ids[:63] {
		if got := partnerName(t, m, id); got != "Offered" {
			t.Fatalf("event %d: folded %q, want the handed-over value", i, got)
		}
	}
	if got := partnerName(t, m, ids[63]); got != "Stored" {
		t.Fatalf("the 64th event, which is checked: folded %q, want the stored bytes", got)
	}
	if n := m.HandoffMismatches(); n != 1 {
		t.Fatalf("mismatches = %d, want 1", n)
	}

	// Off from now on: an offer is ignored and the bytes are decoded.
	id := newID()
	e := stored(t, 65, id, "Stored")
	m.Offer(e.ID, domain.PartnerEnrolled{PartnerID: id, Name: "Offered", Cloud: domain.CloudPublic})
	if err := m.Apply(e); err != nil {
		t.Fatal(err)
	}
	if got := partnerName(t, m, id); got != "Stored" {
		t.Fatalf("after a mismatch: folded %q, want the stored bytes", got)
	}
}

// With CheckHandoffs every handed-over event is compared, and a
// difference is an error of Apply that changes nothing.
func TestCheckHandoffsFailsOnADifference(t *testing.T) {
	m := projections.New(func() time.Time { return t0 })
	m.CheckHandoffs()

	same := newID()
	e := stored(t, 1, same, "Contoso")
	m.Offer(e.ID, domain.PartnerEnrolled{PartnerID: same, Name: "Contoso", Cloud: domain.CloudPublic})
	if err := m.Apply(e); err != nil {
		t.Fatalf("an exact handoff: %v", err)
	}

	other := newID()
	e = stored(t, 2, other, "Stored")
	m.Offer(e.ID, domain.PartnerEnrolled{PartnerID: other, Name: "Offered", Cloud: domain.CloudPublic})
	if err := m.Apply(e); !errors.Is(err, projections.ErrHandoffMismatch) {
		t.Fatalf("Apply = %v, want ErrHandoffMismatch", err)
	}
	if _, ok := m.Partner(other); ok {
		t.Fatal("the refused event was folded")
	}
	if m.Position() != (eventstore.Position{Commit: 1, Prepare: 1}) {
		t.Fatalf("checkpoint moved to %s", m.Position())
	}
}

// A withdrawn offer (its append failed) is not used, and an offer whose
// type is not the stored event's is ignored.
func TestWithdrawnAndForeignOffersAreNotUsed(t *testing.T) {
	m := projections.New(func() time.Time { return t0 })
	a := newID()
	e := stored(t, 1, a, "Stored")
	m.Offer(e.ID, domain.PartnerEnrolled{PartnerID: a, Name: "Offered", Cloud: domain.CloudPublic})
	m.Withdraw(e.ID)
	if err := m.Apply(e); err != nil {
		t.Fatal(err)
	}
	if got := partnerName(t, m, a); got != "Stored" {
		t.Fatalf("withdrawn offer: folded %q", got)
	}

	b := newID()
	e = stored(t, 2, b, "Stored")
	m.Offer(e.ID, domain.CustomerOnboarded{CustomerID: b, Name: "Offered"})
	if err := m.Apply(e); err != nil {
		t.Fatal(err)
	}
	if got := partnerName(t, m, b); got != "Stored" {
		t.Fatalf("offer of another type: folded %q", got)
	}
}
