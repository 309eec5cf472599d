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
// A request decides first, from the log, and claims only when the decision
// is to write: a refused attempt (or one that changes nothing) appends
// nothing at all, neither a claim nor an event, so a repeat runs again
// and, as for a key never used, may carry another request. A keyed
// mutation that writes costs two appends: the claim and its own.
//
// The claim stream's events (not domain facts; the read models skip the
// category, and the events are sealed like every other so that the log
// still verifies):
//
//   - IdempotencyKeyClaimed: the fingerprint, the id the request creates
//     (a UUIDv7 chosen before the decision and used by mutations that make
//     a new object), the stream the decision appends to and its revision
//     there, and the instant until which the claimant may still be running
//     (its mutation deadline).
//   - IdempotencyKeyReleased: rare. A claimant whose append lost an
//     optimistic-concurrency race decides again holding its claim, and that
//     second decision refused (or changed nothing): nothing was written, so
//     the claim is released and a repeat runs again.
//   - IdempotencyKeyCompleted: no longer written (the result is found in
//     the target stream, below); a log that holds it is still answered.
//
// The result is found where it was written: the first event of the
// mutation's append carries the key and fingerprint in its metadata, so a
// repeat that finds a claim reads the claim's stream from the claim's
// revision and answers the object of that stream and the position of the
// append's last event, and appends nothing. Until the append is there, a
// repeat with the claim's fingerprint waits, polling with backoff until its
// own deadline. A claim whose holder is past its deadline (it crashed, or
// lost the store) is taken over by appending a new claim after it (same
// chosen id); the taker first looks for the key in the mutation's target
// stream: if the first holder appended before it died, the taker answers
// that append instead of making a second one. An append landing after that
// look still cannot make a second object: it was made with an expected
// revision (NoStream on the chosen or derived id, or the exact revision of
// the object changed), so the taker's own append conflicts, and it looks
// again.

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
	// Stream and Revision are where the claimant appends: a repeat looks
	// for the key there, from that revision on. Empty in claims written
	// before they were recorded: the use case's target is looked in then.
	Stream   string `json:"stream,omitempty"`
	Revision uint64 `json:"revision,omitempty"`
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

// claim is a keyed request's hold on its key, from before its first
// decision until it returns.
type claim struct {
	state claimState // the claim stream as last read or appended by us
	// held: our IdempotencyKeyClaimed is the stream's last event.
	held bool
	// repair: an earlier holder may have appended; look for the key in the
	// target stream before deciding.
	repair bool
}

// errClaimLost: another server appended to the claim stream between our
// read and our claim; nothing of ours was written, so read it again.
var errClaimLost = errors.New("command: the Idempotency-Key was claimed concurrently")

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
		cl := &claim{state: st}
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
			res, found, err := h.claimedResult(ctx, r, uc, c, st.claimed)
			if err != nil {
				return Result{}, err
			}
			if found {
				return h.answerCompleted(ctx, keyCompleted{Result: res.ID, Position: res.Position.String()})
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
			c.id, cl.repair = st.claimed.ID, true
		default: // never used, or released
			if c.id, err = newID(); err != nil {
				return Result{}, err
			}
		}
		res, err := h.execute(ctx, r, uc, c, cl)
		if errors.Is(err, errClaimLost) {
			continue
		}
		return res, err
	}
}

// claimedResult looks for the append a claim was made for: in the stream
// the claim names, from its revision on, or (a claim that names none) in
// the use case's target.
func (h *Handlers) claimedResult(ctx context.Context, r Request, uc useCase, c caller, k keyClaimed) (Result, bool, error) {
	stream, from := k.Stream, k.Revision
	if stream == "" {
		if uc.target == nil {
			return Result{}, false, nil
		}
		c.id = k.ID
		var err error
		if stream, err = uc.target(ctx, c); err != nil || stream == "" {
			return Result{}, false, err
		}
		from = 0
	}
	return h.earlier(ctx, r, stream, from)
}

// hold claims the key for decision d before its append: a claim appended
// after the stream as read (NoStream for a key never used), or, when we
// hold it already and a second decision appends elsewhere, a claim naming
// the new stream. errClaimLost when another server got there first.
func (h *Handlers) hold(ctx context.Context, r Request, cl *claim, id uuid.UUID, d decision) error {
	if cl.held && cl.state.claimed.Stream == d.stream.name {
		return nil
	}
	next := keyClaimed{Fingerprint: r.Fingerprint, ID: id, Until: time.Now().Add(claimLease), Stream: d.stream.name, Revision: d.stream.version}
	if dl, ok := ctx.Deadline(); ok {
		next.Until = dl
	}
	st, err := h.appendClaim(ctx, r, cl.state, typeKeyClaimed, next)
	if errors.Is(err, eventstore.ErrWrongExpectedRevision) {
		return errClaimLost
	} else if err != nil {
		return err
	}
	st.claimed = next
	cl.state, cl.held = st, true
	return nil
}

// claimMoved reports whether the claim stream gained an event since cl
// was read, while we hold no claim in it. A duplicate's claim precedes its
// append, so a decision that saw a duplicate's events (and refused, or
// found nothing to change) finds the stream moved when it reads it after
// deciding; one that finds it unmoved saw no such events, and its refusal
// is its own.
func (h *Handlers) claimMoved(ctx context.Context, cl *claim) (bool, error) {
	if cl == nil || cl.held {
		return false, nil
	}
	now, err := h.readClaim(ctx, cl.state.name)
	if err != nil {
		return false, err
	}
	return now.version != cl.state.version, nil
}

// release gives the key back after a refusal of a request that held it
// (a second decision, after a lost race, refused): nothing was written, so
// a repeat runs again. It is appended even when the request's context
// ended, since the outcome is known; if it fails, the claim stands until
// its deadline and a repeat then takes it over, finds nothing written,
// and decides again.
func (h *Handlers) release(ctx context.Context, r Request, cl *claim, refusal error) {
	if cl == nil || !cl.held {
		return
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), claimLease)
	defer cancel()
	var rel keyReleased
	var de *domain.Error
	if errors.As(refusal, &de) {
		rel.Code = de.Code
	}
	if st, err := h.appendClaim(sctx, r, cl.state, typeKeyReleased, rel); err == nil {
		cl.state, cl.held = st, false
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

// earlier looks in stream, from revision from on, for an append made
// under r's key (its first event carries the key and fingerprint) and
// returns its result: the stream's object and the position of the
// append's last event.
func (h *Handlers) earlier(ctx context.Context, r Request, stream string, from uint64) (Result, bool, error) {
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
