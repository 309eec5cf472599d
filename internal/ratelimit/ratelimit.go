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
	"sync/atomic"
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

	// buckets is read without a lock by every request; mu serialises the
	// creation of buckets and the sweeps, which are rare.
	buckets   sync.Map // K -> *bucket
	mu        sync.Mutex
	count     int // buckets, under mu
	lastSweep time.Time
}

type bucket struct {
	lim  *rate.Limiter // locks itself
	seen atomic.Int64  // unix nanoseconds of the last request
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
		limit: rate.Limit(perSecond),
		burst: burst,
		now:   time.Now,
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
	v, found := l.buckets.Load(key)
	if !found {
		l.mu.Lock()
		if v, found = l.buckets.Load(key); !found {
			l.sweep(now)
			v = &bucket{lim: rate.NewLimiter(l.limit, l.burst)}
			l.buckets.Store(key, v)
			l.count++
		}
		l.mu.Unlock()
	}
	b := v.(*bucket)
	b.seen.Store(now.UnixNano())
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
	return l.count
}

// sweep drops the buckets idle long enough to be full again. l.mu is held.
// A request that took such a bucket just before it went used a full
// bucket, which is what the new one its next request makes will be.
func (l *Limiter[K]) sweep(now time.Time) {
	if l.count < sweepAbove || now.Sub(l.lastSweep) < sweepEvery {
		return
	}
	l.lastSweep = now
	l.buckets.Range(func(k, v any) bool {
		if now.Sub(time.Unix(0, v.(*bucket).seen.Load())) > l.idle && l.buckets.CompareAndDelete(k, v) {
			l.count--
		}
		return true
	})
}

// RetryAfterSeconds rounds d up to whole seconds, at least 1: the unit of
// the Retry-After header, where 0 would invite an immediate retry.
func RetryAfterSeconds(d time.Duration) int {
	s := int(math.Ceil(d.Seconds()))
	return max(s, 1)
}
