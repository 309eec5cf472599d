package audit_test

import (
	"bytes"
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/partnercenter/multichannel/eventstore"
	"github.com/partnercenter/multichannel/eventstore/sqlite"
	"github.com/partnercenter/multichannel/internal/audit"
)

// counting counts the appends and batches that reach a store.
type counting struct {
	eventstore.Store
	mu                         sync.Mutex
	appends, batches, maxBatch int
	streamsInBatch             int // most streams one batch spanned
}

func (c *counting) Append(ctx context.Context, stream string, exp eventstore.ExpectedRevision, evs ...eventstore.EventData) (eventstore.AppendResult, error) {
	c.mu.Lock()
	c.appends++
	c.mu.Unlock()
	return c.Store.Append(ctx, stream, exp, evs...)
}

// batching is a counting store that appends batches.
type batching struct{ *counting }

func (b batching) AppendBatch(ctx context.Context, entries []eventstore.StreamAppend) ([]eventstore.AppendResult, error) {
	b.mu.Lock()
	b.batches++
	n := 0
	streams := map[string]bool{}
	for _, e := range entries {
		n += len(e.Events)
		streams[e.Stream] = true
	}
	b.maxBatch = max(b.maxBatch, n)
	b.streamsInBatch = max(b.streamsInBatch, len(streams))
	b.mu.Unlock()
	return b.Store.(eventstore.BatchAppender).AppendBatch(ctx, entries)
}

func exportOf(t *testing.T, n int64) (*sqlite.Store, []byte) {
	t.Helper()
	src := openRO(t, newLog(t, n))
	var buf bytes.Buffer
	if err := audit.Export(context.Background(), src, audit.Filter{}, &buf); err != nil {
		t.Fatal(err)
	}
	return src, buf.Bytes()
}

func freshStore(t *testing.T) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "imported.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// sameLog checks that dst holds src's events, byte for byte, in order,
// and verifies to the same digest.
func sameLog(t *testing.T, src, dst eventstore.Store) {
	t.Helper()
	a, b := readAll(t, src), readAll(t, dst)
	if len(a) != len(b) {
		t.Fatalf("%d vs %d events", len(a), len(b))
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.ID != y.ID || x.Stream != y.Stream || x.Revision != y.Revision || x.Type != y.Type ||
			!bytes.Equal(x.Data, y.Data) || !bytes.Equal(x.Metadata, y.Metadata) {
			t.Fatalf("event %d differs:\n%+v\n%+v", i, x, y)
		}
	}
	ra, rb := verify(t, src, audit.VerifyOptions{}), verify(t, dst, audit.VerifyOptions{})
	if !rb.Intact() || ra.Digest != rb.Digest {
		t.Fatalf("source %+v\nimported %+v", ra, rb)
	}
}

// On a store that appends batches, import writes batches of about
// BatchEvents events across many streams, and the copy is the source's
// log; progress is told after each batch.
func TestImportAppendsBatchesAcrossStreams(t *testing.T) {
	src, export := exportOf(t, 2000)
	dst := batching{&counting{Store: freshStore(t)}}
	var reported []int64
	n, err := audit.Import(context.Background(), bytes.NewReader(export), dst, audit.ImportOptions{
		BatchEvents: 300, Progress: func(k int64) { reported = append(reported, k) },
	})
	if err != nil || n != 2000 {
		t.Fatalf("import: %d, %v", n, err)
	}
	if dst.appends != 0 || dst.batches != 7 || dst.maxBatch > 300+20 || dst.streamsInBatch < 50 {
		t.Fatalf("%d appends, %d batches of at most %d events spanning up to %d streams; want 0 appends, 7 batches of about 300 events across many streams",
			dst.appends, dst.batches, dst.maxBatch, dst.streamsInBatch)
	}
	if len(reported) != 7 || reported[6] != 2000 {
		t.Fatalf("progress %v, want 7 reports ending at 2000", reported)
	}
	sameLog(t, src, dst)
}

// On a store that does not append batches (EventStoreDB), import appends
// each stream's run of consecutive events with one append, and the copy is
// the same.
func TestImportWithoutBatchesAppendsPerStream(t *testing.T) {
	src, export := exportOf(t, 600)
	dst := &counting{Store: freshStore(t)}
	n, err := audit.Import(context.Background(), bytes.NewReader(export), dst, audit.ImportOptions{})
	if err != nil || n != 600 {
		t.Fatalf("import: %d, %v", n, err)
	}
	if dst.appends == 0 || dst.appends > 600 {
		t.Fatalf("%d appends for 600 events", dst.appends)
	}
	sameLog(t, src, dst)
}

// Generate hands its appends to batches on a store that appends them, and
// appends them itself on one that does not; both logs verify.
func TestGenerateBatches(t *testing.T) {
	batched := batching{&counting{Store: freshStore(t)}}
	if n, err := audit.Generate(context.Background(), batched, 3000, audit.GenerateOptions{Seed: 2, BatchEvents: 500}); err != nil || n != 3000 {
		t.Fatalf("generate: %d, %v", n, err)
	}
	if batched.appends != 0 || batched.batches < 6 || batched.batches > 7 {
		t.Fatalf("%d appends, %d batches; want 0 appends and 6 or 7 batches of 500 events", batched.appends, batched.batches)
	}
	plain := &counting{Store: freshStore(t)}
	if n, err := audit.Generate(context.Background(), plain, 1000, audit.GenerateOptions{Seed: 2}); err != nil || n != 1000 {
		t.Fatalf("generate: %d, %v", n, err)
	}
	if plain.appends == 0 {
		t.Fatal("no appends on a store without batches")
	}
	for _, st := range []eventstore.Store{batched, plain} {
		if rep := verify(t, st, audit.VerifyOptions{}); !rep.Intact() {
			t.Fatalf("generated log: %+v", rep)
		}
	}
}
