package command_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/eventstore"
	"github.com/partnercenter/multichannel/internal/command"
)

// A refused mutation with an Idempotency-Key writes nothing, in any
// stream (the key's claim stream included), so that a repeat with the
// same key and a valid request then runs and writes.
func TestRefusedKeyedMutationWritesNothing(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	cancelled := w.record(w.c, domain.UsageBased, domain.ChannelOpen, nil, nil)
	w.must(w.h.CancelSubscription(ctx(), w.as(w.c, domain.RoleGlobalAdmin), cancelled.String()))
	live := w.record(w.c, domain.UsageBased, domain.ChannelOpen, nil, nil)
	other := uuid.New()
	w.onboard(other, false)

	tests := []struct {
		name    string
		refused func(command.Request) (uuid.UUID, error)
		want    error
		valid   func(command.Request) (uuid.UUID, error)
		tenant  uuid.UUID
	}{
		{
			name:   "INVALID_STATE",
			tenant: w.c,
			refused: func(r command.Request) (uuid.UUID, error) {
				return w.h.CancelSubscription(ctx(), r, cancelled.String())
			},
			want:  domain.ErrInvalidState,
			valid: func(r command.Request) (uuid.UUID, error) { return w.h.CancelSubscription(ctx(), r, live.String()) },
		},
		{
			name:    "NOT_FOUND",
			tenant:  w.c,
			refused: func(r command.Request) (uuid.UUID, error) { return w.h.CancelSubscription(ctx(), r, uuid.NewString()) },
			want:    domain.ErrNotFound,
			valid: func(r command.Request) (uuid.UUID, error) {
				return w.h.RecordExternalSubscription(ctx(), r, purchase(w.c))
			},
		},
		{
			name:   "CLOUD_MISMATCH",
			tenant: w.g,
			refused: func(r command.Request) (uuid.UUID, error) {
				return w.h.RequestResellerRelationship(ctx(), r, command.RequestResellerRelationship{CustomerID: w.c.String()})
			},
			want: domain.ErrCloudMismatch,
			valid: func(r command.Request) (uuid.UUID, error) {
				return w.h.OnboardCustomer(ctx(), r, command.OnboardCustomer{Name: "Agency", Domain: "agency.example.gov", Cloud: domain.CloudUSGovernment})
			},
		},
		{
			name:   "CONFLICT",
			tenant: w.a,
			refused: func(r command.Request) (uuid.UUID, error) {
				// A onboarded the customer: a second onboarding of its id.
				id := other.String()
				return w.h.OnboardCustomer(ctx(), r, command.OnboardCustomer{ID: &id, Name: "Again", Domain: "again.example.com", Cloud: domain.CloudPublic})
			},
			want: domain.ErrConflict,
			valid: func(r command.Request) (uuid.UUID, error) {
				return w.h.OnboardCustomer(ctx(), r, command.OnboardCustomer{Name: "New", Domain: "new.example.com", Cloud: domain.CloudPublic})
			},
		},
	}
	for _, tt := range tests {
		r := w.as(tt.tenant, domain.RoleGlobalAdmin)
		r.IdempotencyKey, r.Fingerprint = "key-"+tt.name, "refused"
		before := len(w.store.all())
		if _, err := tt.refused(r); !errors.Is(err, tt.want) {
			t.Fatalf("%s: %v, want %v", tt.name, err, tt.want)
		}
		if after := len(w.store.all()); after != before {
			t.Fatalf("%s: refused, but %d events written (claim streams included)", tt.name, after-before)
		}
		// The same refused request again is decided again, not answered
		// from a record of the refusal.
		if _, err := tt.refused(r); !errors.Is(err, tt.want) {
			t.Fatalf("%s, again: %v, want %v", tt.name, err, tt.want)
		}
		// The key with a valid request: it runs.
		valid := r
		valid.CorrelationID, valid.Fingerprint = uuid.Must(uuid.NewV7()), "valid"
		domainBefore := w.store.count()
		id, err := tt.valid(valid)
		if err != nil || w.store.count() == domainBefore {
			t.Fatalf("%s: the valid request after the refusal: %s %v, %d events", tt.name, id, err, w.store.count()-domainBefore)
		}
	}
}

// A keyed mutation costs two appends: its claim and its own. A repeat
// finds the result in the target stream and appends nothing.
func TestKeyedMutationAppendsClaimAndEvents(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	r := w.as(w.c, domain.RoleGlobalAdmin)
	r.IdempotencyKey, r.Fingerprint = "k", "fp"
	before := w.store.all()
	id, err := w.h.RecordExternalSubscription(ctx(), r, purchase(w.c))
	if err != nil {
		t.Fatal(err)
	}
	added := w.store.all()[len(before):]
	var claims, events int
	for _, e := range added {
		if strings.HasPrefix(e.Stream, "idempotency-") {
			claims++
		} else {
			events++
		}
	}
	if claims != 1 || events != 1 {
		t.Fatalf("a keyed mutation wrote %d claim events and %d domain events, want 1 and 1", claims, events)
	}
	n := len(w.store.all())
	again := r
	again.CorrelationID = uuid.Must(uuid.NewV7())
	if got, err := w.h.RecordExternalSubscription(ctx(), again, purchase(w.c)); err != nil || got != id || len(w.store.all()) != n {
		t.Fatalf("repeat: %s %v (first %s), %d events", got, err, id, len(w.store.all())-n)
	}
}

// afterClaimRead runs then once, right after the first read of a claim
// stream, before the reader goes on.
type afterClaimRead struct {
	eventstore.Store
	once sync.Once
	then func()
}

func (a *afterClaimRead) ReadStream(ctx context.Context, stream string, dir eventstore.Direction, from uint64, max int) ([]eventstore.RecordedEvent, error) {
	evs, err := a.Store.ReadStream(ctx, stream, dir, from, max)
	if strings.HasPrefix(stream, "idempotency-") {
		a.once.Do(a.then)
	}
	return evs, err
}

// A duplicate that read the claim stream before the first request claimed
// the key, and decided after its append (and so would refuse it as a
// duplicate, CONFLICT), answers the first request's object.
func TestDuplicateDecidingAfterTheFirstsAppendAnswersIt(t *testing.T) {
	t.Parallel()
	store := newLogStore(t)
	first := command.New(store, nil, nil, nil)
	partner, _ := seedPair(t, first)
	_, customer := seedPair(t, first)
	r := actor(partner, domain.RoleGlobalAdmin)
	r.IdempotencyKey, r.Fingerprint = "k", "fp"
	in := command.RequestResellerRelationship{CustomerID: customer.String()}
	var firstID uuid.UUID
	var firstErr error
	dup := command.New(&afterClaimRead{Store: store, then: func() {
		firstID, firstErr = first.RequestResellerRelationship(ctx(), r, in)
	}}, nil, nil, nil)
	id, err := dup.RequestResellerRelationship(ctx(), r, in)
	if firstErr != nil || err != nil || id != firstID {
		t.Fatalf("first %s %v, duplicate %s %v", firstID, firstErr, id, err)
	}
	if n := countType(typesIn(t, store), domain.TypeRelationshipRequested); n != 1 {
		t.Fatalf("%d requests recorded", n)
	}
}
