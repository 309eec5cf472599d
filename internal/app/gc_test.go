package app

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"runtime/debug"
	"testing"
	"time"

	"github.com/partnercenter/multichannel/eventstore/sqlite"
	"github.com/partnercenter/multichannel/projections"
)

// TestLimitFor: the limit leaves the headroom free past everything the
// runtime holds, not past the live heap alone. A live heap of 4.8 GB with
// 400 MiB of overhead and a 256 MiB headroom got a limit below what the
// runtime held, and the collector ran back to back on an idle server.
func TestLimitFor(t *testing.T) {
	const mib = 1 << 20
	fixed := GCHeadroom{Min: 256 * mib}
	scaled := GCHeadroom{Min: 256 * mib, Percent: 25}
	for _, c := range []struct {
		live, overhead uint64
		headroom       GCHeadroom
		ceiling        int64
		want           int64
	}{
		{live: 500 * mib, headroom: fixed, want: 756 * mib},
		{live: 500 * mib, overhead: 40 * mib, headroom: fixed, want: 796 * mib},
		{live: 500 * mib, headroom: fixed, ceiling: 600 * mib, want: 600 * mib},
		{live: 0, headroom: fixed, ceiling: 1 << 30, want: 256 * mib},
		// A quarter of a small heap is less than the minimum.
		{live: 500 * mib, overhead: 40 * mib, headroom: scaled, want: 796 * mib},
		{live: 4800 * mib, overhead: 400 * mib, headroom: fixed, want: 5456 * mib},
		{live: 4800 * mib, overhead: 400 * mib, headroom: scaled, want: 6400 * mib},
		{live: 4800 * mib, overhead: 400 * mib, headroom: scaled, ceiling: 6000 * mib, want: 6000 * mib},
	} {
		m := gcMemory{live: c.live, overhead: c.overhead}
		if got := limitFor(m, c.headroom, c.ceiling); got != c.want {
			t.Errorf("limitFor(%+v, %+v, %d) = %d MiB, want %d MiB", m, c.headroom, c.ceiling, got/mib, c.want/mib)
		}
	}
}

func TestGCHeadroomConfig(t *testing.T) {
	t.Setenv("GC_HEADROOM_MIB", "")
	t.Setenv("GC_HEADROOM_PERCENT", "")
	c, err := ParseConfig(nil)
	if want := (GCHeadroom{DefaultGCHeadroom, DefaultGCHeadroomPercent}); err != nil || c.GCHeadroom != want {
		t.Fatalf("default: %+v, %v; want %+v", c.GCHeadroom, err, want)
	}
	t.Setenv("GC_HEADROOM_MIB", "64")
	t.Setenv("GC_HEADROOM_PERCENT", "10")
	if c, err = ParseConfig(nil); err != nil || c.GCHeadroom != (GCHeadroom{64 << 20, 10}) {
		t.Fatalf("GC_HEADROOM_MIB=64 GC_HEADROOM_PERCENT=10: %+v, %v", c.GCHeadroom, err)
	}
	if c, err = ParseConfig([]string{"-gc-headroom-mib", "0", "-gc-headroom-percent", "0"}); err != nil || c.GCHeadroom != (GCHeadroom{}) {
		t.Fatalf("-gc-headroom-mib 0 -gc-headroom-percent 0: %+v, %v", c.GCHeadroom, err)
	}
	for _, args := range [][]string{{"-gc-headroom-mib", "-1"}, {"-gc-headroom-percent", "-1"}, {"-gc-headroom-percent", "1001"}} {
		if _, err = ParseConfig(args); err == nil {
			t.Errorf("%v was accepted", args)
		}
	}
}

// TestSettleGC: while the log is folded GOGC is 100; once the model has
// caught up, GOGC is back at 400 and the memory limit is the live heap
// and the runtime's overhead plus the headroom. The collector's settings are the process's, so they
// are put back after.
func TestSettleGC(t *testing.T) {
	gogc, memLimit := debug.SetGCPercent(100), debug.SetMemoryLimit(-1)
	tuned, gogcSet, memSet, ceiling := gcTuning.tuned, gcTuning.gogcSet, gcTuning.memSet, gcTuning.ceiling
	t.Cleanup(func() {
		debug.SetGCPercent(gogc)
		debug.SetMemoryLimit(memLimit)
		gcTuning.tuned, gcTuning.gogcSet, gcTuning.memSet, gcTuning.ceiling = tuned, gogcSet, memSet, ceiling
	})
	gcTuning.tuned, gcTuning.gogcSet, gcTuning.memSet, gcTuning.ceiling = true, false, false, 0
	debug.SetGCPercent(defaultGOGC)

	if !foldingGC() {
		t.Fatal("foldingGC: nothing to settle after TuneGC")
	}
	if got := debug.SetGCPercent(foldGOGC); got != foldGOGC {
		t.Fatalf("GOGC while folding = %d, want %d", got, foldGOGC)
	}
	store, err := sqlite.Open(filepath.Join(t.TempDir(), "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	headroom := GCHeadroom{Min: 512 << 20, Percent: DefaultGCHeadroomPercent}
	done := make(chan struct{})
	go func() {
		defer close(done)
		settleGC(ctx, func() bool { return true }, headroom, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	deadline := time.After(time.Minute)
	for debug.SetMemoryLimit(-1) == memLimit {
		select {
		case <-deadline:
			t.Fatal("the memory limit was never derived from the live heap")
		case <-time.After(10 * time.Millisecond):
		}
	}
	cancel()
	<-done
	if got := debug.SetGCPercent(defaultGOGC); got != defaultGOGC {
		t.Errorf("GOGC once settled = %d, want %d", got, defaultGOGC)
	}
	limit, m := debug.SetMemoryLimit(-1), readGCMemory()
	held := int64(m.live + m.overhead)
	if limit < held+headroom.Min-(64<<20) || limit > held+headroom.Min+(64<<20) {
		t.Errorf("memory limit %d, want about the live heap %d and the runtime's %d plus %d", limit, m.live, m.overhead, headroom.Min)
	}
}

func TestEventsCacheConfig(t *testing.T) {
	t.Setenv("EVENTS_CACHE_TENANTS", "")
	t.Setenv("EVENTS_CACHE_ENTRIES", "")
	c, err := ParseConfig(nil)
	if err != nil || c.EventsCache != projections.DefaultEventsCacheLimits {
		t.Fatalf("default: %+v, %v", c.EventsCache, err)
	}
	t.Setenv("EVENTS_CACHE_TENANTS", "0")
	if c, err = ParseConfig([]string{"-events-cache-entries", "1000"}); err != nil || c.EventsCache != (projections.EventsCacheLimits{Tenants: 0, Entries: 1000}) {
		t.Fatalf("EVENTS_CACHE_TENANTS=0 -events-cache-entries 1000: %+v, %v", c.EventsCache, err)
	}
	if _, err = ParseConfig([]string{"-events-cache-entries", "-1"}); err == nil {
		t.Fatal("a negative bound was accepted")
	}
}
