package projections_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/eventstore"
	"github.com/partnercenter/multichannel/projections"
)

var t0 = time.Date(2025, 1, 10, 9, 0, 0, 0, time.UTC)

// fixture appends hand-built events to the embedded store and folds them
// into a Model whose clock the test sets, which reads payloads from it.
type fixture struct {
	t     *testing.T
	store *logStore
	model *projections.Model
	// at is the recordedAt of the next event; now is the model's clock.
	at, now time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t, store: newLogStore(t), at: t0, now: t0}
	f.model = projections.New(func() time.Time { return f.now })
	f.model.ReadLogFrom(f.store)
	return f
}

// emit appends events to stream as actor (recorded at f.at, which then
// moves on a second) and folds them into the model.
func (f *fixture) emit(stream string, actor domain.Actor, evs ...domain.Event) eventstore.Position {
	f.t.Helper()
	corr := uuid.Must(uuid.NewV7())
	data := make([]eventstore.EventData, len(evs))
	for i, ev := range evs {
		b, version, err := domain.EncodeEvent(ev)
		if err != nil {
			f.t.Fatal(err)
		}
		md := domain.Metadata{SchemaVersion: version, RecordedAt: f.at, Actor: actor, CorrelationID: corr, CausationID: &corr}
		mb, err := domain.EncodeMetadata(md)
		if err != nil {
			f.t.Fatal(err)
		}
		data[i] = eventstore.EventData{ID: uuid.Must(uuid.NewV7()), Type: ev.EventType(), Data: b, Metadata: mb}
	}
	res, err := f.store.Append(context.Background(), stream, eventstore.Any(), data...)
	if err != nil {
		f.t.Fatal(err)
	}
	f.at = f.at.Add(time.Second)
	f.sync()
	return res.Position
}

// sync applies every stored event the model has not seen.
func (f *fixture) sync() {
	f.t.Helper()
	evs, err := f.store.ReadAll(context.Background(), f.model.Position(), 1<<20)
	if err != nil {
		f.t.Fatal(err)
	}
	for _, e := range evs {
		if err := f.model.Apply(e); err != nil {
			f.t.Fatalf("apply %s: %v", e.Type, err)
		}
	}
}

func newID() uuid.UUID { return uuid.Must(uuid.NewV7()) }

func user(tenant uuid.UUID, role domain.Role) domain.Actor {
	return domain.Actor{UserID: "user-" + tenant.String(), TenantID: tenant, Role: role}
}

var auditor = domain.Actor{UserID: "auditor", TenantID: uuid.MustParse("00000000-0000-7000-8000-00000000a0d1"), Role: domain.RoleAuditor}

func (f *fixture) enroll(name string) uuid.UUID {
	f.t.Helper()
	id := newID()
	f.enrollID(id, name)
	return id
}

func (f *fixture) enrollID(id uuid.UUID, name string) {
	f.t.Helper()
	f.emit(domain.PartnerStream(id), user(id, domain.RoleGlobalAdmin),
		domain.PartnerEnrolled{PartnerID: id, Name: name, Cloud: domain.CloudPublic})
}

func (f *fixture) onboard(by uuid.UUID, name string, csp bool) uuid.UUID {
	f.t.Helper()
	id := newID()
	f.emit(domain.CustomerStream(id), user(by, domain.RoleSalesAgent), domain.CustomerOnboarded{
		CustomerID: id, Name: name, Domain: name + ".example", Cloud: domain.CloudPublic,
		IsCSPPartner: csp, OnboardedBy: by,
	})
	return id
}

// record records an external subscription; seller is set for CSP_PARTNER.
func (f *fixture) record(customer uuid.UUID, offer string, billing domain.BillingModel, ch domain.Channel, seller *uuid.UUID, services ...string) uuid.UUID {
	f.t.Helper()
	id := newID()
	ev := domain.ExternalSubscriptionRecorded{
		SubscriptionID: id, CustomerID: customer, Offer: offer, BillingModel: billing,
		Channel: ch, SellerPartnerID: seller, Quantity: 5,
	}
	if billing == domain.LicenseBased {
		end := f.at.Add(30 * 24 * time.Hour)
		ev.TermEndsAt = &end
	}
	for _, s := range services {
		ev.Services = append(ev.Services, domain.Service{ID: newID(), Name: s})
	}
	f.emit(domain.SubscriptionStream(id), user(customer, domain.RoleGlobalAdmin), ev)
	return id
}

func (f *fixture) request(partner, customer uuid.UUID, attempt int) uuid.UUID {
	f.t.Helper()
	id := domain.RelationshipID(partner, customer, attempt)
	msg := "hello"
	f.emit(domain.RelationshipStream(id), user(partner, domain.RoleSalesAgent), domain.RelationshipRequested{
		RelationshipID: id, PartnerID: partner, CustomerID: customer, Attempt: attempt, Message: &msg,
		RequestedAt: f.at, ExpiresAt: f.at.Add(domain.RelationshipTTL),
	})
	return id
}

func (f *fixture) accept(rel, partner, customer uuid.UUID) {
	f.t.Helper()
	f.emit(domain.RelationshipStream(rel), user(customer, domain.RoleGlobalAdmin),
		domain.RelationshipAccepted{RelationshipID: rel, PartnerID: partner, CustomerID: customer})
}

func ptr[T any](v T) *T { return &v }

func ids[T any](items []T, id func(T) uuid.UUID) []uuid.UUID {
	out := make([]uuid.UUID, len(items))
	for i, it := range items {
		out[i] = id(it)
	}
	return out
}

func subIDs(s []projections.Subscription) []uuid.UUID {
	return ids(s, func(s projections.Subscription) uuid.UUID { return s.ID })
}

func relIDs(r []projections.Relationship) []uuid.UUID {
	return ids(r, func(r projections.Relationship) uuid.UUID { return r.ID })
}

func sameIDs(t *testing.T, what string, got, want []uuid.UUID) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d ids %v, want %d %v", what, len(got), got, len(want), want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: got %v, want %v", what, got, want)
		}
	}
}
