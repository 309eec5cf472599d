package command

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/eventstore"
)

// The one pipeline every mutation runs through (run): check the
// Idempotency-Key; bound the mutation by its deadline; fold the caller's
// tenant and authorize the caller's role and kind of tenant (steps 1 to 3
// of DOMAIN.md's order of checks); only then claim the key in the log
// (claim.go), so that a repeat is authorized like the first request; then
// load, decide and append (execute), retrying once on a conflict, and wait
// for the read models. Each handler says only what is its own: its
// authorization rule, its decision, and the stream it appends to.

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
	// target names the stream the mutation appends to ("" if none yet),
	// where a request that takes over an abandoned Idempotency-Key claim
	// looks for the earlier holder's append. It is known from the input,
	// the caller and c.id, except for a relationship request's attempt,
	// which it reads.
	target func(ctx context.Context, c caller) (string, error)
}

// caller is the authorized caller with its tenant folded: its partner
// (empty when the tenant is not one), and the id a mutation that creates an
// object gives it (chosen when the Idempotency-Key is claimed, so that a
// repeat that repairs an abandoned request appends to the same stream).
type caller struct {
	domain.Caller
	partner *domain.Partner
	id      uuid.UUID
}

// Result is what a mutation produced: the object it returns and the log
// position of its last event (the consistency token names it).
type Result struct {
	ID       uuid.UUID
	Position eventstore.Position
}

// run runs uc for r (see the pipeline above).
func (h *Handlers) run(ctx context.Context, r Request, uc useCase) (uuid.UUID, error) {
	if err := checkIdempotencyKey(r.IdempotencyKey); err != nil {
		return uuid.Nil, err
	}
	ctx, cancel := h.bound(ctx)
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
	res, err := h.idempotent(ctx, r, uc, c)
	if err != nil {
		return uuid.Nil, err
	}
	if r.Recorded != nil && res.Position != (eventstore.Position{}) {
		r.Recorded(res.Position)
	}
	return res.ID, nil
}

// maxIdempotencyKey is the longest Idempotency-Key accepted, in bytes.
const maxIdempotencyKey = 255

// checkIdempotencyKey refuses a key the log could not give back as it
// came: the key is stored in the append's metadata (JSON, which would turn
// bytes that are not UTF-8 into U+FFFD) and looked for again there by a
// repeat that repairs an abandoned claim, so a key of other bytes would
// never match. Keys are
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

// bound returns ctx ending at the mutation's deadline: the caller's (ctx's
// own, the API's request deadline) or the handlers' timeout, whichever
// comes first. A store that hangs must not hang the request with it.
func (h *Handlers) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if h.timeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, h.timeout)
}
