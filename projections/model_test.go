package projections_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/eventstore"
	"github.com/partnercenter/multichannel/projections"
)

func TestFoldBuildsViews(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	p := f.enroll("Contoso")
	other := f.enroll("Fabrikam")
	enrolledAt := t0
	c := f.onboard(p, "Northwind", false)
	createdAt := f.at.Add(-time.Second)
	legacy := f.record(c, "Azure plan", domain.UsageBased, domain.ChannelEnterpriseAgreement, nil, "VMs", "SQL")
	lic := f.record(c, "M365 E3", domain.LicenseBased, domain.ChannelCSPPartner, &other)

	part, ok := f.model.Partner(p)
	if !ok || part.Name != "Contoso" || part.Cloud != domain.CloudPublic || !part.EnrolledAt.Equal(enrolledAt) {
		t.Fatalf("Partner = %+v, %v", part, ok)
	}
	pv := user(p, domain.RoleSalesAgent)
	cust, ok := f.model.Customer(pv, c)
	if !ok || cust.Name != "Northwind" || cust.Domain != "Northwind.example" || cust.OnboardedBy != p ||
		!cust.CreatedAt.Equal(createdAt) || cust.IsCSPPartner {
		t.Fatalf("Customer = %+v, %v", cust, ok)
	}

	// Replace the legacy one, cancel a service, then the whole legacy one.
	repl := domain.ReplacementID(legacy, p)
	f.emit(domain.SubscriptionStream(repl), pv, domain.AzureSubscriptionCreated{
		SubscriptionID: repl, CustomerID: c, PartnerID: p, LegacySubscriptionID: legacy, Offer: "Azure plan",
		LegacyDetails: domain.LegacyDetails{AzureSubscriptionID: "az-1", Notes: ptr("moved")},
	})
	l, _ := f.model.Subscription(pv, legacy)
	f.emit(domain.SubscriptionStream(legacy), pv, domain.LegacyServiceCancelled{
		SubscriptionID: legacy, CustomerID: c, PartnerID: p, ServiceID: &l.Services[0].ID,
	})
	got, _ := f.model.Subscription(pv, legacy)
	if got.Status != domain.StatusActive || got.Services[0].Status != domain.StatusCancelled || got.Services[1].Status != domain.StatusActive {
		t.Fatalf("after one service: %+v", got)
	}
	sameIDs(t, "replacedBy", got.ReplacedByIDs, []uuid.UUID{repl})
	// The view handed out earlier is a copy: the fold did not change it.
	if l.Services[0].Status != domain.StatusActive {
		t.Fatal("a view handed out earlier changed under the caller")
	}
	cancelAt := f.at
	f.emit(domain.SubscriptionStream(legacy), pv, domain.LegacyServiceCancelled{
		SubscriptionID: legacy, CustomerID: c, PartnerID: p, ServiceIDs: []uuid.UUID{l.Services[1].ID},
	})
	got, _ = f.model.Subscription(pv, legacy)
	if got.Status != domain.StatusCancelled || got.CancelledAt == nil || !got.CancelledAt.Equal(cancelAt) ||
		got.Services[1].Status != domain.StatusCancelled {
		t.Fatalf("after whole cancel: %+v", got)
	}
	r, _ := f.model.Subscription(pv, repl)
	if r.Channel != domain.ChannelCSPPartner || r.BillingModel != domain.UsageBased || r.Quantity != 1 ||
		*r.SellerPartnerID != p || *r.ReplacesID != legacy || r.LegacyDetails.AzureSubscriptionID != "az-1" ||
		len(r.Services) != 0 || r.Services == nil {
		t.Fatalf("replacement = %+v", r)
	}

	// Switch the license one (p needs a relationship to see it; use the auditor).
	f.emit(domain.SubscriptionStream(lic), pv, domain.SubscriptionSwitched{
		SubscriptionID: lic, CustomerID: c, FromPartnerID: &other, ToPartnerID: p,
	})
	s, _ := f.model.Subscription(auditor, lic)
	if *s.SellerPartnerID != p || s.Channel != domain.ChannelCSPPartner || s.TermEndsAt == nil {
		t.Fatalf("switched = %+v", s)
	}
	// The previous seller no longer sells anything to c: profile gone.
	if _, ok := f.model.Customer(user(other, domain.RoleSalesAgent), c); ok {
		t.Fatal("former seller still sees the customer")
	}
	f.emit(domain.SubscriptionStream(lic), user(c, domain.RoleGlobalAdmin), domain.SubscriptionCancelled{SubscriptionID: lic, CustomerID: c})
	s, _ = f.model.Subscription(auditor, lic)
	if s.Status != domain.StatusCancelled || s.CancelledAt == nil {
		t.Fatalf("cancelled = %+v", s)
	}
}

func TestRelationshipLifecycleAndEffectiveStatus(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	p := f.enroll("Contoso")
	c := f.onboard(p, "Northwind", false)
	requestedAt := f.at
	r0 := f.request(p, c, 0)
	pv := user(p, domain.RoleSalesAgent)

	rel, ok := f.model.Relationship(pv, r0)
	if !ok || rel.Status != domain.Pending || *rel.Message != "hello" || !rel.RequestedAt.Equal(requestedAt) ||
		!rel.ExpiresAt.Equal(requestedAt.Add(domain.RelationshipTTL)) || rel.RespondedAt != nil {
		t.Fatalf("requested = %+v, %v", rel, ok)
	}
	// One millisecond before expiry: PENDING; at expiresAt: EXPIRED, with
	// respondedAt still nil, and the sweep finds it due.
	f.now = rel.ExpiresAt.Add(-time.Millisecond)
	if rel, _ := f.model.Relationship(pv, r0); rel.Status != domain.Pending {
		t.Fatalf("before expiry: %s", rel.Status)
	}
	if due := f.model.DueExpiries(f.now); len(due) != 0 {
		t.Fatalf("due before expiry: %v", due)
	}
	f.now = rel.ExpiresAt
	if rel, _ := f.model.Relationship(pv, r0); rel.Status != domain.Expired || rel.RespondedAt != nil {
		t.Fatalf("at expiry: %+v", rel)
	}
	if rels := f.model.CustomerRelationships(pv, c); len(rels) != 1 || rels[0].Status != domain.Expired {
		t.Fatalf("CustomerRelationships at expiry: %+v", rels)
	}
	conn, err := f.model.Relationships(pv, projections.RelationshipFilter{Status: ptr(domain.Expired)}, nil, nil)
	if err != nil || conn.TotalCount != 1 {
		t.Fatalf("filter EXPIRED: %+v %v", conn, err)
	}
	sameIDs(t, "DueExpiries", f.model.DueExpiries(f.now), []uuid.UUID{r0})
	f.emit(domain.RelationshipStream(r0), domain.SystemActor, domain.RelationshipExpired{
		RelationshipID: r0, PartnerID: p, CustomerID: c, ExpiredAt: rel.ExpiresAt,
	})
	if due := f.model.DueExpiries(f.now); len(due) != 0 {
		t.Fatalf("due after RelationshipExpired: %v", due)
	}
	if rel, _ := f.model.Relationship(pv, r0); rel.Status != domain.Expired || rel.RespondedAt != nil {
		t.Fatalf("recorded expiry: %+v", rel)
	}

	// A second attempt, accepted then terminated.
	r1 := f.request(p, c, 1)
	acceptedAt := f.at
	f.accept(r1, p, c)
	rel, _ = f.model.Relationship(pv, r1)
	if rel.Status != domain.Accepted || rel.RespondedAt == nil || !rel.RespondedAt.Equal(acceptedAt) {
		t.Fatalf("accepted = %+v", rel)
	}
	// ACCEPTED never reads EXPIRED.
	f.now = rel.ExpiresAt.Add(time.Hour)
	if rel, _ := f.model.Relationship(pv, r1); rel.Status != domain.Accepted {
		t.Fatalf("accepted after expiresAt: %s", rel.Status)
	}
	terminatedAt := f.at
	f.emit(domain.RelationshipStream(r1), pv, domain.RelationshipTerminated{RelationshipID: r1, PartnerID: p, CustomerID: c})
	rel, _ = f.model.Relationship(pv, r1)
	if rel.Status != domain.Terminated || rel.TerminatedAt == nil || !rel.TerminatedAt.Equal(terminatedAt) {
		t.Fatalf("terminated = %+v", rel)
	}

	r2 := f.request(p, c, 2)
	f.emit(domain.RelationshipStream(r2), user(c, domain.RoleGlobalAdmin), domain.RelationshipDeclined{RelationshipID: r2, PartnerID: p, CustomerID: c})
	if rel, _ := f.model.Relationship(pv, r2); rel.Status != domain.Declined || rel.RespondedAt == nil {
		t.Fatalf("declined = %+v", rel)
	}
	sameIDs(t, "relationships", relIDs(f.model.CustomerRelationships(pv, c)), []uuid.UUID{r0, r1, r2})
}

func TestDueExpiriesOrderAndScope(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	p := f.enroll("Contoso")
	q := f.enroll("Fabrikam")
	c := f.onboard(p, "Northwind", false)
	d := f.onboard(q, "Tailspin", false)
	a := f.request(p, c, 0)
	b := f.request(q, d, 0)
	accepted := f.request(q, c, 0)
	f.accept(accepted, q, c)
	later := f.at.Add(domain.RelationshipTTL + time.Hour)
	sameIDs(t, "due", f.model.DueExpiries(later), []uuid.UUID{a, b})
	if due := f.model.DueExpiries(t0); len(due) != 0 {
		t.Fatalf("nothing is due at t0: %v", due)
	}
}

func TestApplyGuards(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	p := f.enroll("Contoso")
	c := f.onboard(p, "Northwind", false)
	all, _ := f.store.ReadAll(context.Background(), eventstore.Start, 100)

	// A redelivered event (at or before the checkpoint) changes nothing.
	before := f.model.Position()
	for _, e := range all {
		if err := f.model.Apply(e); err != nil {
			t.Fatalf("redelivery: %v", err)
		}
	}
	if f.model.Position() != before || len(f.model.CustomerSubscriptions(auditor, c)) != 0 {
		t.Fatal("redelivery changed the model")
	}
	if conn, _ := f.model.Customers(auditor, projections.CustomerFilter{}, nil, nil); conn.TotalCount != 1 {
		t.Fatalf("customers after redelivery: %d", conn.TotalCount)
	}

	// A skipped revision is an error and leaves the checkpoint alone.
	e := all[1]
	e.Position = eventstore.Position{Commit: 100, Prepare: 100}
	e.Revision = 2
	if err := f.model.Apply(e); !errors.Is(err, projections.ErrOutOfOrder) {
		t.Fatalf("gap: err = %v, want ErrOutOfOrder", err)
	}
	if f.model.Position() != before {
		t.Fatal("a refused event moved the checkpoint")
	}

	// An unknown type in a product stream is an error; outside them it is
	// skipped and only moves the checkpoint.
	e = eventstore.RecordedEvent{ID: newID(), Stream: domain.CustomerStream(c), Revision: 1, Position: eventstore.Position{Commit: 101, Prepare: 101}, Type: "Nope", Data: []byte(`{}`), Metadata: []byte(`{}`)}
	if err := f.model.Apply(e); !errors.Is(err, domain.ErrUnknownEventType) {
		t.Fatalf("unknown type: err = %v", err)
	}
	e.Stream = "guard-1"
	if err := f.model.Apply(e); err != nil {
		t.Fatalf("foreign stream: %v", err)
	}
	if f.model.Position() != e.Position {
		t.Fatal("foreign stream event did not move the checkpoint")
	}

	// Rebuilding from the start gives the same answers.
	m2 := projections.New(func() time.Time { return f.now })
	for _, e := range all {
		if err := m2.Apply(e); err != nil {
			t.Fatal(err)
		}
	}
	got, ok := m2.Customer(auditor, c)
	want, _ := f.model.Customer(auditor, c)
	if !ok || got != want {
		t.Fatalf("rebuild: %+v, want %+v", got, want)
	}
}

func TestWaitFor(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	p := f.enroll("Contoso")
	_ = p
	// Already applied: returns at once.
	if err := f.model.WaitFor(context.Background(), f.model.Position()); err != nil {
		t.Fatal(err)
	}

	// Appended to the store but not applied: times out with ctx.
	pos := f.appendOnly()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err := f.model.WaitFor(ctx, pos)
	if !errors.Is(err, projections.ErrCatchUpTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want ErrCatchUpTimeout wrapping DeadlineExceeded", err)
	}

	// Applied while waiting: returns.
	done := make(chan error, 1)
	go func() { done <- f.model.WaitFor(context.Background(), pos) }()
	f.sync()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// appendOnly appends an event to the store without folding it.
func (f *fixture) appendOnly() eventstore.Position {
	f.t.Helper()
	id := newID()
	b, v, _ := domain.EncodeEvent(domain.PartnerEnrolled{PartnerID: id, Name: "Later", Cloud: domain.CloudPublic})
	mb, _ := domain.EncodeMetadata(domain.Metadata{SchemaVersion: v, RecordedAt: f.at, Actor: user(id, domain.RoleGlobalAdmin), CorrelationID: newID()})
	res, err := f.store.Append(context.Background(), domain.PartnerStream(id), eventstore.NoStream(),
		eventstore.EventData{ID: newID(), Type: domain.TypePartnerEnrolled, Data: b, Metadata: mb})
	if err != nil {
		f.t.Fatal(err)
	}
	return res.Position
}

func TestRunFollowsTheLogAndReadsYourWrites(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m := projections.New(nil)
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- projections.Run(ctx, f.store, m) }()

	// Concurrent readers while Run writes: -race checks the locking.
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				conn, err := m.Customers(auditor, projections.CustomerFilter{}, nil, nil)
				if err != nil {
					t.Error(err)
					return
				}
				for _, e := range conn.Edges {
					for _, s := range m.CustomerSubscriptions(auditor, e.Node.ID) {
						s.Services = append(s.Services, projections.Service{}) // callers own their copies
					}
				}
			}
		}()
	}
	for i := range 50 {
		pos := f.appendOnly()
		wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
		if err := m.WaitFor(wctx, pos); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		wcancel()
		if m.Position() != pos {
			t.Fatalf("position %s, want %s", m.Position(), pos)
		}
	}
	close(stop)
	wg.Wait()
	cancel()
	if err := <-runErr; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run returned %v", err)
	}
}

// WaitForWithin gives up after its timeout without a context deadline,
// ends waits that are applied in time at once, and leaves other waits
// alone when one expires.
func TestWaitForWithin(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.enroll("Contoso")
	pos := f.appendOnly()

	start := time.Now()
	err := f.model.WaitForWithin(context.Background(), pos, 30*time.Millisecond)
	if !errors.Is(err, projections.ErrCatchUpTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want ErrCatchUpTimeout wrapping DeadlineExceeded", err)
	}
	if d := time.Since(start); d < 30*time.Millisecond || d > 5*time.Second {
		t.Fatalf("gave up after %v, want 30ms and a little", d)
	}

	// A long wait and a short one on the same position: the short one
	// expires, the long one is still ended by the fold.
	long := make(chan error, 1)
	go func() { long <- f.model.WaitForWithin(context.Background(), pos, time.Hour) }()
	if err := f.model.WaitForWithin(context.Background(), pos, 10*time.Millisecond); !errors.Is(err, projections.ErrCatchUpTimeout) {
		t.Fatalf("short wait: %v", err)
	}
	select {
	case err := <-long:
		t.Fatalf("the long wait ended with the short one: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	f.sync()
	if err := <-long; err != nil {
		t.Fatalf("long wait, applied: %v", err)
	}

	// The caller's context still ends a wait before its timeout.
	next := f.appendOnly()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := f.model.WaitForWithin(ctx, next, time.Hour); !errors.Is(err, projections.ErrCatchUpTimeout) || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}
