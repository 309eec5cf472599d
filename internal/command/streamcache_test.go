package command_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/eventstore"
	"github.com/partnercenter/multichannel/internal/command"
)

// countingStore counts the stream reads that reach the store.
type countingStore struct {
	eventstore.Store
	reads atomic.Int64
}

func (c *countingStore) ReadStream(ctx context.Context, stream string, dir eventstore.Direction, from uint64, max int) ([]eventstore.RecordedEvent, error) {
	c.reads.Add(1)
	return c.Store.ReadStream(ctx, stream, dir, from, max)
}

// A mutation that needs only streams the handlers have read or written
// before reads none of them from the store; without the cache, each
// recording reads the caller's partner stream (it has none) and the
// customer's stream.
func TestStreamCacheSparesReads(t *testing.T) {
	for _, tc := range []struct {
		name      string
		opts      []command.Option
		wantReads int64
	}{
		{"cached", []command.Option{command.WithStreamCache(100)}, 0},
		{"uncached", nil, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			store := &countingStore{Store: w.store}
			w.h = command.New(store, w.clock.now, w.wait, nil, tc.opts...)
			w.record(w.c, domain.UsageBased, domain.ChannelMicrosoftDirect, nil, nil) // warms the cache
			before := store.reads.Load()
			w.record(w.c, domain.UsageBased, domain.ChannelMicrosoftDirect, nil, nil)
			if got := store.reads.Load() - before; got != tc.wantReads {
				t.Fatalf("the second recording read %d streams, want %d", got, tc.wantReads)
			}
		})
	}
}

// An entry that lags the store (another writer appended behind this
// process's back, which the cache's contract excludes but a bug could
// cause) cannot overwrite: the append carries the entry's revision, the
// store refuses it, the entry goes, and the retry decides on the store's
// state. Here the retry sees the request accepted, so declining it is
// INVALID_STATE, neither a success nor CONFLICT.
func TestStreamCacheStaleEntryIsCaught(t *testing.T) {
	w := newWorld(t)
	cached := w.h // newWorld's handlers cache streams
	other := command.New(w.store, w.clock.now, w.wait, nil)

	id := w.must(cached.RequestResellerRelationship(ctx(), w.as(w.a, domain.RoleGlobalAdmin), command.RequestResellerRelationship{CustomerID: w.c.String()}))
	w.must(other.AcceptResellerRelationship(ctx(), w.as(w.c, domain.RoleGlobalAdmin), id.String()))

	_, err := cached.DeclineResellerRelationship(ctx(), w.as(w.c, domain.RoleGlobalAdmin), id.String())
	if !errors.Is(err, domain.ErrInvalidState) {
		t.Fatalf("declining an accepted request through a stale entry: %v, want INVALID_STATE", err)
	}
	// The entry now follows the store: terminating the accepted
	// relationship works first time.
	w.must(cached.TerminateResellerRelationship(ctx(), w.as(w.a, domain.RoleGlobalAdmin), id.String()))
	ev, _ := w.lastEvent(domain.RelationshipStream(id))
	if _, ok := ev.(domain.RelationshipTerminated); !ok {
		t.Fatalf("last event %T, want RelationshipTerminated", ev)
	}
}

// Appends through the cache extend the cached stream with the events as a
// read decodes them: folding the stream from the cache and from the store
// decides alike, step after step on one relationship.
func TestStreamCacheFollowsAppends(t *testing.T) {
	w := newWorld(t)
	id := w.relate(w.a, w.c, true) // requested and accepted through the cache
	// Stale-free: every later decision on the stream succeeds or refuses
	// as it would on the store.
	if _, err := w.h.AcceptResellerRelationship(ctx(), w.as(w.c, domain.RoleGlobalAdmin), id.String()); !errors.Is(err, domain.ErrInvalidState) {
		t.Fatalf("accepting twice: %v, want INVALID_STATE", err)
	}
	w.must(w.h.TerminateResellerRelationship(ctx(), w.as(w.a, domain.RoleGlobalAdmin), id.String()))
	uncached := command.New(w.store, w.clock.now, w.wait, nil)
	for name, h := range map[string]*command.Handlers{"cached": w.h, "uncached": uncached} {
		if _, err := h.TerminateResellerRelationship(ctx(), w.as(w.a, domain.RoleGlobalAdmin), id.String()); !errors.Is(err, domain.ErrInvalidState) {
			t.Fatalf("%s: terminating twice: %v, want INVALID_STATE", name, err)
		}
	}
}
