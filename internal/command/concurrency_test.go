package command_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/eventstore"
	"github.com/partnercenter/multichannel/internal/command"
	"github.com/partnercenter/multichannel/internal/integrity"
)

// Every event carries the metadata an auditor needs, and each stream's
// events form a hash chain.
func TestMetadataAndHashChain(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.clock.set(t0.Add(1234567 * time.Nanosecond))
	r := w.as(w.c, domain.RoleGlobalAdmin)
	legacy := w.record(w.c, domain.UsageBased, domain.ChannelAdvisor, nil, nil, "A", "B")
	w.relate(w.a, w.c, true)
	w.must(w.h.CreateAzureSubscription(ctx(), w.as(w.a, domain.RoleGlobalAdmin), command.CreateAzureSubscription{
		CustomerID: w.c.String(), LegacySubscriptionID: legacy.String(), Offer: "Azure", LegacyDetails: domain.LegacyDetails{AzureSubscriptionID: "x"},
	}))
	for _, svc := range w.services(legacy) {
		w.must(w.h.CancelLegacyService(ctx(), w.as(w.a, domain.RoleGlobalAdmin), command.CancelLegacyService{LegacySubscriptionID: legacy.String(), ServiceID: ptr(svc.String())}))
	}
	w.must(w.h.CancelLegacyService(ctx(), w.as(w.a, domain.RoleGlobalAdmin), command.CancelLegacyService{LegacySubscriptionID: legacy.String()}))
	r.IdempotencyKey, r.Fingerprint = "key-1", "fp-1"
	w.must(w.h.CancelSubscription(ctx(), r, w.record(w.c, domain.UsageBased, domain.ChannelOpen, nil, nil).String()))

	prev := map[string]string{}
	for _, e := range w.store.all() {
		if err := integrity.Verify(prev[e.Stream], e.Stream, e.Revision, e.Type, e.Data, e.Metadata); err != nil {
			t.Fatalf("%s@%d: %v", e.Stream, e.Revision, err)
		}
		_, prev[e.Stream], _ = integrity.Open(e.Metadata)
		md, err := domain.DecodeMetadata(e.Metadata)
		if err != nil {
			t.Fatal(err)
		}
		v, known := domain.SchemaVersion(e.Type)
		if !known && strings.HasPrefix(e.Stream, "idempotency-") {
			v = 1 // the key's claim, not a domain event
		}
		if md.SchemaVersion != v || md.CausationID == nil || *md.CausationID != md.CorrelationID ||
			md.CorrelationID == uuid.Nil || !md.Actor.Role.Valid() || e.ID.Version() != 7 {
			t.Fatalf("%s@%d: metadata %+v, id %s", e.Stream, e.Revision, md, e.ID)
		}
	}
	if len(prev) < 5 {
		t.Fatalf("only %d streams", len(prev))
	}
	// The last append: recorded at the clock's millisecond, by the caller,
	// with the idempotency key on its first (only) event.
	var last string
	for _, e := range w.store.all() {
		if !strings.HasPrefix(e.Stream, "idempotency-") {
			last = e.Stream
		}
	}
	_, md := w.lastEvent(last)
	if !md.RecordedAt.Equal(t0.Add(time.Millisecond)) || md.RecordedAt.Location() != time.UTC || md.Actor != r.Caller ||
		md.CorrelationID != r.CorrelationID || md.IdempotencyKey != "key-1" || md.IdempotencyFingerprint != "fp-1" {
		t.Fatalf("metadata %+v", md)
	}
	// Read-your-writes: every append was waited for, at its position.
	w.wait.mu.Lock()
	defer w.wait.mu.Unlock()
	var lastPos eventstore.Position
	for _, e := range w.store.all() {
		if !strings.HasPrefix(e.Stream, "idempotency-") {
			lastPos = e.Position
		}
	}
	if len(w.wait.pos) == 0 || w.wait.pos[len(w.wait.pos)-1] != lastPos {
		t.Fatalf("waited for %v, last position %v", w.wait.pos, lastPos)
	}
}

func TestRetryOnceThenConflict(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		conflicts int
		wantErr   error
	}{
		{"one conflict: decided again and appended", 1, nil},
		{"two conflicts: CONFLICT", 2, domain.ErrConflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			sub := w.record(w.c, domain.UsageBased, domain.ChannelOpen, nil, nil)
			w.faulty.mu.Lock()
			w.faulty.conflicts = tt.conflicts
			w.faulty.mu.Unlock()
			before := w.store.count()
			_, err := w.h.CancelSubscription(ctx(), w.as(w.c, domain.RoleGlobalAdmin), sub.String())
			if tt.wantErr == nil && (err != nil || w.store.count() != before+1) {
				t.Fatalf("err %v, %d events", err, w.store.count()-before)
			}
			if tt.wantErr != nil && (!errors.Is(err, tt.wantErr) || w.store.count() != before) {
				t.Fatalf("err %v (want %v), %d events", err, tt.wantErr, w.store.count()-before)
			}
		})
	}
}

// A writer that slips in between load and append: the retry sees its event
// and decides on it (here: the subscription is already cancelled).
func TestRetryDecidesOnFreshState(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	sub := w.record(w.c, domain.UsageBased, domain.ChannelOpen, nil, nil)
	racer := &racingStore{Store: w.faulty, race: func() {
		w.must(w.h.CancelSubscription(ctx(), w.as(w.c, domain.RoleUserAdmin), sub.String()))
	}}
	h := command.New(racer, w.clock.now, nil, nil)
	_, err := h.CancelSubscription(ctx(), w.as(w.c, domain.RoleGlobalAdmin), sub.String())
	if !errors.Is(err, domain.ErrInvalidState) {
		t.Fatalf("err = %v, want INVALID_STATE", err)
	}
}

// racingStore runs race once, just before the first append it is asked for.
type racingStore struct {
	eventstore.Store
	once sync.Once
	race func()
}

func (r *racingStore) Append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	r.once.Do(r.race)
	return r.Store.Append(ctx, stream, expected, events...)
}

func TestStoreUnavailable(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.faulty.mu.Lock()
	w.faulty.unavailable = true
	w.faulty.mu.Unlock()
	_, err := w.h.RequestResellerRelationship(ctx(), w.as(w.b, domain.RoleGlobalAdmin), command.RequestResellerRelationship{CustomerID: w.c.String()})
	if !errors.Is(err, eventstore.ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable in its chain", err)
	}
	var de *domain.Error
	if errors.As(err, &de) {
		t.Fatalf("an outage reads as a refusal: %v", err)
	}
}

// Two requests for one pair at once: one wins, the other CONFLICT. Requests
// by different partners to one customer all succeed.
func TestConcurrentRelationshipRequests(t *testing.T) {
	t.Parallel()
	const n = 8
	t.Run("same pair", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				_, errs[i] = w.h.RequestResellerRelationship(ctx(), w.as(w.b, domain.RoleGlobalAdmin), command.RequestResellerRelationship{CustomerID: w.c.String()})
			})
		}
		wg.Wait()
		wins := 0
		for _, err := range errs {
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, domain.ErrConflict):
				t.Errorf("loser got %v, want CONFLICT", err)
			}
		}
		if wins != 1 {
			t.Fatalf("%d requests won, want 1", wins)
		}
		if _, err := w.store.ReadStream(ctx(), domain.RelationshipStream(domain.RelationshipID(w.b, w.c, 1)), eventstore.Forwards, 0, 1); !errors.Is(err, eventstore.ErrStreamNotFound) {
			t.Fatalf("a second attempt was written: %v", err)
		}
	})
	t.Run("different partners", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t)
		partners := make([]uuid.UUID, n)
		for i := range partners {
			partners[i] = uuid.New()
			w.must(w.h.EnrollPartner(ctx(), w.as(partners[i], domain.RoleGlobalAdmin), command.EnrollPartner{Name: "P", Cloud: domain.CloudPublic}))
		}
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i, p := range partners {
			wg.Go(func() {
				_, errs[i] = w.h.RequestResellerRelationship(ctx(), w.as(p, domain.RoleSalesAgent), command.RequestResellerRelationship{CustomerID: w.c.String()})
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("partner %d: %v", i, err)
			}
		}
	})
	t.Run("one replacement per legacy and partner", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t)
		legacy := w.record(w.c, domain.UsageBased, domain.ChannelOpen, nil, nil, "VMs")
		w.relate(w.a, w.c, true)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				_, errs[i] = w.h.CreateAzureSubscription(ctx(), w.as(w.a, domain.RoleGlobalAdmin), command.CreateAzureSubscription{
					CustomerID: w.c.String(), LegacySubscriptionID: legacy.String(), Offer: "Azure", LegacyDetails: domain.LegacyDetails{AzureSubscriptionID: "x"},
				})
			})
		}
		wg.Wait()
		wins := 0
		for _, err := range errs {
			if err == nil {
				wins++
			} else if !errors.Is(err, domain.ErrConflict) {
				t.Errorf("loser got %v", err)
			}
		}
		if wins != 1 {
			t.Fatalf("%d replacements, want 1", wins)
		}
	})
}

func TestIdempotency(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	r := w.as(w.a, domain.RoleGlobalAdmin)
	r.IdempotencyKey, r.Fingerprint = "k1", "fp"
	in := command.OnboardCustomer{Name: "Tailspin", Domain: "tailspin.example.com", Cloud: domain.CloudPublic}
	first, err := w.h.OnboardCustomer(ctx(), r, in)
	if err != nil {
		t.Fatal(err)
	}
	count := w.store.count()
	// The same request again: the same object, nothing appended.
	r.CorrelationID = uuid.Must(uuid.NewV7())
	again, err := w.h.OnboardCustomer(ctx(), r, in)
	if err != nil || again != first || w.store.count() != count {
		t.Fatalf("repeat: %s %v (first %s), %d events", again, err, first, w.store.count()-count)
	}
	// The key with another request: BAD_USER_INPUT.
	other := r
	other.Fingerprint = "fp2"
	if _, err := w.h.OnboardCustomer(ctx(), other, in); !errors.Is(err, domain.ErrBadUserInput) {
		t.Fatalf("other fingerprint: %v", err)
	}
	// The key is scoped to the user: another user may use it.
	colleague := w.as(w.a, domain.RoleSalesAgent)
	colleague.IdempotencyKey, colleague.Fingerprint = "k1", "fp2"
	if id, err := w.h.OnboardCustomer(ctx(), colleague, in); err != nil || id == first {
		t.Fatalf("colleague: %s %v", id, err)
	}
	// A refused attempt records nothing, so a repeat runs again.
	cust := w.as(w.c, domain.RoleGlobalAdmin)
	cust.IdempotencyKey, cust.Fingerprint = "k2", "fp"
	sub := w.record(w.c, domain.UsageBased, domain.ChannelOpen, nil, nil)
	w.faulty.mu.Lock()
	w.faulty.conflicts = 2
	w.faulty.mu.Unlock()
	if _, err := w.h.CancelSubscription(ctx(), cust, sub.String()); !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("injected conflicts: %v", err)
	}
	if id, err := w.h.CancelSubscription(ctx(), cust, sub.String()); err != nil || id != sub {
		t.Fatalf("repeat after refusal: %s %v", id, err)
	}
	// Concurrent duplicates: one append, every caller the same answer.
	dup := w.as(w.b, domain.RoleGlobalAdmin)
	dup.IdempotencyKey, dup.Fingerprint = "k3", "fp"
	count = w.store.count()
	ids := make([]uuid.UUID, 8)
	errs := make([]error, 8)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Go(func() {
			ids[i], errs[i] = w.h.RequestResellerRelationship(ctx(), dup, command.RequestResellerRelationship{CustomerID: w.c.String()})
		})
	}
	wg.Wait()
	for i := range ids {
		if errs[i] != nil || ids[i] != domain.RelationshipID(w.b, w.c, 0) {
			t.Fatalf("duplicate %d: %s %v", i, ids[i], errs[i])
		}
	}
	if w.store.count() != count+1 {
		t.Fatalf("concurrent duplicates appended %d events", w.store.count()-count)
	}
}

// A duplicate waiting for the key gives up with its context.
func TestIdempotencyWaitHonoursContext(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	entered, release := make(chan struct{}), make(chan struct{})
	blocking := &blockingWaiter{entered: entered, release: release}
	h := command.New(w.faulty, w.clock.now, blocking, nil)
	r := w.as(w.b, domain.RoleGlobalAdmin)
	r.IdempotencyKey, r.Fingerprint = "k", "fp"
	done := make(chan error, 1)
	go func() {
		_, err := h.RequestResellerRelationship(ctx(), r, command.RequestResellerRelationship{CustomerID: w.c.String()})
		done <- err
	}()
	<-entered
	c, cancel := context.WithCancel(ctx())
	cancel()
	if _, err := h.RequestResellerRelationship(c, r, command.RequestResellerRelationship{CustomerID: w.c.String()}); !errors.Is(err, context.Canceled) {
		t.Fatalf("waiting duplicate: %v", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

type blockingWaiter struct {
	once             sync.Once
	entered, release chan struct{}
}

func (b *blockingWaiter) WaitFor(context.Context, eventstore.Position) error {
	b.once.Do(func() { close(b.entered); <-b.release })
	return nil
}

func BenchmarkRequestAndAccept(b *testing.B) {
	store := newLogStore(b)
	h := command.New(store, time.Now, nil, nil)
	partner := uuid.New()
	as := func(tenant uuid.UUID, role domain.Role) command.Request {
		return command.Request{Caller: domain.Actor{UserID: "u", TenantID: tenant, Role: role}, CorrelationID: uuid.Must(uuid.NewV7())}
	}
	if _, err := h.EnrollPartner(ctx(), as(partner, domain.RoleGlobalAdmin), command.EnrollPartner{Name: "P", Cloud: domain.CloudPublic}); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	for b.Loop() {
		c, err := h.OnboardCustomer(ctx(), as(partner, domain.RoleGlobalAdmin), command.OnboardCustomer{Name: "C", Domain: "c.example.com", Cloud: domain.CloudPublic})
		if err != nil {
			b.Fatal(err)
		}
		id, err := h.RequestResellerRelationship(ctx(), as(uuid.New(), domain.RoleGlobalAdmin), command.RequestResellerRelationship{CustomerID: c.String()})
		if err == nil || !errors.Is(err, domain.ErrForbidden) {
			b.Fatalf("unenrolled partner: %s %v", id, err)
		}
		id, err = h.RequestResellerRelationship(ctx(), as(partner, domain.RoleGlobalAdmin), command.RequestResellerRelationship{CustomerID: c.String()})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := h.AcceptResellerRelationship(ctx(), as(c, domain.RoleGlobalAdmin), id.String()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(3*b.N)/time.Since(start).Seconds(), "mutations/s")
}

// A key the log could not give back as it came (bytes that are not
// printable ASCII), or one too long, is refused before anything is
// written.
func TestIdempotencyKeyIsChecked(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	in := command.OnboardCustomer{Name: "Tailspin", Domain: "tailspin.example.com", Cloud: domain.CloudPublic}
	for _, key := range []string{"caf\xe9", "tab\there", strings.Repeat("k", 256)} {
		r := w.as(w.a, domain.RoleGlobalAdmin)
		r.IdempotencyKey, r.Fingerprint = key, "fp"
		count := w.store.count()
		if _, err := w.h.OnboardCustomer(ctx(), r, in); !errors.Is(err, domain.ErrBadUserInput) || w.store.count() != count {
			t.Errorf("key %q: %v, %d events written; want BAD_USER_INPUT and none", key, err, w.store.count()-count)
		}
	}
	r := w.as(w.a, domain.RoleGlobalAdmin)
	r.IdempotencyKey, r.Fingerprint = "0f8e2b1c-9d7a-4c3b-8e6f-5a4b3c2d1e0f "+strings.Repeat("k", 218), "fp"
	if _, err := w.h.OnboardCustomer(ctx(), r, in); err != nil {
		t.Errorf("a 255-byte printable key: %v", err)
	}
}

// A repeat of an idempotent request is authorized like the first: the same
// user (sub and tenant) with the same key, now in a role that may not act,
// is FORBIDDEN, not answered the earlier object.
func TestIdempotentRepeatIsAuthorized(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	first := w.as(w.a, domain.RoleGlobalAdmin)
	first.IdempotencyKey, first.Fingerprint = "k", "fp"
	in := command.OnboardCustomer{Name: "Tailspin", Domain: "tailspin.example.com", Cloud: domain.CloudPublic}
	w.must(w.h.OnboardCustomer(ctx(), first, in))
	for _, role := range []domain.Role{domain.RoleAuditor, domain.RoleBillingAdmin} {
		again := first
		again.Caller.Role = role
		again.CorrelationID = uuid.Must(uuid.NewV7())
		if id, err := w.h.OnboardCustomer(ctx(), again, in); !errors.Is(err, domain.ErrForbidden) {
			t.Errorf("repeat as %s: %s, %v; want FORBIDDEN", role, id, err)
		}
	}
}
