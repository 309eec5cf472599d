package command_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/eventstore"
	"github.com/partnercenter/multichannel/eventstore/sqlite"
	"github.com/partnercenter/multichannel/internal/command"
	"github.com/partnercenter/multichannel/internal/faultstore"
)

// faultWorld is the handlers on a real store (the embedded file, which
// treats a retried append as the store contract says) behind a fault
// injector.
func faultWorld(t *testing.T, opts ...command.Option) (*command.Handlers, *faultstore.Store) {
	t.Helper()
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	fs := faultstore.New(s)
	t.Cleanup(func() { fs.Close() })
	return command.New(fs, nil, nil, nil, opts...), fs
}

func enrollAs(tenant uuid.UUID) command.Request {
	return command.Request{
		Caller:        domain.Actor{UserID: "ga", TenantID: tenant, Role: domain.RoleGlobalAdmin},
		CorrelationID: uuid.Must(uuid.NewV7()),
	}
}

func logLen(t *testing.T, s eventstore.Store) int {
	t.Helper()
	evs, err := s.ReadAll(context.Background(), eventstore.Start, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return len(evs)
}

// The append reached the store but its call failed: the handler retries
// the same append (same ids, same expected revision), which the store
// recognises, so the mutation succeeds and its event is written once.
func TestLostAcknowledgementIsNotDoubled(t *testing.T) {
	t.Parallel()
	h, fs := faultWorld(t)
	fs.LoseAcks(1)
	tenant := uuid.New()
	id, err := h.EnrollPartner(context.Background(), enrollAs(tenant), command.EnrollPartner{Name: "Contoso", Cloud: domain.CloudPublic})
	if err != nil || id != tenant {
		t.Fatalf("enroll after a lost ack: %v, %v", id, err)
	}
	if n := logLen(t, fs); n != 1 {
		t.Fatalf("the log holds %d events, want 1", n)
	}
	if st := fs.Stats(); st.LostAcks != 1 || st.Appends != 2 {
		t.Fatalf("stats = %+v, want one lost ack and one retry", st)
	}
}

// A short outage of the store's write path is ridden out by the retries.
func TestShortOutageIsRetried(t *testing.T) {
	t.Parallel()
	h, fs := faultWorld(t)
	fs.Fail(faultstore.Append, nil)
	go func() {
		time.Sleep(60 * time.Millisecond)
		fs.Heal()
	}()
	if _, err := h.EnrollPartner(context.Background(), enrollAs(uuid.New()), command.EnrollPartner{Name: "Contoso", Cloud: domain.CloudPublic}); err != nil {
		t.Fatalf("enroll across a short outage: %v", err)
	}
	if n := logLen(t, fs); n != 1 {
		t.Fatalf("the log holds %d events, want 1", n)
	}
}

// A longer outage ends in an error wrapping ErrUnavailable, not a refusal,
// after a bounded number of tries.
func TestLongOutageIsUnavailable(t *testing.T) {
	t.Parallel()
	h, fs := faultWorld(t)
	fs.Fail(faultstore.Append, nil)
	_, err := h.EnrollPartner(context.Background(), enrollAs(uuid.New()), command.EnrollPartner{Name: "Contoso", Cloud: domain.CloudPublic})
	var de *domain.Error
	if !errors.Is(err, eventstore.ErrUnavailable) || errors.As(err, &de) {
		t.Fatalf("err = %v, want ErrUnavailable and no domain error", err)
	}
	if st := fs.Stats(); st.Failed != 5 {
		t.Fatalf("%d appends failed, want 5 tries", st.Failed)
	}
}

// A store that hangs fails the mutation at its deadline instead of
// holding the request: the handlers' timeout, or the caller's deadline (the
// API's request deadline), whichever comes first. The wait for a
// concurrent request with the same Idempotency-Key ends there too.
func TestStallEndsAtTheDeadline(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		opts     []command.Option
		deadline time.Duration // the caller's, from now; 0: none
	}{
		{"the handlers' timeout", []command.Option{command.WithTimeout(100 * time.Millisecond)}, 0},
		{"the caller's deadline, no timeout", nil, 100 * time.Millisecond},
		{"the caller's deadline, a later timeout", []command.Option{command.WithTimeout(time.Hour)}, 100 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h, fs := faultWorld(t, tc.opts...)
			fs.Stall(faultstore.All)
			defer fs.Heal()
			r := enrollAs(uuid.New())
			callerCtx := context.Background()
			if tc.deadline > 0 {
				var cancel context.CancelFunc
				callerCtx, cancel = context.WithTimeout(callerCtx, tc.deadline)
				defer cancel()
				r.IdempotencyKey, r.Fingerprint = "k", "f"
			}
			done := make(chan error, 1)
			go func() {
				_, err := h.EnrollPartner(callerCtx, r, command.EnrollPartner{Name: "Contoso", Cloud: domain.CloudPublic})
				done <- err
			}()
			select {
			case err := <-done:
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("err = %v, want the deadline", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("a stalled mutation did not end at its deadline")
			}
		})
	}
}

// handoffLog records what the handlers offer and withdraw.
type handoffLog struct {
	mu                 sync.Mutex
	offered, withdrawn map[uuid.UUID]domain.Event
}

func newHandoffLog() *handoffLog {
	return &handoffLog{offered: map[uuid.UUID]domain.Event{}, withdrawn: map[uuid.UUID]domain.Event{}}
}

func (l *handoffLog) Offer(id uuid.UUID, e domain.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.offered[id] = e
}

func (l *handoffLog) Withdraw(id uuid.UUID) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.withdrawn[id] = l.offered[id]
}

// Every appended event is offered under the id it is stored with; an
// append that fails takes back what it offered.
func TestHandoffOffersAndWithdraws(t *testing.T) {
	t.Parallel()
	log := newHandoffLog()
	h, fs := faultWorld(t, command.WithHandoff(log))
	tenant := uuid.New()
	if _, err := h.EnrollPartner(context.Background(), enrollAs(tenant), command.EnrollPartner{Name: "Contoso", Cloud: domain.CloudPublic}); err != nil {
		t.Fatal(err)
	}
	evs, err := fs.ReadAll(context.Background(), eventstore.Start, 10)
	if err != nil || len(evs) != 1 {
		t.Fatalf("log: %v, %v", evs, err)
	}
	want := domain.PartnerEnrolled{PartnerID: tenant, Name: "Contoso", Cloud: domain.CloudPublic}
	if got := log.offered[evs[0].ID]; got != want || len(log.offered) != 1 || len(log.withdrawn) != 0 {
		t.Fatalf("offered %v (withdrawn %v), want %v under the stored id", log.offered, log.withdrawn, want)
	}

	fs.Fail(faultstore.Append, nil)
	if _, err := h.EnrollPartner(context.Background(), enrollAs(uuid.New()), command.EnrollPartner{Name: "Northwind", Cloud: domain.CloudPublic}); !errors.Is(err, eventstore.ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	if len(log.offered) != 2 || len(log.withdrawn) != 1 {
		t.Fatalf("after a failed append: offered %d, withdrawn %d; want 2 and 1", len(log.offered), len(log.withdrawn))
	}
	for id := range log.withdrawn {
		if id == evs[0].ID {
			t.Fatal("the stored event was withdrawn")
		}
	}
}
