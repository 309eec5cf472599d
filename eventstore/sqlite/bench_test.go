// Benchmarks of the embedded store against this disk's and SQLite's own
// limits. Run them with:
//
//	go test -run '^$' -bench . -benchtime 2s ./eventstore/sqlite/
//
// BenchmarkRawFsync is the baseline for BenchmarkAppend (one 4 KiB write and
// one fdatasync per op: what a single durable commit cannot beat), and
// BenchmarkReadAll/rawscan is the baseline for BenchmarkReadAll/decode.
// BenchmarkAppend also reports its rate as a multiple of the raw fsync rate
// measured in the same run ("x-rawfsync"): eight rounds of appends, each
// followed by raw syncs for as long as the round took, in the store's
// directory, so that a disk shared with other work slows both sides of
// the ratio alike. A round ends once the background checkpoint its
// appends made due has finished, so the checkpoints count against the
// appends and never slow the raw syncs.
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

// rawSyncer writes 4 KiB and fdatasyncs, cycling over a 4 MiB file the
// way SQLite reuses its WAL.
type rawSyncer struct {
	f   *os.File
	buf []byte
	i   int
}

// newRawSyncer writes and syncs the whole span once, as SQLite's WAL is
// after its first checkpoint: a sync of a write that grows the file also
// commits the new size, a second flush the WAL does not pay in steady
// state, and the baseline must not either.
func newRawSyncer(tb testing.TB, dir string) *rawSyncer {
	tb.Helper()
	f, err := os.Create(filepath.Join(dir, "fsync.bin"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { f.Close() })
	r := &rawSyncer{f: f, buf: make([]byte, 4096)}
	for i := range r.buf {
		r.buf[i] = byte(i)
	}
	for off := int64(0); off < rawSpan; off += int64(len(r.buf)) {
		if _, err := f.WriteAt(r.buf, off); err != nil {
			tb.Fatal(err)
		}
	}
	if err := f.Sync(); err != nil {
		tb.Fatal(err)
	}
	return r
}

const rawSpan = 4 << 20

// run syncs n times, or with n = 0 for d, and returns how many.
func (r *rawSyncer) run(tb testing.TB, n int, d time.Duration) int {
	start := time.Now()
	done := 0
	for ; n == 0 && time.Since(start) < d || n > 0 && done < n; done++ {
		if _, err := r.f.WriteAt(r.buf, int64(r.i*len(r.buf))%rawSpan); err != nil {
			tb.Fatal(err)
		}
		if err := fdatasync(r.f); err != nil {
			tb.Fatal(err)
		}
		r.i++
	}
	return done
}

func BenchmarkRawFsync(b *testing.B) {
	r := newRawSyncer(b, b.TempDir())
	b.ResetTimer()
	start := time.Now()
	r.run(b, b.N, 0)
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "syncs/s")
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
			dir := b.TempDir()
			s, err := Open(filepath.Join(dir, "events.db"))
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
			raw := newRawSyncer(b, dir)
			// Rounds of appends, each followed by raw syncs for as long as
			// the round took: both rates come from the same minutes of a
			// disk shared with other work.
			const rounds = 8
			var elapsed, rawElapsed time.Duration
			rawSyncs := 0
			b.ResetTimer()
			for r := range rounds {
				end := b.N * (r + 1) / rounds
				start := time.Now()
				var wg sync.WaitGroup
				for range appenders {
					wg.Go(func() {
						for {
							i := int(next.Add(1)) - 1
							if i >= end {
								next.Add(-1)
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
				// A checkpoint the round's appends made due is their
				// cost: it runs in the background, but the raw syncs
				// below must not share the disk with it, so the round
				// ends when it does.
				s.ckpt.wait()
				d := time.Since(start)
				elapsed += d
				b.StopTimer()
				if err, _ := failed.Load().(error); err != nil {
					b.Fatal(err)
				}
				rawStart := time.Now()
				rawSyncs += raw.run(b, 0, d)
				rawElapsed += time.Since(rawStart)
				b.StartTimer()
			}
			b.StopTimer()
			base := float64(rawSyncs) / rawElapsed.Seconds()
			rate := float64(b.N) / elapsed.Seconds()
			b.ReportMetric(rate, "events/s")
			b.ReportMetric(base, "rawfsync/s")
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

	// rawscan steps the same query through database/sql without reading
	// a column: what the driver's own path costs before any decoding.
	b.Run("rawscan", func(b *testing.B) {
		all, err := s.rdb.Prepare(logQuery)
		if err != nil {
			b.Fatal(err)
		}
		defer all.Close()
		b.ReportAllocs()
		b.ResetTimer()
		start := time.Now()
		var after int64
		n := 0
		for n < b.N {
			rows, err := all.QueryContext(ctx, after, min(readPage, b.N-n))
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
