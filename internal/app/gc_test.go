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

func TestLimitFor(t *testing.T) {
	for _, c := range []struct {
		live              uint64
		headroom, ceiling int64
		want              int64
	}{
		{live: 500 << 20, headroom: 256 << 20, want: 756 << 20},
		{live: 500 << 20, headroom: 256 << 20, ceiling: 600 << 20, want: 600 << 20},
		{live: 0, headroom: 256 << 20, ceiling: 1 << 30, want: 256 << 20},
	} {
		if got := limitFor(c.live, c.headroom, c.ceiling); got != c.want {
			t.Errorf("limitFor(%d, %d, %d) = %d, want %d", c.live, c.headroom, c.ceiling, got, c.want)
		}
	}
}

func TestGCHeadroomConfig(t *testing.T) {
	t.Setenv("GC_HEADROOM_MIB", "")
	c, err := ParseConfig(nil)
	if err != nil || c.GCHeadroom != DefaultGCHeadroom {
		t.Fatalf("default: %d, %v; want %d", c.GCHeadroom, err, DefaultGCHeadroom)
	}
	t.Setenv("GC_HEADROOM_MIB", "64")
	if c, err = ParseConfig(nil); err != nil || c.GCHeadroom != 64<<20 {
		t.Fatalf("GC_HEADROOM_MIB=64: %d, %v", c.GCHeadroom, err)
	}
	if c, err = ParseConfig([]string{"-gc-headroom-mib", "0"}); err != nil || c.GCHeadroom != 0 {
		t.Fatalf("-gc-headroom-mib 0: %d, %v", c.GCHeadroom, err)
	}
	if _, err = ParseConfig([]string{"-gc-headroom-mib", "-1"}); err == nil {
		t.Fatal("a negative headroom was accepted")
	}
}

// TestSettleGC: while the log is folded GOGC is 100; once the model has
// caught up, GOGC is back at 400 and the memory limit is the live heap
// plus the headroom. The collector's settings are the process's, so they
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
	const headroom = 512 << 20
	done := make(chan struct{})
	go func() {
		defer close(done)
		settleGC(ctx, store, projections.New(nil), headroom, slog.New(slog.NewTextHandler(io.Discard, nil)))
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
	limit, live := debug.SetMemoryLimit(-1), int64(liveHeap())
	if limit < headroom || limit > live+headroom+(64<<20) {
		t.Errorf("memory limit %d, want about the live heap %d plus %d", limit, live, headroom)
	}
}
