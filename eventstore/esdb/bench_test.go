package esdb

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/partnercenter/multichannel/eventstore"
	"github.com/partnercenter/multichannel/eventstore/esdb/esdbtest"
)

// The figures measure the adapter and the v4 client over loopback gRPC,
// with an in-memory double as the server: the client-side cost of a call,
// not EventStoreDB's throughput.

// BenchmarkAppendExact appends one event per call with an exact revision,
// from parallel writers on streams of their own.
func BenchmarkAppendExact(b *testing.B) {
	d := esdbtest.NewServer(b)
	s := openB(b, d)
	ctx := b.Context()
	var writer atomic.Int64
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		stream := fmt.Sprintf("partner-bench%d", writer.Add(1))
		exp := eventstore.NoStream()
		for pb.Next() {
			res, err := s.Append(ctx, stream, exp, testEvents(1, "T")...)
			if err != nil {
				b.Error(err)
				return
			}
			exp = eventstore.Exact(res.NextRevision)
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "appends/s")
}

// BenchmarkReadAll reads the global log in pages of 1,000, skipping the
// double's projection links as it would a real node's.
func BenchmarkReadAll(b *testing.B) {
	d := esdbtest.NewServer(b)
	s := openB(b, d)
	ctx := b.Context()
	const n = 5000
	for i := 0; i < n; i += 10 {
		if _, err := s.Append(ctx, fmt.Sprintf("customer-%d", i), eventstore.NoStream(), testEvents(10, "T")...); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		read, after := 0, eventstore.Start
		for {
			page, err := s.ReadAll(ctx, after, 1000)
			if err != nil {
				b.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			read += len(page)
			after = page[len(page)-1].Position
		}
		if read != n {
			b.Fatalf("read %d events, want %d", read, n)
		}
	}
	b.ReportMetric(float64(b.N*n)/time.Since(start).Seconds(), "events/s")
}

func openB(b *testing.B, d *esdbtest.Server) *Store {
	b.Helper()
	s, err := Open(b.Context(), d.URL(), WithLogger(quiet))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}
