// Package ratelimit keeps one token bucket per key (the API keys it by the
// caller's tenant), so that one tenant's burst cannot starve the others.
//
// A bucket holds Burst tokens and refills at Rate tokens a second; each
// request takes one. A refused request takes nothing and learns how long
// until a token is there (the HTTP Retry-After). A bucket left alone long
// enough to refill is the same as a new one, so idle buckets are forgotten
// and the memory held is bounded by the tenants active in the last few
// seconds, not by every tenant ever seen.
package ratelimit

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limiter is a set of token buckets, one per key. It is safe for concurrent
// use.
type Limiter[K comparable] struct {
	limit rate.Limit
	burst int
	now   func() time.Time
	// idle is how long a bucket takes to refill from empty: after that it
	// is indistinguishable from a new one and may be dropped.
	idle time.Duration

	mu        sync.Mutex
	buckets   map[K]*bucket
	lastSweep time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// Option configures a Limiter.
type Option[K comparable] func(*Limiter[K])

// WithClock makes the Limiter read the time from now (tests).
func WithClock[K comparable](now func() time.Time) Option[K] {
	return func(l *Limiter[K]) { l.now = now }
}

// sweepEvery bounds how often the map is scanned for idle buckets; a scan
// runs only when the map holds more than sweepAbove buckets.
const (
	sweepAbove = 1024
	sweepEvery = time.Second
)

// New returns a Limiter of perSecond requests a second per key with bursts
// of burst (at least 1).
func New[K comparable](perSecond float64, burst int, opts ...Option[K]) *Limiter[K] {
	burst = max(burst, 1)
	l := &Limiter[K]{
		limit:   rate.Limit(perSecond),
		burst:   burst,
		now:     time.Now,
		buckets: make(map[K]*bucket),
	}
	if perSecond > 0 {
		l.idle = time.Duration(float64(burst) / perSecond * float64(time.Second))
	}
	for _, o := range opts {
		o(l)
	}
	return l
}

// Allow takes a token from key's bucket. When the bucket is empty it takes
// nothing and returns false with how long until a token is available.
func (l *Limiter[K]) Allow(key K) (ok bool, retryAfter time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		l.sweep(now)
		b = &bucket{lim: rate.NewLimiter(l.limit, l.burst)}
		l.buckets[key] = b
	}
	b.seen = now
	if b.lim.AllowN(now, 1) {
		return true, 0 // the common case, without ReserveN's allocation
	}
	// Refused: reserve and cancel at once, only to learn the wait.
	r := b.lim.ReserveN(now, 1)
	if !r.OK() { // a zero rate and an empty bucket: never
		return false, time.Duration(math.MaxInt64)
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now) // a refused request must not use up a later token
		return false, d
	}
	return true, 0
}

// Len returns how many buckets are kept.
func (l *Limiter[K]) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// sweep drops the buckets idle long enough to be full again. l.mu is held.
func (l *Limiter[K]) sweep(now time.Time) {
	if len(l.buckets) < sweepAbove || now.Sub(l.lastSweep) < sweepEvery {
		return
	}
	l.lastSweep = now
	for k, b := range l.buckets {
		if now.Sub(b.seen) > l.idle {
			delete(l.buckets, k)
		}
	}
}

// RetryAfterSeconds rounds d up to whole seconds, at least 1: the unit of
// the Retry-After header, where 0 would invite an immediate retry.
func RetryAfterSeconds(d time.Duration) int {
	s := int(math.Ceil(d.Seconds()))
	return max(s, 1)
}
