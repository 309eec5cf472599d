package projections_test

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"testing"

	"github.com/partnercenter/multichannel/internal/audit"
	"github.com/partnercenter/multichannel/projections"
)

// BenchmarkModelMemory folds a generated log (internal/audit's Generate,
// MEMORY_EVENTS events, 200,000 by default) and reports what the read
// models hold after a full collection: bytes per event and per object
// (customer, subscription, relationship). The log itself stays alive in
// the in-memory store and is measured before the fold, so only the
// model's bytes are counted. MEMORY_PROFILE=file writes the heap profile
// taken after the fold (go tool pprof -sample_index=inuse_space file).
//
//	MEMORY_EVENTS=1000000 go test -run '^$' -bench ModelMemory -benchtime 1x ./projections/
func BenchmarkModelMemory(b *testing.B) {
	n := int64(200_000)
	if v := os.Getenv("MEMORY_EVENTS"); v != "" {
		var err error
		if n, err = strconv.ParseInt(v, 10, 64); err != nil {
			b.Fatal(err)
		}
	}
	st := newLogStore(b)
	if _, err := audit.Generate(b.Context(), st.Store, n, audit.GenerateOptions{Seed: 1, Workers: 8}); err != nil {
		b.Fatal(err)
	}
	st.reload(b)
	for b.Loop() {
		before := liveHeap()
		m := projections.New(nil)
		for _, e := range st.all {
			if err := m.Apply(e); err != nil {
				b.Fatal(err)
			}
		}
		after := liveHeap()
		if path := os.Getenv("MEMORY_PROFILE"); path != "" {
			f, err := os.Create(path)
			if err != nil {
				b.Fatal(err)
			}
			if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
				b.Fatal(err)
			}
			f.Close()
		}
		s := m.Snapshot()
		objects := len(s.Partners) + len(s.Customers) + len(s.Subscriptions) + len(s.Relationships)
		held := float64(after - before)
		b.ReportMetric(held/float64(len(st.all)), "model-bytes/event")
		b.ReportMetric(held/float64(objects), "model-bytes/object")
		b.ReportMetric(held/(1<<20), "model-MiB")
		b.ReportMetric(float64(len(st.all)), "events")
		runtime.KeepAlive(m)
	}
	runtime.KeepAlive(st)
}

// liveHeap is the heap in use after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
