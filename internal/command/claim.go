package command

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/eventstore"
	"github.com/partnercenter/multichannel/internal/integrity"
)

// Idempotency is kept in the log, so that it holds whichever server a
// repeat reaches and across restarts: each (tenant, user, key) has a claim
// stream, idempotency-<uuidv5 of the three>, appended with an expected
// revision before the mutation's own append. Of two servers claiming a key
// at once, the store lets exactly one append; the other reads the claim.
//
// The claim stream's events (not domain facts; the read models skip the
// category, and the events are sealed like every other so that the log
// still verifies):
//
//   - IdempotencyKeyClaimed: the fingerprint, the id the request creates
//     (a UUIDv7 chosen here and used by mutations that make a new object),
//     and the instant until which the claimant may still be running (its
//     mutation deadline).
//   - IdempotencyKeyCompleted: the result's id and the log position of the
//     mutation's last event. A repeat answers it and appends nothing.
//   - IdempotencyKeyReleased: the mutation was refused and wrote nothing,
//     so a repeat runs again (and, as for a key never used, may carry
//     another request: a refused attempt records nothing).
//
// A repeat that finds a live claim with its fingerprint waits, polling the
// claim stream with backoff until its own deadline. A claim whose holder
// is past its deadline (it crashed, or lost the store) is taken over by
// appending a new claim after it (same chosen id); the taker first looks
// for the key in the mutation's target stream, where the first event of
// the mutation's append carries it: if the first holder appended before it
// died, the taker completes the claim with that append instead of making a
// second one. An append landing after that look still cannot make a second
// object: it was made with an expected revision (NoStream on the chosen or
// derived id, or the exact revision of the object changed), so the taker's
// own append conflicts, and it looks again.

// categoryIdempotency names the claim streams.
const categoryIdempotency = "idempotency"

var claimNamespace = uuid.MustParse("5b3f0c2e-6a1d-4e8b-9c47-2d8e1f6a0b35")

// claimStream is the claim stream of (tenant, user, key).
func claimStream(tenant uuid.UUID, user, key string) string {
	b := make([]byte, 0, 16+len(user)+len(key)+2)
	b = append(b, tenant[:]...)
	b = append(b, user...)
	b = append(b, 0)
	b = append(b, key...)
	return categoryIdempotency + "-" + uuid.NewSHA1(claimNamespace, b).String()
}

// Claim event types.
const (
	typeKeyClaimed   = "IdempotencyKeyClaimed"
	typeKeyCompleted = "IdempotencyKeyCompleted"
	typeKeyReleased  = "IdempotencyKeyReleased"
)

type keyClaimed struct {
	Fingerprint string    `json:"fingerprint"`
	ID          uuid.UUID `json:"id"`
	Until       time.Time `json:"until"`
}

type keyCompleted struct {
	Result   uuid.UUID `json:"result"`
	Position string    `json:"position"`
}

type keyReleased struct {
	Code domain.Code `json:"code,omitempty"`
}

// Claim timing. claimLease is how long a claim made without a deadline
// stays live; the grace (DefaultClaimGrace, WithClaimGrace) is added to
// every claim's deadline before another server takes it over, for the
// clocks of two servers to differ. Wall time (time.Now) is used, not the
// handlers' clock, which tests and demos move.
const (
	claimLease      = 30 * time.Second
	claimPollFirst  = 5 * time.Millisecond
	claimPollMax    = 200 * time.Millisecond
	claimReadWindow = 64
)

// claimState is a claim stream folded.
type claimState struct {
	name     string
	version  uint64 // events read: the next revision
	lastHash string
	status   string // "", typeKeyClaimed, typeKeyCompleted, typeKeyReleased
	claimed  keyClaimed
	done     keyCompleted
}

func (c claimState) expected() eventstore.ExpectedRevision {
	if c.version == 0 {
		return eventstore.NoStream()
	}
	return eventstore.Exact(c.version - 1)
}

// readClaim folds the claim stream from the store (never from a cache or
// the read models: another server may have written it a moment ago).
func (h *Handlers) readClaim(ctx context.Context, name string) (claimState, error) {
	c := claimState{name: name}
	for {
		evs, err := h.store.ReadStream(ctx, name, eventstore.Forwards, c.version, claimReadWindow)
		if errors.Is(err, eventstore.ErrStreamNotFound) {
			return c, nil
		}
		if err != nil {
			return c, fmt.Errorf("command: read %s: %w", name, err)
		}
		for _, re := range evs {
			md, err := domain.DecodeMetadata(re.Metadata)
			if err != nil {
				return c, fmt.Errorf("command: %s@%d: %w", name, re.Revision, err)
			}
			switch re.Type {
			case typeKeyClaimed:
				err = json.Unmarshal(re.Data, &c.claimed)
			case typeKeyCompleted:
				err = json.Unmarshal(re.Data, &c.done)
			case typeKeyReleased:
			default:
				err = fmt.Errorf("unknown claim event %q", re.Type)
			}
			if err != nil {
				return c, fmt.Errorf("command: %s@%d: %w", name, re.Revision, err)
			}
			c.status, c.version, c.lastHash = re.Type, re.Revision+1, md.Hash
		}
		if len(evs) < claimReadWindow {
			return c, nil
		}
	}
}

// appendClaim appends one claim event after c and returns the stream as
// it is after it; ErrWrongExpectedRevision when another server got there
// first.
func (h *Handlers) appendClaim(ctx context.Context, r Request, c claimState, typ string, data any) (claimState, error) {
	b, err := json.Marshal(data)
	if err != nil {
		return c, fmt.Errorf("command: encode %s: %w", typ, err)
	}
	causation := r.CorrelationID
	md, err := domain.EncodeMetadata(domain.Metadata{
		SchemaVersion: 1, RecordedAt: domain.AtAPIPrecision(time.Now()),
		Actor: r.Caller, CorrelationID: r.CorrelationID, CausationID: &causation,
	})
	if err != nil {
		return c, fmt.Errorf("command: encode metadata: %w", err)
	}
	sealed, hash := integrity.Seal(c.lastHash, c.name, c.version, typ, b, md)
	id, err := uuid.NewV7()
	if err != nil {
		return c, fmt.Errorf("command: event id: %w", err)
	}
	if _, err := h.appendRetrying(ctx, c.name, c.expected(), []eventstore.EventData{{ID: id, Type: typ, Data: b, Metadata: sealed}}); err != nil {
		return c, fmt.Errorf("command: append to %s: %w", c.name, err)
	}
	c.version, c.lastHash, c.status = c.version+1, hash, typ
	return c, nil
}

// claim is what idempotent learned of the key before the mutation runs.
type claim struct {
	state claimState // after our own claim event
	// repair: an earlier holder may have appended; look for the key in the
	// target stream before deciding.
	repair bool
}

// errKeyReused is the answer to the key sent with another request.
func errKeyReused() error {
	return domain.Errorf(domain.CodeBadUserInput, "the Idempotency-Key was used for a different request")
}

// idempotent runs run once per (tenant, user, key) across every server on
// the store (see the top of this file). A repeat with the same fingerprint
// answers the first's result (waiting for the read models to include it)
// and appends nothing; one with another fingerprint is BAD_USER_INPUT.
func (h *Handlers) idempotent(ctx context.Context, r Request, uc useCase, c caller) (Result, error) {
	if r.IdempotencyKey == "" {
		id, err := newID()
		if err != nil {
			return Result{}, err
		}
		c.id = id
		return h.execute(ctx, r, uc, c, nil)
	}
	name := claimStream(r.Caller.TenantID, r.Caller.UserID, r.IdempotencyKey)
	poll := claimPollFirst
	for {
		st, err := h.readClaim(ctx, name)
		if err != nil {
			return Result{}, err
		}
		next := keyClaimed{Fingerprint: r.Fingerprint}
		repair := false
		switch st.status {
		case typeKeyCompleted:
			if st.claimed.Fingerprint != r.Fingerprint {
				return Result{}, errKeyReused()
			}
			return h.answerCompleted(ctx, st.done)
		case typeKeyClaimed:
			if st.claimed.Fingerprint != r.Fingerprint {
				return Result{}, errKeyReused()
			}
			if time.Now().Before(st.claimed.Until.Add(h.claimGrace)) {
				// In flight, here or on another server: wait for it.
				t := time.NewTimer(poll)
				select {
				case <-t.C:
				case <-ctx.Done():
					t.Stop()
					return Result{}, fmt.Errorf("command: waiting for a concurrent request with the same Idempotency-Key: %w", ctx.Err())
				}
				poll = min(2*poll, claimPollMax)
				continue
			}
			// Its holder is gone: take over, with the same chosen id.
			next.ID, repair = st.claimed.ID, true
		}
		if next.ID == uuid.Nil {
			if next.ID, err = newID(); err != nil {
				return Result{}, err
			}
		}
		next.Until = time.Now().Add(claimLease)
		if d, ok := ctx.Deadline(); ok {
			next.Until = d
		}
		own, err := h.appendClaim(ctx, r, st, typeKeyClaimed, next)
		if errors.Is(err, eventstore.ErrWrongExpectedRevision) {
			continue // another server claimed or settled it: read again
		} else if err != nil {
			return Result{}, err
		}
		c.id = next.ID
		res, err := h.execute(ctx, r, uc, c, &claim{state: own, repair: repair})
		h.settle(ctx, r, own, res, err)
		return res, err
	}
}

// answerCompleted answers a completed claim: its result, once this
// server's read models include its position.
func (h *Handlers) answerCompleted(ctx context.Context, done keyCompleted) (Result, error) {
	pos, err := eventstore.ParsePosition(done.Position)
	if err != nil {
		return Result{}, fmt.Errorf("command: claim's position: %w", err)
	}
	if h.wait != nil {
		if err := h.wait.WaitFor(ctx, pos); err != nil {
			return Result{}, fmt.Errorf("command: recorded at %s, read models not caught up: %w", pos, err)
		}
	}
	return Result{ID: done.Result, Position: pos}, nil
}

// settle records the outcome on our claim: completed with the result once
// it is written, or released when the mutation was refused (a domain error: nothing was
// written). Any other failure (the store did not say whether the append
// was written) leaves the claim, which a repeat takes over after its
// deadline and repairs. A failure to settle is left the same way.
func (h *Handlers) settle(ctx context.Context, r Request, own claimState, res Result, err error) {
	// Settle even when the request's context ended: the outcome is known.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), claimLease)
	defer cancel()
	var de *domain.Error
	switch {
	case err == nil || res.Position != (eventstore.Position{}):
		// Written (perhaps with the read models not caught up in time).
		_, _ = h.appendClaim(sctx, r, own, typeKeyCompleted, keyCompleted{Result: res.ID, Position: res.Position.String()})
	case errors.As(err, &de):
		_, _ = h.appendClaim(sctx, r, own, typeKeyReleased, keyReleased{Code: de.Code})
	}
}

// earlier looks in stream for an append made under r's key (its first
// event carries the key and fingerprint) and returns its result: the
// stream's object and the position of the append's last event.
func (h *Handlers) earlier(ctx context.Context, r Request, stream string) (Result, bool, error) {
	var from uint64
	var found *Result
	var corr uuid.UUID
	for {
		evs, err := h.store.ReadStream(ctx, stream, eventstore.Forwards, from, pageSize)
		if errors.Is(err, eventstore.ErrStreamNotFound) {
			return Result{}, false, nil
		}
		if err != nil {
			return Result{}, false, fmt.Errorf("command: read %s: %w", stream, err)
		}
		for _, re := range evs {
			from = re.Revision + 1
			md, err := domain.DecodeMetadata(re.Metadata)
			if err != nil {
				return Result{}, false, fmt.Errorf("command: %s@%d: %w", stream, re.Revision, err)
			}
			if found != nil {
				if md.CorrelationID == corr {
					found.Position = re.Position
				}
				continue
			}
			if md.IdempotencyKey == r.IdempotencyKey && md.Actor.TenantID == r.Caller.TenantID && md.Actor.UserID == r.Caller.UserID {
				if md.IdempotencyFingerprint != r.Fingerprint {
					return Result{}, false, errKeyReused()
				}
				_, id, _ := domain.SplitStream(stream)
				found, corr = &Result{ID: id, Position: re.Position}, md.CorrelationID
			}
		}
		if len(evs) < pageSize {
			break
		}
	}
	if found == nil {
		return Result{}, false, nil
	}
	return *found, true, nil
}
