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

	"github.com/partnercenter/multichannel/eventstore"
	"github.com/partnercenter/multichannel/projections"
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

// DefaultGCHeadroom is how far past the live heap the memory limit is set
// once the read models are rebuilt (see gcTuning.settle). 256 MiB is a few
// seconds of garbage at the load benchmark's rates, so a collection at most
// every second or so under load; a live heap under 64 MiB never reaches it
// (GOGC 400 collects first), so small servers keep GOGC's pace.
const DefaultGCHeadroom = 256 << 20

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
// memory limit to the live heap plus headroom (never above TuneGC's
// ceiling). Without the limit the heap of a large model grows to five
// times what is live (GOGC 400): 2.4 GB resident for the 476 MiB of a
// 1,000,000-event log. Headroom 0, or GOMEMLIMIT set, keeps TuneGC's limit.
func settleGC(ctx context.Context, store eventstore.Store, model *projections.Model, headroom int64, logger *slog.Logger) {
	for !caughtUpOnce(ctx, store, model) {
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
	derive := headroom > 0 && !memSet
	var limit int64
	if derive {
		limit = limitFor(liveHeap(), headroom, ceiling)
		debug.SetMemoryLimit(limit)
	}
	logger.Info("read models rebuilt; collector settled", "live_heap_bytes", liveHeap(),
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
		debug.SetMemoryLimit(limitFor(liveHeap(), headroom, ceiling))
	}
}

// limitFor is the memory limit for a live heap: live plus headroom, at
// most the ceiling (0: none).
func limitFor(live uint64, headroom, ceiling int64) int64 {
	limit := int64(min(live, math.MaxInt64/2)) + headroom
	if ceiling > 0 && limit > ceiling {
		limit = ceiling
	}
	return limit
}

// liveHeap is the heap the last collection marked live.
func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// caughtUpOnce reports whether the model is within one read of the log's
// head: the rebuild at start is over even if traffic keeps it a few
// events behind.
func caughtUpOnce(ctx context.Context, store eventstore.Store, model *projections.Model) bool {
	const near = 1024
	evs, err := store.ReadAll(ctx, model.Position(), near)
	return err == nil && len(evs) < near
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
