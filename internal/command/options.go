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
