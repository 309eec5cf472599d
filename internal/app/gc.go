package app

import (
	"context"
	"log/slog"
	"math"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"

	"github.com/KimMachineGun/automemlimit/memlimit"
)

// defaultGOGC is the garbage collector's target when GOGC is not set: the
// heap may grow to five times what is live before a collection, instead of
// twice. The server's live heap is the read models, small next to what a
// busy server allocates per second (a query allocates about 20 KiB, a
// mutation 40 KiB), so with Go's default it collected hundreds of times a
// second and spent a fifth of its CPU doing so (docs/load.md).
const defaultGOGC = 400

// foldGOGC is the target while the read models are rebuilt at start: the
// fold allocates little garbage per byte it keeps, so collecting at twice
// the live heap costs little time, where five times the live heap of a
// large log is memory the process keeps from the system after the fold.
const foldGOGC = 100

// DefaultGCHeadroom is the least the memory limit leaves for garbage past
// what the live heap takes once the read models are rebuilt (settleGC).
// 256 MiB is a few seconds of garbage at the load benchmark's rates, so a
// collection at most every second or so under load; a live heap under
// 64 MiB never reaches it (GOGC 400 collects first), so small servers keep
// GOGC's pace.
const DefaultGCHeadroom = 256 << 20

// DefaultGCHeadroomPercent is the headroom as a share of the live heap,
// when that is more than DefaultGCHeadroom (live heaps over 1 GiB). A
// collection marks the whole live heap, so its cost grows with it: with a
// fixed headroom the read models of 10,000,000 events (4.8 GB live) were
// marked every 256 MiB of garbage, four seconds of marking on two cores
// each time, and the collector ran most of the time under load. A quarter
// of the live heap keeps the collector's share of the CPU about where it is
// for a small heap, at a quarter more memory under load.
const DefaultGCHeadroomPercent = 25

// GCHeadroom is how much memory the collector's limit leaves for garbage
// past the live heap (and the runtime's own memory beside it): the larger
// of Min bytes and Percent of the live heap. Min 0 keeps TuneGC's limit.
type GCHeadroom struct {
	Min     int64
	Percent int
}

// of is the headroom for a live heap.
func (h GCHeadroom) of(live uint64) int64 {
	return max(h.Min, int64(min(live, math.MaxInt64/200)*uint64(h.Percent)/100))
}

// gcLimitEvery is how often the memory limit follows the live heap.
const gcLimitEvery = 10 * time.Second

// gcTuning is what TuneGC decided, for the server's start-up to act on
// (process-wide, as the collector's settings are).
var gcTuning struct {
	mu      sync.Mutex
	tuned   bool  // TuneGC ran: the process's main owns the collector
	gogcSet bool  // the operator set GOGC
	memSet  bool  // the operator set GOMEMLIMIT
	ceiling int64 // the container's or machine's limit (automemlimit); 0: none
}

// TuneGC sets the collector's target and a memory limit, each unless the
// operator set its environment variable (GOGC, GOMEMLIMIT). The memory
// limit is what makes the larger target safe: near the limit the collector
// works harder whatever GOGC says, so a large live heap (read models of
// millions of events) cannot grow five-fold past what the machine or the
// container has. The limit is 90% of the container's (cgroup) memory
// limit, or of the machine's memory outside a container
// (github.com/KimMachineGun/automemlimit, which reads both; AUTOMEMLIMIT
// changes the ratio or switches it off). The server then lowers both
// while it folds the log and sets a limit from the live heap once ready
// (foldingGC, settleGC).
func TuneGC(logger *slog.Logger) {
	gcTuning.mu.Lock()
	defer gcTuning.mu.Unlock()
	gcTuning.tuned = true
	_, gcTuning.gogcSet = os.LookupEnv("GOGC")
	_, gcTuning.memSet = os.LookupEnv("GOMEMLIMIT")
	if !gcTuning.gogcSet {
		debug.SetGCPercent(defaultGOGC)
	}
	limit, err := memlimit.Set(
		memlimit.WithProvider(memlimit.ApplyFallback(memlimit.FromCgroup, memlimit.FromSystem)),
		// Only its warnings: its "GOMEMLIMIT is updated" line would open
		// the start-up output with a library's words.
		memlimit.WithLogger(slog.New(minLevel{logger.Handler(), slog.LevelWarn})),
	)
	if err != nil {
		logger.Warn("no memory limit set for the garbage collector", "err", err)
	}
	if limit > 0 && limit < math.MaxInt64 {
		gcTuning.ceiling = limit
	}
}

// foldingGC sets GOGC 100 for the rebuild of the read models at start,
// when TuneGC ran and the operator did not set GOGC. It reports whether
// settleGC has anything to undo or derive.
func foldingGC() bool {
	gcTuning.mu.Lock()
	defer gcTuning.mu.Unlock()
	if !gcTuning.tuned {
		return false // a test or an embedding program owns the collector
	}
	if !gcTuning.gogcSet {
		debug.SetGCPercent(foldGOGC)
	}
	return true
}

// settleGC waits for the read models to catch up with the log at start,
// then collects, returns the freed memory to the system, restores the
// steady-state GOGC and, every gcLimitEvery until ctx ends, sets the
// memory limit to what the live heap and the runtime beside it take, plus
// headroom (never above TuneGC's ceiling). Without the limit the heap of a
// large model grows to five times what is live (GOGC 400): 2.4 GB resident
// for the 476 MiB of a 1,000,000-event log. headroom.Min 0, or GOMEMLIMIT
// set, keeps TuneGC's limit.
func settleGC(ctx context.Context, caughtUp func() bool, headroom GCHeadroom, logger *slog.Logger) {
	for !caughtUp() {
		select {
		case <-ctx.Done():
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
	gcTuning.mu.Lock()
	gogcSet, memSet, ceiling := gcTuning.gogcSet, gcTuning.memSet, gcTuning.ceiling
	gcTuning.mu.Unlock()
	// Collect before the steady-state GOGC is back, so the fold's garbage
	// is not what the next cycle's target is computed from, and return it
	// to the system. FreeOSMemory is that collection: a runtime.GC before
	// it would mark the whole live heap twice (ten seconds and more for
	// the read models of 10,000,000 events on two cores), while resident
	// memory stays at the fold's peak.
	debug.FreeOSMemory()
	if !gogcSet {
		debug.SetGCPercent(defaultGOGC)
	}
	derive := headroom.Min > 0 && !memSet
	if derive {
		debug.SetMemoryLimit(limitFor(readGCMemory(), headroom, ceiling))
	}
	m := readGCMemory()
	logger.Info("read models rebuilt; collector settled", "live_heap_bytes", m.live,
		"runtime_overhead_bytes", m.overhead,
		"memory_limit_bytes", debug.SetMemoryLimit(-1)) // a negative limit reads it
	if !derive {
		return
	}
	t := time.NewTicker(gcLimitEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// The live heap grows with the log: a limit that stayed would
		// make the collector run ever more often, and then all the time.
		debug.SetMemoryLimit(limitFor(readGCMemory(), headroom, ceiling))
	}
}

// gcMemory is what the memory limit is derived from.
type gcMemory struct {
	// live is the heap the last collection marked live.
	live uint64
	// overhead is the memory the runtime holds beside the heap's objects
	// (free space in spans, the collector's metadata, stacks), which the
	// memory limit counts too: a limit of the live heap plus headroom left
	// a large model none, as its overhead (about 8% of the heap) took it
	// all, and the collector then ran back to back even on an idle server.
	overhead uint64
}

// limitFor is the memory limit for m: the live heap, the runtime's
// overhead and the headroom, at most the ceiling (0: none).
func limitFor(m gcMemory, headroom GCHeadroom, ceiling int64) int64 {
	limit := int64(min(m.live, math.MaxInt64/4)) + int64(min(m.overhead, math.MaxInt64/4)) + headroom.of(m.live)
	if ceiling > 0 && limit > ceiling {
		limit = ceiling
	}
	return limit
}

// readGCMemory reads the runtime's metrics. Memory the runtime holds is
// total less what it has returned to the system (the figure the memory
// limit is compared with); its overhead is that less the heap's objects,
// live or not yet swept, so garbage is not counted as overhead.
func readGCMemory() gcMemory {
	s := []metrics.Sample{
		{Name: "/gc/heap/live:bytes"},
		{Name: "/memory/classes/total:bytes"},
		{Name: "/memory/classes/heap/released:bytes"},
		{Name: "/memory/classes/heap/objects:bytes"},
	}
	metrics.Read(s)
	v := make([]uint64, len(s))
	for i := range s {
		if s[i].Value.Kind() == metrics.KindUint64 {
			v[i] = s[i].Value.Uint64()
		}
	}
	m := gcMemory{live: v[0]}
	if held := v[1] - min(v[2], v[1]); held > v[3] {
		m.overhead = held - v[3]
	}
	return m
}

// minLevel drops the records of its handler below a level.
type minLevel struct {
	slog.Handler
	min slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(attrs []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(attrs), h.min}
}

func (h minLevel) WithGroup(name string) slog.Handler {
	return minLevel{h.Handler.WithGroup(name), h.min}
}
