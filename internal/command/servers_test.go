package command_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/eventstore"
	"github.com/partnercenter/multichannel/eventstore/esdb"
	"github.com/partnercenter/multichannel/eventstore/esdb/esdbtest"
	"github.com/partnercenter/multichannel/eventstore/sqlite"
	"github.com/partnercenter/multichannel/internal/command"
)

// sharedStores are the stores two servers can share: the embedded file
// (one writer per file, so both handler sets share the process's store)
// and EventStoreDB's protocol double, with a client connection per server.
func sharedStores(t *testing.T) map[string]func() (eventstore.Store, eventstore.Store) {
	return map[string]func() (eventstore.Store, eventstore.Store){
		"sqlite": func() (eventstore.Store, eventstore.Store) {
			s, err := sqlite.Open(filepath.Join(t.TempDir(), "events.db"), sqlite.WithLinger(0))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s, s
		},
		"esdb": func() (eventstore.Store, eventstore.Store) {
			d := esdbtest.NewServer(t)
			open := func() eventstore.Store {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				s, err := esdb.Open(ctx, d.URL(), esdb.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				return s
			}
			return open(), open()
		},
	}
}

// typesIn lists the domain events of the log as "category/type", in log
// order; the claim streams are left out.
func typesIn(t *testing.T, s eventstore.Store) []string {
	t.Helper()
	var out []string
	after := eventstore.Start
	for {
		evs, err := s.ReadAll(ctx(), after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			cat, _, _ := strings.Cut(e.Stream, "-")
			if cat != "idempotency" {
				out = append(out, cat+"/"+e.Type)
			}
			after = e.Position
		}
		if len(evs) < 1000 {
			return out
		}
	}
}

func countType(types []string, typ string) int {
	n := 0
	for _, x := range types {
		if strings.HasSuffix(x, "/"+typ) {
			n++
		}
	}
	return n
}

func actor(tenant uuid.UUID, role domain.Role) command.Request {
	return command.Request{
		Caller:        domain.Actor{UserID: "user-" + string(role), TenantID: tenant, Role: role},
		CorrelationID: uuid.Must(uuid.NewV7()),
	}
}

// seedPair enrolls a partner and has it onboard a customer.
func seedPair(t *testing.T, h *command.Handlers) (partner, customer uuid.UUID) {
	return seedPairB(t, h)
}

func seedPairB(t testing.TB, h *command.Handlers) (partner, customer uuid.UUID) {
	t.Helper()
	partner, customer = uuid.New(), uuid.New()
	if _, err := h.EnrollPartner(ctx(), actor(partner, domain.RoleGlobalAdmin), command.EnrollPartner{Name: "Contoso", Cloud: domain.CloudPublic}); err != nil {
		t.Fatal(err)
	}
	id := customer.String()
	if _, err := h.OnboardCustomer(ctx(), actor(partner, domain.RoleSalesAgent), command.OnboardCustomer{ID: &id, Name: "Fabrikam", Domain: "fabrikam.example.com", Cloud: domain.CloudPublic}); err != nil {
		t.Fatal(err)
	}
	return partner, customer
}

func purchase(customer uuid.UUID) command.RecordExternalSubscription {
	return command.RecordExternalSubscription{CustomerID: customer.String(), Offer: "Azure plan", BillingModel: domain.UsageBased, Channel: domain.ChannelOpen, Quantity: 1, Services: []string{"VMs"}}
}

// Two servers (two handler sets, no read models between them) on one
// store race the same Idempotency-Key for a mutation that creates an
// object: every answer names one object, and the log holds one.
func TestIdempotencyAcrossServers(t *testing.T) {
	t.Parallel()
	for name, open := range sharedStores(t) {
		t.Run(name, func(t *testing.T) {
			s1, s2 := open()
			servers := []*command.Handlers{command.New(s1, nil, nil, nil), command.New(s2, nil, nil, nil)}
			_, customer := seedPair(t, servers[0])
			const rounds, perServer = 10, 4
			for round := range rounds {
				r := actor(customer, domain.RoleGlobalAdmin)
				r.IdempotencyKey, r.Fingerprint = fmt.Sprintf("key-%d", round), "fp"
				ids := make([]uuid.UUID, 2*perServer)
				errs := make([]error, len(ids))
				var wg sync.WaitGroup
				for i := range ids {
					wg.Go(func() {
						ids[i], errs[i] = servers[i%2].RecordExternalSubscription(ctx(), r, purchase(customer))
					})
				}
				wg.Wait()
				for i := range ids {
					if errs[i] != nil || ids[i] != ids[0] {
						t.Fatalf("round %d, request %d: %s %v (first %s)", round, i, ids[i], errs[i], ids[0])
					}
				}
			}
			if n := countType(typesIn(t, s1), domain.TypeExternalSubscriptionRecorded); n != rounds {
				t.Fatalf("%d subscriptions recorded in %d rounds", n, rounds)
			}
		})
	}
}

// dyingStore is a server that dies at its first subscription append:
// after writing it (the acknowledgement lost) or before.
type dyingStore struct {
	eventstore.Store
	mu         sync.Mutex
	afterWrite bool
	died       bool
}

var errDied = errors.New("the server died")

func (d *dyingStore) Append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	d.mu.Lock()
	die := !d.died && strings.HasPrefix(stream, domain.CategorySubscription+"-")
	d.died = d.died || die
	d.mu.Unlock()
	if !die {
		return d.Store.Append(ctx, stream, expected, events...)
	}
	if d.afterWrite {
		if _, err := d.Store.Append(ctx, stream, expected, events...); err != nil {
			return eventstore.AppendResult{}, err
		}
	}
	return eventstore.AppendResult{}, errDied
}

// A request whose server died between its claim and its append, or after
// its append but before completing the claim, is repaired by a repeat on
// another server once the claim's deadline has passed: one object, the
// repeat answers it, and a further repeat writes nothing.
func TestIdempotencyRepairsAnAbandonedClaim(t *testing.T) {
	t.Parallel()
	for _, afterWrite := range []bool{false, true} {
		t.Run(fmt.Sprintf("after-write=%v", afterWrite), func(t *testing.T) {
			t.Parallel()
			store := newLogStore(t)
			dying := &dyingStore{Store: store, afterWrite: afterWrite}
			first := command.New(dying, nil, nil, nil, command.WithClaimGrace(0))
			other := command.New(store, nil, nil, nil, command.WithClaimGrace(0))
			_, customer := seedPair(t, other)

			r := actor(customer, domain.RoleGlobalAdmin)
			r.IdempotencyKey, r.Fingerprint = "k", "fp"
			// The request's deadline, which the claim's holds until.
			deadCtx, cancel := context.WithTimeout(ctx(), 2*time.Second)
			defer cancel()
			if _, err := first.RecordExternalSubscription(deadCtx, r, purchase(customer)); !errors.Is(err, errDied) {
				t.Fatalf("first: %v", err)
			}
			written := countType(typesIn(t, store), domain.TypeExternalSubscriptionRecorded)
			if want := map[bool]int{false: 0, true: 1}[afterWrite]; written != want {
				t.Fatalf("the dying server wrote %d subscriptions, want %d", written, want)
			}
			// Another fingerprint is still refused while the claim stands.
			wrong := r
			wrong.Fingerprint = "other"
			if _, err := other.RecordExternalSubscription(ctx(), wrong, purchase(customer)); !errors.Is(err, domain.ErrBadUserInput) {
				t.Fatalf("other fingerprint: %v", err)
			}
			id, err := other.RecordExternalSubscription(ctx(), r, purchase(customer))
			if err != nil {
				t.Fatalf("repeat: %v", err)
			}
			types := typesIn(t, store)
			if n := countType(types, domain.TypeExternalSubscriptionRecorded); n != 1 {
				t.Fatalf("%d subscriptions after the repair", n)
			}
			evs, err := store.ReadStream(ctx(), domain.SubscriptionStream(id), eventstore.Forwards, 0, 10)
			if err != nil || len(evs) != 1 {
				t.Fatalf("the answered subscription %s: %d events, %v", id, len(evs), err)
			}
			again, err := other.RecordExternalSubscription(ctx(), r, purchase(customer))
			if err != nil || again != id || !slices.Equal(typesIn(t, store), types) {
				t.Fatalf("second repeat: %s %v (first %s)", again, err, id)
			}
		})
	}
}

// lyingSales answers SellsAnyTo with a fixed value, whatever the log says.
type lyingSales bool

func (l lyingSales) SellsAnyTo(uuid.UUID, uuid.UUID) bool { return bool(l) }

// What the read models say cannot change what is written: the same
// requests, run by handlers given read models that lie both ways (and no
// wait), write the same events; refusals differ at most in their code.
func TestReadModelsCannotChangeWhatIsWritten(t *testing.T) {
	t.Parallel()
	run := func(sales command.SalesIndex) ([]string, []error) {
		store := newLogStore(t)
		h := command.New(store, nil, nil, sales)
		_, customer := seedPair(t, h)
		other, _ := seedPair(t, h)
		var errs []error
		// A partner that does not see the customer records for it: refused.
		_, err := h.RecordExternalSubscription(ctx(), actor(other, domain.RoleGlobalAdmin), purchase(customer))
		errs = append(errs, err)
		// The customer records twice under one key: one object.
		r := actor(customer, domain.RoleGlobalAdmin)
		r.IdempotencyKey, r.Fingerprint = "k", "fp"
		a, err1 := h.RecordExternalSubscription(ctx(), r, purchase(customer))
		b, err2 := h.RecordExternalSubscription(ctx(), r, purchase(customer))
		if err1 != nil || err2 != nil || a != b {
			t.Fatalf("keyed repeat: %s %v, %s %v", a, err1, b, err2)
		}
		return typesIn(t, store), errs
	}
	truthful, errsT := run(nil)
	for _, lie := range []lyingSales{true, false} {
		got, errs := run(lie)
		if !slices.Equal(got, truthful) {
			t.Fatalf("with SellsAnyTo always %v: wrote %v, want %v", bool(lie), got, truthful)
		}
		for i := range errs {
			var de *domain.Error
			if !errors.As(errs[i], &de) || (errsT[i] == nil) != (errs[i] == nil) {
				t.Fatalf("with SellsAnyTo always %v: step %d answered %v, truthful %v", bool(lie), i, errs[i], errsT[i])
			}
		}
	}
}
