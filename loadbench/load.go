package main

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"
)

// workload is what the clients send during one measurement.
type workload struct {
	// Name labels the figure in the report.
	Name string
	// Token is the bearer token every request carries (none when empty).
	Token string
	// Body returns the next request body of client w. It is called by
	// every client concurrently.
	Body func(w int) ([]byte, error)
}

// staticBody returns a Body that sends the same request every time.
func staticBody(b []byte) func(int) ([]byte, error) {
	return func(int) ([]byte, error) { return b, nil }
}

// measurement is the outcome of one workload at one concurrency.
type measurement struct {
	Name string
	// Requests counts the requests that started inside the window (and
	// succeeded: any failure fails the measurement).
	Requests int
	// Window is the measured time, after the warm-up.
	Window time.Duration
	// Latencies of those requests, sorted.
	Latencies []time.Duration
}

// Rate is requests per second over the window.
func (m measurement) Rate() float64 {
	if m.Window <= 0 {
		return 0
	}
	return float64(m.Requests) / m.Window.Seconds()
}

// Quantile returns the latency below which a fraction q of the requests
// finished (nearest rank: the smallest latency with at least q*n requests
// at or below it).
func (m measurement) Quantile(q float64) time.Duration {
	return quantile(m.Latencies, q)
}

func quantile(sorted []time.Duration, q float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := int(math.Ceil(q * float64(n)))
	if rank < 1 {
		rank = 1
	}
	if rank > n {
		rank = n
	}
	return sorted[rank-1]
}

// measure runs clients concurrent clients against c, each sending wl's
// requests back to back, for warmup and then window; only requests that
// start inside the window are counted. The first failure (an error, a
// non-200 answer or a GraphQL error) stops every client and fails the
// measurement.
func measure(ctx context.Context, c *gqlClient, wl workload, clients int, warmup, window time.Duration) (measurement, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	start := time.Now()
	from := start.Add(warmup)
	end := from.Add(window)
	lats := make([][]time.Duration, clients)
	var wg sync.WaitGroup
	for w := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Preallocated so that growing the slice costs nothing
			// inside the window; 64 KiB per client.
			mine := make([]time.Duration, 0, 8192)
			var buf bytes.Buffer
			for ctx.Err() == nil {
				body, err := wl.Body(w)
				if err != nil {
					cancel(fmt.Errorf("client %d: %w", w, err))
					break
				}
				t0 := time.Now()
				if !t0.Before(end) {
					break
				}
				if err := c.post(ctx, wl.Token, body, &buf); err != nil {
					if ctx.Err() == nil {
						cancel(fmt.Errorf("client %d: %w", w, err))
					}
					break
				}
				if !t0.Before(from) {
					mine = append(mine, time.Since(t0))
				}
			}
			lats[w] = mine
		}()
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return measurement{}, fmt.Errorf("%s: %w", wl.Name, err)
	}
	m := measurement{Name: wl.Name, Window: window}
	for _, l := range lats {
		m.Requests += len(l)
		m.Latencies = append(m.Latencies, l...)
	}
	slices.Sort(m.Latencies)
	return m, nil
}
