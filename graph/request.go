package graph

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/auth"
	"github.com/partnercenter/multichannel/command"
	"github.com/partnercenter/multichannel/domain"
)

type ctxKey int

const (
	correlationKey ctxKey = iota
	idempotencyKey
)

// WithCorrelationID records the request's correlation id (set by the HTTP
// layer from X-Correlation-ID or made fresh) for the events it appends.
func WithCorrelationID(ctx context.Context, id uuid.UUID) context.Context {
	return context.WithValue(ctx, correlationKey, id)
}

// CorrelationID returns the request's correlation id, or a new one.
func CorrelationID(ctx context.Context) uuid.UUID {
	if id, ok := ctx.Value(correlationKey).(uuid.UUID); ok {
		return id
	}
	return uuid.Must(uuid.NewV7())
}

// WithIdempotencyKey records the request's Idempotency-Key header.
func WithIdempotencyKey(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, idempotencyKey, key)
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
	if key, _ := ctx.Value(idempotencyKey).(string); key != "" {
		r.IdempotencyKey = key
		r.Fingerprint = fingerprint(ctx)
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
