package graph

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/internal/auth"
	"github.com/partnercenter/multichannel/internal/command"
)

// Request is what the HTTP layer learns of a request before GraphQL runs,
// kept in its context under one key: one context value for all three, so
// that each lookup walks the context chain once and the request is given
// one new context, not three.
type Request struct {
	// CorrelationID is the request's correlation id (from X-Correlation-ID
	// or made fresh), which the events it appends carry.
	CorrelationID uuid.UUID
	// IdempotencyKey is the Idempotency-Key header ("" without one).
	IdempotencyKey string
	// ConsistencyToken is the X-Consistency-Token header ("" without one);
	// see consistency.go.
	ConsistencyToken string
	// SetConsistencyToken sets the answer's X-Consistency-Token header
	// (nil: no header, as on a WebSocket).
	SetConsistencyToken func(string)
}

type requestKey struct{}

// WithRequest records what the HTTP layer learned of the request.
func WithRequest(ctx context.Context, r *Request) context.Context {
	return context.WithValue(ctx, requestKey{}, r)
}

func requestFrom(ctx context.Context) *Request {
	r, _ := ctx.Value(requestKey{}).(*Request)
	return r
}

// CorrelationID returns the request's correlation id, or a new one.
func CorrelationID(ctx context.Context) uuid.UUID {
	if r := requestFrom(ctx); r != nil && r.CorrelationID != uuid.Nil {
		return r.CorrelationID
	}
	return uuid.Must(uuid.NewV7())
}

// caller returns the verified identity of the request, or UNAUTHENTICATED
// with the reason the token was refused.
func caller(ctx context.Context) (domain.Actor, error) {
	if a, ok := auth.CallerFrom(ctx); ok {
		return a, nil
	}
	if err := auth.AuthErrorFrom(ctx); err != nil {
		return domain.Actor{}, err
	}
	return domain.Actor{}, auth.ErrNoToken
}

// commandRequest gathers what a command handler needs to know of the
// request: who asks, its correlation id, and its idempotency key with the
// fingerprint of the operation (document, operation name and variables; the
// variables are re-encoded by encoding/json, which sorts map keys, so the
// same variables in another order give the same fingerprint).
func commandRequest(ctx context.Context) (command.Request, error) {
	a, err := caller(ctx)
	if err != nil {
		return command.Request{}, err
	}
	r := command.Request{Caller: a, CorrelationID: CorrelationID(ctx)}
	req := requestFrom(ctx)
	r.Recorded = recordToken(ctx, req)
	if req != nil {
		if req.IdempotencyKey != "" {
			r.IdempotencyKey = req.IdempotencyKey
			r.Fingerprint = fingerprint(ctx)
		}
	}
	return r, nil
}

func fingerprint(ctx context.Context) string {
	h := sha256.New()
	if graphql.HasOperationContext(ctx) {
		oc := graphql.GetOperationContext(ctx)
		vars, _ := json.Marshal(oc.Variables)
		h.Write([]byte(oc.RawQuery))
		h.Write([]byte{0})
		h.Write([]byte(oc.OperationName))
		h.Write([]byte{0})
		h.Write(vars)
	}
	return hex.EncodeToString(h.Sum(nil))
}
