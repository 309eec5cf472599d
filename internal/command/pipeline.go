package command

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
)

// The one pipeline every mutation runs through (run): check the
// Idempotency-Key; bound the mutation by its deadline; fold the caller's
// tenant and authorize the caller's role and kind of tenant (steps 1 to 3
// of DOMAIN.md's order of checks); only then look the key up, so that a
// repeat is authorized like the first request; then load, decide and
// append (execute), retrying once on a conflict, and wait for the read
// models. Each handler says only what is its own: its authorization rule
// and its decision.

// useCase is one mutation as run handles it.
type useCase struct {
	// actorOnly: authorize sees the caller's token only; the tenant's
	// streams are not folded (enrolling a partner, where the tenant's
	// partner stream is the decision's own, and the system's sweep).
	actorOnly bool
	// authorize checks the caller before anything is looked up (nil:
	// anyone).
	authorize func(domain.Caller) error
	// decide loads what the mutation needs and decides it at now; on a
	// conflict it runs again on fresh state.
	decide func(ctx context.Context, c caller, now time.Time) (decision, error)
}

// caller is the authorized caller with its tenant folded: its partner
// (empty when the tenant is not one).
type caller struct {
	domain.Caller
	partner *domain.Partner
}

// run runs uc for r (see the pipeline above).
func (h *Handlers) run(ctx context.Context, r Request, uc useCase) (uuid.UUID, error) {
	if err := checkIdempotencyKey(r.IdempotencyKey); err != nil {
		return uuid.Nil, err
	}
	ctx, cancel := h.bound(ctx, r)
	defer cancel()
	c := caller{Caller: domain.Caller{Actor: r.Caller}, partner: new(domain.Partner)}
	if !uc.actorOnly {
		var err error
		if c.Caller, c.partner, err = h.caller(ctx, r.Caller); err != nil {
			return uuid.Nil, err
		}
	}
	if uc.authorize != nil {
		if err := uc.authorize(c.Caller); err != nil {
			return uuid.Nil, err
		}
	}
	return h.idempotent(ctx, r, func(ctx context.Context) (uuid.UUID, error) {
		return h.execute(ctx, r, func(ctx context.Context, now time.Time) (decision, error) {
			return uc.decide(ctx, c, now)
		})
	})
}

// idempotent runs run once per (tenant, user, key): a repeat with the same
// fingerprint answers the earlier result and appends nothing; one with
// another fingerprint is BAD_USER_INPUT. Concurrent duplicates in this
// process queue on the key's lock, held across lookup, append and wait, so
// the second finds the first's append in the index.
//
// ctx is bounded by the mutation's deadline already (see run), which the
// wait for a concurrent duplicate honours too.
func (h *Handlers) idempotent(ctx context.Context, r Request, run func(ctx context.Context) (uuid.UUID, error)) (uuid.UUID, error) {
	if r.IdempotencyKey == "" {
		return run(ctx)
	}
	release, err := h.keys.acquire(ctx, r.Caller.TenantID.String()+"\x00"+r.Caller.UserID+"\x00"+r.IdempotencyKey)
	if err != nil {
		return uuid.Nil, err
	}
	defer release()
	if h.idem != nil {
		if fp, id, found := h.idem.LookupIdempotency(r.Caller.TenantID, r.Caller.UserID, r.IdempotencyKey); found {
			if fp != r.Fingerprint {
				return uuid.Nil, domain.Errorf(domain.CodeBadUserInput, "the Idempotency-Key was used for a different request")
			}
			return id, nil
		}
	}
	return run(ctx)
}

// maxIdempotencyKey is the longest Idempotency-Key accepted, in bytes.
const maxIdempotencyKey = 255

// checkIdempotencyKey refuses a key the log could not give back as it
// came: the key is stored in the append's metadata (JSON, which would turn
// bytes that are not UTF-8 into U+FFFD) and found again by the read
// models, so a key of other bytes would never match its repeat. Keys are
// printable ASCII, as the header's specification's examples (UUIDs) are,
// and bounded, since each is kept with its append.
func checkIdempotencyKey(k string) error {
	if len(k) > maxIdempotencyKey {
		return domain.Errorf(domain.CodeBadUserInput, "the Idempotency-Key is longer than %d characters", maxIdempotencyKey)
	}
	for i := 0; i < len(k); i++ {
		if c := k[i]; c < 0x20 || c > 0x7e {
			return domain.Errorf(domain.CodeBadUserInput, "the Idempotency-Key may hold only printable ASCII characters")
		}
	}
	return nil
}

// bound returns ctx ending at the mutation's deadline: the caller's
// (r.Deadline) or the handlers' timeout, whichever comes first. A store
// that hangs must not hang the request with it.
func (h *Handlers) bound(ctx context.Context, r Request) (context.Context, context.CancelFunc) {
	deadline := r.Deadline
	if h.timeout > 0 {
		if t := time.Now().Add(h.timeout); deadline.IsZero() || t.Before(deadline) {
			deadline = t
		}
	}
	if deadline.IsZero() {
		return ctx, func() {}
	}
	return context.WithDeadline(ctx, deadline)
}

// keyLocks serialises the requests that share an idempotency key.
type keyLocks struct {
	mu sync.Mutex
	m  map[string]*keyLock
}

type keyLock struct {
	ch   chan struct{} // holds a token while locked
	refs int           // holders and waiters; the entry goes at 0
}

// acquire locks key, giving up when ctx ends.
func (k *keyLocks) acquire(ctx context.Context, key string) (release func(), err error) {
	k.mu.Lock()
	l := k.m[key]
	if l == nil {
		l = &keyLock{ch: make(chan struct{}, 1)}
		k.m[key] = l
	}
	l.refs++
	k.mu.Unlock()
	drop := func() {
		k.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(k.m, key)
		}
		k.mu.Unlock()
	}
	select {
	case l.ch <- struct{}{}:
		return func() { <-l.ch; drop() }, nil
	case <-ctx.Done():
		drop()
		return nil, fmt.Errorf("command: waiting for a concurrent request with the same Idempotency-Key: %w", ctx.Err())
	}
}
