package app

import (
	"context"
	"log/slog"
	"os"
	"runtime/debug"

	"github.com/KimMachineGun/automemlimit/memlimit"
)

// defaultGOGC is the garbage collector's target when GOGC is not set: the
// heap may grow to five times what is live before a collection, instead of
// twice. The server's live heap is the read models, small next to what a
// busy server allocates per second (a query allocates about 20 KiB, a
// mutation 40 KiB), so with Go's default it collected hundreds of times a
// second and spent a fifth of its CPU doing so (docs/load.md).
const defaultGOGC = 400

// TuneGC sets the collector's target and a memory limit, each unless the
// operator set its environment variable (GOGC, GOMEMLIMIT). The memory
// limit is what makes the larger target safe: near the limit the collector
// works harder whatever GOGC says, so a large live heap (read models of
// millions of events) cannot grow five-fold past what the machine or the
// container has. The limit is 90% of the container's (cgroup) memory
// limit, or of the machine's memory outside a container
// (github.com/KimMachineGun/automemlimit, which reads both; AUTOMEMLIMIT
// changes the ratio or switches it off).
func TuneGC(logger *slog.Logger) {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(defaultGOGC)
	}
	if _, err := memlimit.Set(
		memlimit.WithProvider(memlimit.ApplyFallback(memlimit.FromCgroup, memlimit.FromSystem)),
		// Only its warnings: its "GOMEMLIMIT is updated" line would open
		// the start-up output with a library's words.
		memlimit.WithLogger(slog.New(minLevel{logger.Handler(), slog.LevelWarn})),
	); err != nil {
		logger.Warn("no memory limit set for the garbage collector", "err", err)
	}
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
