package auth

import (
	"context"

	"github.com/partnercenter/multichannel/domain"
)

// ctxKey is unexported so that no other package's context values collide
// with these, and so that they are set only through the functions below.
type ctxKey int

const (
	callerKey ctxKey = iota
	authErrorKey
)

// WithCaller records the verified caller of a request.
func WithCaller(ctx context.Context, a domain.Actor) context.Context {
	return context.WithValue(ctx, callerKey, a)
}

// CallerFrom returns the caller recorded by WithCaller.
func CallerFrom(ctx context.Context) (domain.Actor, bool) {
	a, ok := ctx.Value(callerKey).(domain.Actor)
	return a, ok
}

// WithAuthError records why a request has no caller: the token's refusal,
// or ErrNoToken.
func WithAuthError(ctx context.Context, err error) context.Context {
	return context.WithValue(ctx, authErrorKey, err)
}

// AuthErrorFrom returns the error recorded by WithAuthError, or nil.
func AuthErrorFrom(ctx context.Context) error {
	err, _ := ctx.Value(authErrorKey).(error)
	return err
}
