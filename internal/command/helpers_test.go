package command_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/eventstore"
	"github.com/partnercenter/multichannel/internal/command"
)

// clock is a settable test clock.
type clock struct{ ns atomic.Int64 }

func newClock(t time.Time) *clock { c := &clock{}; c.set(t); return c }
func (c *clock) now() time.Time   { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) set(t time.Time)  { c.ns.Store(t.UnixNano()) }

// waiter records the positions the handlers waited for.
type waiter struct {
	mu  sync.Mutex
	pos []eventstore.Position
}

func (w *waiter) WaitFor(_ context.Context, pos eventstore.Position) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.pos = append(w.pos, pos)
	return nil
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// world: partners A and B (public), G (US government), customer C onboarded
// by A, and a handler set on the embedded store in a temporary file.
type world struct {
	t       *testing.T
	store   *logStore
	faulty  *faultyStore
	clock   *clock
	wait    *waiter
	h       *command.Handlers
	a, b, g uuid.UUID
	c       uuid.UUID
}

func newWorld(t *testing.T) *world {
	t.Helper()
	store := newLogStore(t)
	w := &world{
		t: t, store: store, faulty: &faultyStore{Store: store}, clock: newClock(t0), wait: &waiter{},
		a: uuid.New(), b: uuid.New(), g: uuid.New(), c: uuid.New(),
	}
	// The stream cache is on, as on the embedded store; the end-to-end
	// tests on EventStoreDB's protocol double run the handlers without it.
	w.h = command.New(w.faulty, w.clock.now, w.wait, nil, command.WithStreamCache(1000))
	w.must(w.h.EnrollPartner(ctx(), w.as(w.a, domain.RoleGlobalAdmin), command.EnrollPartner{Name: "Contoso", Cloud: domain.CloudPublic}))
	w.must(w.h.EnrollPartner(ctx(), w.as(w.b, domain.RoleGlobalAdmin), command.EnrollPartner{Name: "Northwind", Cloud: domain.CloudPublic}))
	w.must(w.h.EnrollPartner(ctx(), w.as(w.g, domain.RoleGlobalAdmin), command.EnrollPartner{Name: "Gov", Cloud: domain.CloudUSGovernment}))
	w.onboard(w.c, false)
	return w
}

func ctx() context.Context { return context.Background() }

// as is a request by a user of tenant in role.
func (w *world) as(tenant uuid.UUID, role domain.Role) command.Request {
	return command.Request{
		Caller:        domain.Actor{UserID: "user-" + string(role), TenantID: tenant, Role: role},
		CorrelationID: uuid.Must(uuid.NewV7()),
	}
}

func (w *world) must(id uuid.UUID, err error) uuid.UUID {
	w.t.Helper()
	if err != nil {
		w.t.Fatalf("setup: %v", err)
	}
	return id
}

func (w *world) onboard(id uuid.UUID, csp bool) {
	w.t.Helper()
	s := id.String()
	w.must(w.h.OnboardCustomer(ctx(), w.as(w.a, domain.RoleSalesAgent), command.OnboardCustomer{
		ID: &s, Name: "Customer", Domain: "c" + s[:8] + ".example.com", Cloud: domain.CloudPublic, IsCSPPartner: csp,
	}))
}

// record records a subscription of customer as its Global admin.
func (w *world) record(customer uuid.UUID, billing domain.BillingModel, channel domain.Channel, seller *uuid.UUID, term *time.Time, services ...string) uuid.UUID {
	w.t.Helper()
	in := command.RecordExternalSubscription{CustomerID: customer.String(), Offer: "Offer", BillingModel: billing, Channel: channel, TermEndsAt: term, Quantity: 2, Services: services}
	if seller != nil {
		s := seller.String()
		in.SellerPartnerID = &s
	}
	return w.must(w.h.RecordExternalSubscription(ctx(), w.as(customer, domain.RoleGlobalAdmin), in))
}

// relate has partner request a relationship with customer and, if accept,
// the customer's Global admin accept it.
func (w *world) relate(partner, customer uuid.UUID, accept bool) uuid.UUID {
	w.t.Helper()
	id := w.must(w.h.RequestResellerRelationship(ctx(), w.as(partner, domain.RoleGlobalAdmin), command.RequestResellerRelationship{CustomerID: customer.String()}))
	if accept {
		w.must(w.h.AcceptResellerRelationship(ctx(), w.as(customer, domain.RoleGlobalAdmin), id.String()))
	}
	return id
}

// step is one mutation of a scenario and its expected outcome.
type step struct {
	name string
	do   func() (uuid.UUID, error)
	// want is the refusal (a domain sentinel), nil for success.
	want error
	// wantID, when set, is the id a success must return.
	wantID *uuid.UUID
}

// run runs the steps in order: a refusal must match its sentinel, be a
// *domain.Error and write nothing; a success must write.
func (w *world) run(steps ...step) {
	w.t.Helper()
	for _, s := range steps {
		before, total := w.store.count(), len(w.store.all())
		id, err := s.do()
		after := w.store.count()
		switch {
		case s.want != nil && !errors.Is(err, s.want):
			w.t.Errorf("%s: error = %v, want %v", s.name, err, s.want)
		case s.want != nil && len(w.store.all()) != total:
			// Claim streams included: a refusal claims no key either.
			w.t.Errorf("%s: refused but wrote %d events", s.name, len(w.store.all())-total)
		case s.want == nil && err != nil:
			w.t.Errorf("%s: unexpected error %v", s.name, err)
		case s.want == nil && after == before:
			w.t.Errorf("%s: succeeded without writing", s.name)
		case s.wantID != nil && id != *s.wantID:
			w.t.Errorf("%s: id = %s, want %s", s.name, id, *s.wantID)
		}
		var de *domain.Error
		if s.want != nil && err != nil && !errors.As(err, &de) {
			w.t.Errorf("%s: %v is not a *domain.Error", s.name, err)
		}
	}
}

// lastEvent returns the last event of stream, decoded.
func (w *world) lastEvent(stream string) (domain.Event, domain.Metadata) {
	w.t.Helper()
	evs, err := w.store.ReadStream(ctx(), stream, eventstore.Backwards, eventstore.StreamEnd, 1)
	if err != nil {
		w.t.Fatalf("read %s: %v", stream, err)
	}
	md, err := domain.DecodeMetadata(evs[0].Metadata)
	if err != nil {
		w.t.Fatal(err)
	}
	e, err := domain.DecodeEvent(evs[0].Type, md.SchemaVersion, evs[0].Data)
	if err != nil {
		w.t.Fatal(err)
	}
	return e, md
}

var actingRoles = []domain.Role{domain.RoleGlobalAdmin, domain.RoleUserAdmin, domain.RoleSalesAgent}
var nonActingRoles = []domain.Role{domain.RoleAdminAgent, domain.RoleBillingAdmin, domain.RoleAuditor, domain.RoleSystem}

func ptr[T any](v T) *T { return &v }
