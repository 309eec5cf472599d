package command

import (
	"time"
)

// Option tunes the handlers.
type Option func(*Handlers)

// WithTimeout bounds each mutation, from loading its streams to the read
// models showing its events: a store that stalls then fails the mutation
// with an error wrapping context.DeadlineExceeded (the API's UNAVAILABLE)
// instead of holding the request. 0 leaves only the caller's context.
func WithTimeout(d time.Duration) Option {
	return func(h *Handlers) { h.timeout = d }
}

// DefaultClaimGrace is how long past an Idempotency-Key claim's deadline
// a repeat waits before it takes the claim over: the servers' clocks may
// differ by that much.
const DefaultClaimGrace = 2 * time.Second

// WithClaimGrace sets how long past an abandoned Idempotency-Key claim's
// deadline a repeat still waits for its holder (default
// DefaultClaimGrace); it must exceed the servers' clock skew.
func WithClaimGrace(d time.Duration) Option {
	return func(h *Handlers) { h.claimGrace = d }
}
