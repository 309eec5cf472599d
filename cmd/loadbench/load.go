package main

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
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
	// Keyed sends a fresh Idempotency-Key with every request, so that each
	// pays for the key's claim but none is a repeat.
	Keyed bool
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
	// ServerCPU and ClientCPU are the CPU time the server process and
	// this one used during the window, OtherCPU what every other process
	// on the machine used (other engineers' builds and tests disturb the
	// figures); zero when unknown (CPUKnown).
	ServerCPU, ClientCPU, OtherCPU time.Duration
	CPUKnown                       bool
}

// OtherCores is the average number of cores that other processes kept
// busy during the window.
func (m measurement) OtherCores() float64 {
	if !m.CPUKnown || m.Window <= 0 {
		return 0
	}
	return max(0, m.OtherCPU.Seconds()/m.Window.Seconds())
}

// ServerCPUPerRequest and ClientCPUPerRequest are the CPU a request cost
// each side during the window; 0 when unknown.
func (m measurement) ServerCPUPerRequest() time.Duration {
	if !m.CPUKnown || m.Requests == 0 {
		return 0
	}
	return m.ServerCPU / time.Duration(m.Requests)
}

func (m measurement) ClientCPUPerRequest() time.Duration {
	if !m.CPUKnown || m.Requests == 0 {
		return 0
	}
	return m.ClientCPU / time.Duration(m.Requests)
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
// measurement. serverPID, when positive, is the server process whose CPU
// time is sampled at both ends of the window, with this process's.
func measure(ctx context.Context, c *gqlClient, wl workload, clients int, warmup, window time.Duration, serverPID int) (measurement, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	start := time.Now()
	from := start.Add(warmup)
	end := from.Add(window)
	cpuc := make(chan cpuWindow, 1)
	go func() { cpuc <- sampleCPU(ctx, serverPID, from, end) }()
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
				key := ""
				if wl.Keyed {
					key = uuid.NewString()
				}
				if err := c.post(ctx, wl.Token, key, body, &buf); err != nil {
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
	cpu := <-cpuc
	m := measurement{Name: wl.Name, Window: window, ServerCPU: cpu.server, ClientCPU: cpu.client, OtherCPU: cpu.other, CPUKnown: cpu.ok}
	for _, l := range lats {
		m.Requests += len(l)
		m.Latencies = append(m.Latencies, l...)
	}
	slices.Sort(m.Latencies)
	return m, nil
}

// cpuWindow is the CPU time used by the server and by this process over a
// measurement window.
type cpuWindow struct {
	server, client, other time.Duration
	ok                    bool
}

// sampleCPU reads both processes' CPU times at from and at end (or gives
// up when ctx ends or a read fails).
func sampleCPU(ctx context.Context, serverPID int, from, end time.Time) cpuWindow {
	if serverPID <= 0 {
		return cpuWindow{}
	}
	read := func() (server, client, all time.Duration, err error) {
		if server, err = processCPU(serverPID); err != nil {
			return 0, 0, 0, err
		}
		if client, err = processCPU(os.Getpid()); err != nil {
			return 0, 0, 0, err
		}
		all, err = machineBusy()
		return server, client, all, err
	}
	sleepUntil := func(t time.Time) bool {
		timer := time.NewTimer(time.Until(t))
		defer timer.Stop()
		select {
		case <-timer.C:
			return true
		case <-ctx.Done():
			return false
		}
	}
	if !sleepUntil(from) {
		return cpuWindow{}
	}
	s0, c0, a0, err := read()
	if err != nil || !sleepUntil(end) {
		return cpuWindow{}
	}
	s1, c1, a1, err := read()
	if err != nil {
		return cpuWindow{}
	}
	server, client := s1-s0, c1-c0
	return cpuWindow{server: server, client: client, other: (a1 - a0) - server - client, ok: true}
}
