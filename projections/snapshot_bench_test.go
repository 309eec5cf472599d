package projections_test

import (
	"io"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/partnercenter/multichannel/projections"
)

// snapshotFixture is a generated log of a million events folded into a
// model and written as a snapshot file, built once per test binary: the
// benchmarks below share it across -count runs.
var snapshotFixture struct {
	once  sync.Once
	model *projections.Model
	path  string
	size  int64
	dir   string
}

func millionSnapshot(b *testing.B) (*projections.Model, string, int64) {
	b.Helper()
	f := &snapshotFixture
	f.once.Do(func() {
		st := generated(b, 1_000_000, 1)
		f.model = projections.New(nil)
		fold(b, f.model, st, 0, len(st.all))
		dir, err := os.MkdirTemp("", "snapshot-bench-")
		if err != nil {
			b.Fatal(err)
		}
		f.dir = dir
		info, err := projections.SaveSnapshot(dir, f.model)
		if err != nil {
			b.Fatal(err)
		}
		f.path, f.size = info.Path, info.Bytes
	})
	if f.path == "" {
		b.Fatal("no snapshot fixture (its build failed)")
	}
	return f.model, f.path, f.size
}

// TestMain removes the benchmarks' snapshot file, which outlives any one
// benchmark's temporary directory.
func TestMain(m *testing.M) {
	code := m.Run()
	if snapshotFixture.dir != "" {
		os.RemoveAll(snapshotFixture.dir)
	}
	os.Exit(code)
}

// BenchmarkSnapshotMillion loads the snapshot of a generated log of
// 1,000,000 events (ReadSnapshot: the digest checked, the state decoded
// and the model restored, with the events index) against the raw read of
// the same file's bytes (os.ReadFile, from the page cache as the load
// reads it) in the same iterations, and reports the load as a multiple
// of the raw read (x-rawread). It also writes the snapshot (to a discarding
// writer: the encoding, not the disk) and reports how long the copy held
// the fold, and the process's CPU time per operation (cpu-ms/op), which
// other work on the machine does not inflate as it does the wall clock.
// Building the log takes about a minute and 2 GB; run it on its own:
// go test -run XXX -bench SnapshotMillion -benchtime 5x -count 3 ./projections/
func BenchmarkSnapshotMillion(b *testing.B) {
	m, path, size := millionSnapshot(b)
	b.Run("load", func(b *testing.B) {
		b.SetBytes(size)
		// Each iteration reads the file raw too, untimed, so that the
		// ratio pairs a load with raw reads of the same moments.
		var raw, load time.Duration
		cpu, rawCPU := processCPU(), time.Duration(0)
		for b.Loop() {
			b.StopTimer()
			start, c := time.Now(), processCPU()
			if _, err := os.ReadFile(path); err != nil {
				b.Fatal(err)
			}
			raw += time.Since(start)
			rawCPU += processCPU() - c
			b.StartTimer()
			start = time.Now()
			f, err := os.Open(path)
			if err != nil {
				b.Fatal(err)
			}
			got, _, err := projections.ReadSnapshot(f, size, nil)
			f.Close()
			if err != nil || got.EventCount() != m.EventCount() {
				b.Fatal(err)
			}
			load += time.Since(start)
		}
		b.ReportMetric(float64(raw.Microseconds())/1000/float64(b.N), "rawread-ms/op")
		b.ReportMetric(float64(load)/float64(raw), "x-rawread")
		reportCPU(b, cpu+rawCPU)
	})
	b.Run("write", func(b *testing.B) {
		b.SetBytes(size)
		var held time.Duration
		cpu := processCPU()
		for b.Loop() {
			info, err := m.WriteSnapshot(io.Discard)
			if err != nil {
				b.Fatal(err)
			}
			held = max(held, info.Held)
		}
		b.ReportMetric(float64(held.Microseconds())/1000, "ms-held-max")
		reportCPU(b, cpu)
	})
}

// reportCPU reports the process's CPU time per iteration since cpu (all
// threads: the decoding goroutines and the collector included).
func reportCPU(b *testing.B, cpu time.Duration) {
	if used := processCPU() - cpu; used > 0 {
		b.ReportMetric(float64(used.Milliseconds())/float64(b.N), "cpu-ms/op")
	}
}
