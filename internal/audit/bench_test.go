package audit_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/partnercenter/multichannel/eventstore"
	"github.com/partnercenter/multichannel/eventstore/sqlite"
	"github.com/partnercenter/multichannel/internal/audit"
	"github.com/partnercenter/multichannel/projections"
)

// The benchmarks run on one generated log in an embedded store file:
// 100,000 events by default, AUDIT_BENCH_EVENTS=1000000 for the million
// the product is sized for:
//
//	AUDIT_BENCH_EVENTS=1000000 go test -run XXX -bench . -benchtime 1x ./internal/audit/
//
// or, on a log made once and kept (generate -events 1000000 -events-db F),
// AUDIT_BENCH_DB=F instead of AUDIT_BENCH_EVENTS.
//
// Each reports events/s and its ratio to the store's raw read rate
// (ReadAll page by page, nothing decoded), measured in the same run.
//
// The binary's modes (replay, verify) run with GOGC 400 unless GOGC is set
// (the root package's gc.go); so do these benchmarks, to measure what the
// command line does.

var (
	benchOnce sync.Once
	benchPath string
	benchN    int64
	benchRaw  float64 // raw read rate, events/s
	benchDir  string
	benchErr  error
)

func TestMain(m *testing.M) {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(400)
	}
	code := m.Run()
	if benchDir != "" {
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}

func benchLog(b *testing.B) (string, int64, float64) {
	b.Helper()
	benchOnce.Do(func() {
		if benchPath = os.Getenv("AUDIT_BENCH_DB"); benchPath != "" {
			// A log made once (multichannel generate), read-only: its
			// event count is what a scan finds.
			benchN, benchRaw, benchErr = rawRate(benchPath)
			return
		}
		benchN = 100_000
		if v := os.Getenv("AUDIT_BENCH_EVENTS"); v != "" {
			if benchN, benchErr = strconv.ParseInt(v, 10, 64); benchErr != nil {
				return
			}
		}
		if benchDir, benchErr = os.MkdirTemp("", "audit-bench-"); benchErr != nil {
			return
		}
		benchPath = filepath.Join(benchDir, "events.db")
		st, err := sqlite.Open(benchPath)
		if err != nil {
			benchErr = err
			return
		}
		start := time.Now()
		_, benchErr = audit.Generate(context.Background(), st, benchN, audit.GenerateOptions{Seed: 1})
		if err := st.Close(); benchErr == nil {
			benchErr = err
		}
		fmt.Fprintf(os.Stderr, "generated %d events in %s\n", benchN, time.Since(start).Round(time.Millisecond))
		if benchErr != nil {
			return
		}
		_, benchRaw, benchErr = rawRate(benchPath)
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchPath, benchN, benchRaw
}

// rawRate is the raw read rate of the log at path: best of three scans,
// the first warms the page cache.
func rawRate(path string) (int64, float64, error) {
	ro, err := sqlite.OpenReadOnly(path)
	if err != nil {
		return 0, 0, err
	}
	defer ro.Close()
	var n int64
	var best float64
	for range 3 {
		got, d, err := rawScan(ro)
		if err != nil {
			return 0, 0, err
		}
		n, best = got, max(best, float64(got)/d.Seconds())
	}
	return n, best, nil
}

func rawScan(st eventstore.Store) (int64, time.Duration, error) {
	start := time.Now()
	var n int64
	for pos := eventstore.Start; ; {
		evs, err := st.ReadAll(context.Background(), pos, audit.DefaultPageSize)
		if err != nil {
			return n, 0, err
		}
		if len(evs) == 0 {
			return n, time.Since(start), nil
		}
		n += int64(len(evs))
		pos = evs[len(evs)-1].Position
	}
}

func report(b *testing.B, events int64, elapsed time.Duration, raw float64, cpu time.Duration) {
	rate := float64(events) / elapsed.Seconds()
	b.ReportMetric(rate, "events/s")
	b.ReportMetric(rate/raw, "x-raw-read")
	b.ReportMetric(raw, "raw-events/s")
	// Events per second of this process's CPU time: on a machine shared
	// with other work, wall-clock rates move with the load; this one much
	// less (it is what two idle cores would give at most twice of).
	b.ReportMetric(float64(events)/cpu.Seconds(), "events/cpu-s")
}

// cpuTime is the process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkReadAll is the store's raw read rate: ReadAll page by page,
// nothing decoded.
func BenchmarkReadAll(b *testing.B) {
	path, n, raw := benchLog(b)
	st, err := sqlite.OpenReadOnly(path)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	b.ResetTimer()
	var total time.Duration
	cpu0 := cpuTime()
	for b.Loop() {
		got, d, err := rawScan(st)
		if err != nil || got != n {
			b.Fatal(got, err)
		}
		total += d
	}
	report(b, n*int64(b.N), total, raw, cpuTime()-cpu0)
}

// BenchmarkReplay folds the whole log into a fresh projections.Model.
func BenchmarkReplay(b *testing.B) {
	path, n, raw := benchLog(b)
	st, err := sqlite.OpenReadOnly(path)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	b.ResetTimer()
	var total time.Duration
	cpu0 := cpuTime()
	for b.Loop() {
		res, err := audit.Replay(context.Background(), st, projections.New(nil), audit.ReplayOptions{})
		if err != nil || res.Events != n {
			b.Fatal(res, err)
		}
		total += res.Elapsed
	}
	report(b, n*int64(b.N), total, raw, cpuTime()-cpu0)
}

// BenchmarkVerify recomputes every hash chain and the log digest.
func BenchmarkVerify(b *testing.B) {
	path, n, raw := benchLog(b)
	st, err := sqlite.OpenReadOnly(path)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	b.ResetTimer()
	var total time.Duration
	cpu0 := cpuTime()
	for b.Loop() {
		start := time.Now()
		rep, err := audit.Verify(context.Background(), st, audit.VerifyOptions{})
		if err != nil || rep.EventCount != n || !rep.Intact() {
			b.Fatal(rep, err)
		}
		total += time.Since(start)
	}
	report(b, n*int64(b.N), total, raw, cpuTime()-cpu0)
}

// appendOnly hides a store's AppendBatch: Import and Generate then append
// one stream at a time, as they do on EventStoreDB and as they did on the
// embedded store before batches (the baselines below).
type appendOnly struct{ eventstore.Store }

// BenchmarkGenerate writes a log in batches (the embedded store's
// AppendBatch), against the same generator appending each request through
// Append with 256 concurrent workers (group commit), in the same run.
func BenchmarkGenerate(b *testing.B) {
	const n = 20_000
	gen := func(b *testing.B, wrap func(eventstore.Store) eventstore.Store) time.Duration {
		st, err := sqlite.Open(filepath.Join(b.TempDir(), "gen.db"))
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		start := time.Now()
		if _, err := audit.Generate(context.Background(), wrap(st), n, audit.GenerateOptions{}); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	var batched, appends time.Duration
	for b.Loop() {
		appends += gen(b, func(s eventstore.Store) eventstore.Store { return appendOnly{s} }) / 2
		batched += gen(b, func(s eventstore.Store) eventstore.Store { return s })
		appends += gen(b, func(s eventstore.Store) eventstore.Store { return appendOnly{s} }) / 2
	}
	rate, base := float64(n*b.N)/batched.Seconds(), float64(n*b.N)/appends.Seconds()
	b.ReportMetric(rate, "events/s")
	b.ReportMetric(base, "append-events/s")
	b.ReportMetric(rate/base, "x-append")
}

// BenchmarkImport imports an export of the benchmark log into a fresh
// embedded store in batches (AppendBatch, DefaultBatchEvents), against the
// baseline of one append per stream's run of events, one after the other
// (an import without batches), measured in the same run on the export's
// first importBaselineEvents events, before and after.
func BenchmarkImport(b *testing.B) {
	path, n, _ := benchLog(b)
	src, err := sqlite.OpenReadOnly(path)
	if err != nil {
		b.Fatal(err)
	}
	var export bytes.Buffer
	err = audit.Export(context.Background(), src, audit.Filter{}, &export)
	src.Close()
	if err != nil {
		b.Fatal(err)
	}
	// A prefix of a log's export is a whole log: every stream in it starts
	// at revision 0 and has no gap.
	prefix := export.Bytes()
	for i, lines := 0, 0; i < len(prefix); i++ {
		if prefix[i] == '\n' {
			if lines++; lines == importBaselineEvents {
				prefix = prefix[:i+1]
				break
			}
		}
	}
	imp := func(b *testing.B, in []byte, wrap func(eventstore.Store) eventstore.Store) (int, time.Duration) {
		st, err := sqlite.Open(filepath.Join(b.TempDir(), "imported.db"))
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		start := time.Now()
		got, err := audit.Import(context.Background(), bytes.NewReader(in), wrap(st), audit.ImportOptions{})
		if err != nil {
			b.Fatal(err)
		}
		return got, time.Since(start)
	}
	appendOnlyStore := func(s eventstore.Store) eventstore.Store { return appendOnly{s} }
	var batched, appends, cpu time.Duration
	var baseEvents int
	b.ResetTimer()
	for b.Loop() {
		k, d := imp(b, prefix, appendOnlyStore)
		baseEvents, appends = baseEvents+k, appends+d
		cpu0 := cpuTime()
		got, d := imp(b, export.Bytes(), func(s eventstore.Store) eventstore.Store { return s })
		if int64(got) != n {
			b.Fatalf("imported %d of %d events", got, n)
		}
		batched, cpu = batched+d, cpu+cpuTime()-cpu0
		k, d = imp(b, prefix, appendOnlyStore)
		baseEvents, appends = baseEvents+k, appends+d
	}
	rate, base := float64(n*int64(b.N))/batched.Seconds(), float64(baseEvents)/appends.Seconds()
	b.ReportMetric(rate, "events/s")
	b.ReportMetric(base, "per-stream-events/s")
	b.ReportMetric(rate/base, "x-per-stream")
	// As in report: the rate per second of this process's CPU, which a
	// machine shared with other work moves much less.
	b.ReportMetric(float64(n*int64(b.N))/cpu.Seconds(), "events/cpu-s")
}

// importBaselineEvents is the size of BenchmarkImport's baseline import:
// at a few thousand appends per second, a few seconds.
const importBaselineEvents = 5000
