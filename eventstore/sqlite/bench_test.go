// Benchmarks of the embedded store against this disk's and SQLite's own
// limits. Run them with:
//
//	go test -run '^$' -bench . -benchtime 2s ./eventstore/sqlite/
//
// BenchmarkRawFsync is the baseline for BenchmarkAppend (one 4 KiB write and
// one fdatasync per op: what a single durable commit cannot beat), and
// BenchmarkReadAll/rawscan is the baseline for BenchmarkReadAll/decode.
// BenchmarkAppend also reports its rate as a multiple of a raw fsync rate
// measured in the same process ("x-rawfsync").
package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/partnercenter/multichannel/eventstore"
)

// rawFsync writes 4 KiB and fdatasyncs n times (or, with n = 0, for d),
// cycling over the first 4 MiB of a file the way SQLite reuses its WAL, and
// returns the syncs per second.
func rawFsync(tb testing.TB, dir string, n int, d time.Duration) float64 {
	tb.Helper()
	f, err := os.Create(filepath.Join(dir, "fsync.bin"))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for i := range buf {
		buf[i] = byte(i)
	}
	const span = 4 << 20
	start := time.Now()
	i := 0
	for ; n == 0 && time.Since(start) < d || i < n; i++ {
		if _, err := f.WriteAt(buf, int64(i*len(buf))%span); err != nil {
			tb.Fatal(err)
		}
		if err := fdatasync(f); err != nil {
			tb.Fatal(err)
		}
	}
	return float64(i) / time.Since(start).Seconds()
}

func BenchmarkRawFsync(b *testing.B) {
	dir := b.TempDir()
	b.ResetTimer()
	rate := rawFsync(b, dir, b.N, 0)
	b.ReportMetric(rate, "syncs/s")
}

var (
	baselineOnce sync.Once
	baseline     float64
)

// fsyncBaseline measures the raw fsync rate for one second, once per
// process, for the ratio BenchmarkAppend reports. The disk is shared and
// noisy: compare with BenchmarkRawFsync of the same run as well.
func fsyncBaseline(b *testing.B) float64 {
	baselineOnce.Do(func() {
		dir, err := os.MkdirTemp("", "fsync-baseline")
		if err != nil {
			b.Fatal(err)
		}
		defer os.RemoveAll(dir)
		baseline = rawFsync(b, dir, 0, time.Second)
	})
	return baseline
}

// benchEvent is a ~430-byte event shaped like the product's: JSON data and
// metadata with ids, names and times.
func benchEvent() eventstore.EventData {
	id := uuid.Must(uuid.NewV7())
	data := fmt.Appendf(nil, `{"subscriptionId":%q,"customerId":%q,"fromPartnerId":%q,"toPartnerId":%q,"billingModel":"USAGE_BASED","channel":"CSP_PARTNER","switchedAt":"2026-11-24T16:32:35.123Z"}`,
		uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString())
	meta := fmt.Appendf(nil, `{"schemaVersion":1,"recordedAt":"2026-11-24T16:32:35.123Z","actor":{"userId":%q,"role":"GLOBAL_ADMIN"},"correlationId":%q}`,
		uuid.NewString(), id)
	return eventstore.EventData{ID: id, Type: "SubscriptionSwitched", Data: data, Metadata: meta}
}

func BenchmarkAppend(b *testing.B) {
	for _, appenders := range []int{1, 64} {
		b.Run(fmt.Sprintf("appenders=%d", appenders), func(b *testing.B) {
			base := fsyncBaseline(b)
			s, err := Open(filepath.Join(b.TempDir(), "events.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			// Events and stream names are made before the timer starts.
			events := make([]eventstore.EventData, b.N)
			streams := make([]string, b.N)
			for i := range events {
				events[i] = benchEvent()
				streams[i] = "subscription-" + uuid.Must(uuid.NewV7()).String()
			}
			ctx := context.Background()
			var next atomic.Int64
			var failed atomic.Value
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for range appenders {
				wg.Go(func() {
					for {
						i := int(next.Add(1)) - 1
						if i >= b.N {
							return
						}
						if _, err := s.Append(ctx, streams[i], eventstore.NoStream(), events[i]); err != nil {
							failed.Store(err)
							return
						}
					}
				})
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			if err, _ := failed.Load().(error); err != nil {
				b.Fatal(err)
			}
			rate := float64(b.N) / elapsed.Seconds()
			b.ReportMetric(rate, "events/s")
			b.ReportMetric(rate/base, "x-rawfsync")
		})
	}
}

// readAllEvents is the size of BenchmarkReadAll's log.
const readAllEvents = 200_000

// fillLog appends readAllEvents events in appends of 100 to 2,000 streams.
func fillLog(b *testing.B, s *Store) {
	b.Helper()
	const perAppend, workers = 100, 8
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Value
	for range workers {
		wg.Go(func() {
			evs := make([]eventstore.EventData, perAppend)
			for next.Add(perAppend) <= readAllEvents {
				for i := range evs {
					evs[i] = benchEvent()
				}
				if _, err := s.Append(context.Background(), "subscription-"+uuid.NewString(), eventstore.NoStream(), evs...); err != nil {
					failed.Store(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkReadAll measures reading the global log in pages of readPage.
// One op is one event; the reader wraps to the start at the end of the log.
//
// decode: Store.ReadAll, every column scanned into RecordedEvent fields.
// rawscan: the same query and pages through database/sql with rows.Next
// only (the driver still fetches every column of every row; nothing is
// scanned), i.e. the rate of SQLite and its driver alone.
func BenchmarkReadAll(b *testing.B) {
	path := filepath.Join(b.TempDir(), "events.db")
	s, err := Open(path)
	if err != nil {
		b.Fatal(err)
	}
	fillLog(b, s)
	// Reopened, so that every read comes from the file, as a catch-up or a
	// replay does: the writer's in-memory tail of the latest commits would
	// otherwise answer the end of the log.
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	if s, err = Open(path); err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const readPage = 4096
	ctx := context.Background()

	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		b.ResetTimer()
		start := time.Now()
		pos, n := eventstore.Start, 0
		for n < b.N {
			evs, err := s.ReadAll(ctx, pos, min(readPage, b.N-n))
			if err != nil {
				b.Fatal(err)
			}
			if len(evs) == 0 {
				pos = eventstore.Start
				continue
			}
			n += len(evs)
			pos = evs[len(evs)-1].Position
		}
		b.ReportMetric(float64(n)/time.Since(start).Seconds(), "events/s")
	})

	b.Run("rawscan", func(b *testing.B) {
		b.ReportAllocs()
		b.ResetTimer()
		start := time.Now()
		var after int64
		n := 0
		for n < b.N {
			rows, err := s.reads.all.QueryContext(ctx, after, min(readPage, b.N-n))
			if err != nil {
				b.Fatal(err)
			}
			got := 0
			for rows.Next() {
				got++
			}
			if err := closeRows(rows); err != nil {
				b.Fatal(err)
			}
			if got == 0 {
				after = 0
				continue
			}
			n += got
			after += int64(got) // seq has no gaps in this log
		}
		b.ReportMetric(float64(n)/time.Since(start).Seconds(), "rows/s")
	})
}

func closeRows(rows *sql.Rows) error {
	if err := rows.Err(); err != nil {
		rows.Close()
		return err
	}
	return rows.Close()
}
