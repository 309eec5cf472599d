package ratelimit_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/partnercenter/multichannel/internal/ratelimit"
)

type clock struct{ ns atomic.Int64 }

func (c *clock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }

func TestBurstThenRate(t *testing.T) {
	t.Parallel()
	c := &clock{}
	c.ns.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	l := ratelimit.New[string](2, 3, ratelimit.WithClock[string](c.now))
	for i := range 3 {
		if ok, _ := l.Allow("t1"); !ok {
			t.Fatalf("request %d of the burst refused", i)
		}
	}
	ok, after := l.Allow("t1")
	if ok || after <= 0 || after > 500*time.Millisecond {
		t.Fatalf("4th request: ok %v, retry after %v (want refused, up to 500ms at 2/s)", ok, after)
	}
	// Another tenant has its own bucket.
	if ok, _ := l.Allow("t2"); !ok {
		t.Fatal("another key was refused")
	}
	// Refused requests take nothing: after the announced wait, one passes.
	for range 10 {
		l.Allow("t1")
	}
	c.advance(after)
	if ok, _ := l.Allow("t1"); !ok {
		t.Fatal("refused after waiting the announced time")
	}
	if ok, _ := l.Allow("t1"); ok {
		t.Fatal("a second token appeared from nowhere")
	}
}

func TestRetryAfterSeconds(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]int{
		0: 1, time.Millisecond: 1, time.Second: 1, 1001 * time.Millisecond: 2, 10 * time.Second: 10,
	} {
		if got := ratelimit.RetryAfterSeconds(d); got != want {
			t.Errorf("RetryAfterSeconds(%v) = %d, want %d", d, got, want)
		}
	}
}

func TestZeroRate(t *testing.T) {
	t.Parallel()
	l := ratelimit.New[string](0, 1)
	if ok, _ := l.Allow("k"); !ok {
		t.Fatal("the burst of a zero-rate limiter was refused")
	}
	if ok, after := l.Allow("k"); ok || after <= time.Hour {
		t.Fatalf("zero rate: ok %v after %v", ok, after)
	}
}

// Idle buckets are dropped once they would be full again, so memory follows
// the active tenants.
func TestIdleBucketsAreForgotten(t *testing.T) {
	t.Parallel()
	c := &clock{}
	l := ratelimit.New[string](100, 10, ratelimit.WithClock[string](c.now))
	for i := range 5000 {
		l.Allow(fmt.Sprint("tenant-", i))
	}
	if n := l.Len(); n != 5000 {
		t.Fatalf("%d buckets, want 5000", n)
	}
	c.advance(2 * time.Second) // 10 tokens at 100/s refill in 100ms
	l.Allow("new")
	if n := l.Len(); n != 1 {
		t.Fatalf("%d buckets after the sweep, want 1", n)
	}
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	l := ratelimit.New[string](1, 100) // 100 tokens; the refill in a test's time is negligible
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				if ok, _ := l.Allow("shared"); ok {
					allowed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if n := allowed.Load(); n < 100 || n > 102 {
		t.Fatalf("%d of 400 allowed with a burst of 100", n)
	}
}

func BenchmarkAllow(b *testing.B) {
	l := ratelimit.New[string](1e9, 1<<30)
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = fmt.Sprint("tenant-", i)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			l.Allow(keys[i%len(keys)])
			i++
		}
	})
}
