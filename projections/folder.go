package projections

import (
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/sourcegraph/conc/stream"

	"github.com/partnercenter/multichannel/eventstore"
)

// FoldBatch is how many events a Folder decodes as one task: enough that
// handing a task over costs nothing next to it, few enough that the fold
// holds the readers up briefly (ApplyDecoded takes the lock once a batch).
const FoldBatch = 256

// A Folder folds events into a model in log order while decoding them on
// every core: a rebuild's cost is then the fold's alone, not the sum of
// decoding and folding. Events are handed over in batches (Fold); each
// batch is decoded by one of runtime.GOMAXPROCS workers, and the batches
// are applied one after the other in the order they were given, by one
// goroutine. At most about twice as many batches as workers are in flight,
// so Fold blocks when the fold falls behind.
//
// The ordered hand-off is sourcegraph/conc's stream: tasks run on a
// bounded pool and their callbacks run one at a time in submission order,
// and a panic in either reaches Close's caller.
//
// A Folder is used by one goroutine. After an error it applies nothing
// more, and Fold and Close return that error.
type Folder struct {
	m        *Model
	s        *stream.Stream
	inflight atomic.Int64 // batches handed over and not yet applied
	applied  atomic.Int64 // events applied
	failed   atomic.Bool
	mu       sync.Mutex
	err      error
}

// NewFolder returns a Folder that folds into m.
func (m *Model) NewFolder() *Folder {
	return &Folder{m: m, s: stream.New().WithMaxGoroutines(runtime.GOMAXPROCS(0))}
}

// inlineBatch is the largest batch Fold decodes and applies on the
// caller's goroutine when nothing else is in flight: a live event alone
// then reaches the model with no hand-off, as fast as before.
const inlineBatch = 8

var decodedPool = sync.Pool{New: func() any { return new([]Decoded) }}

// Fold hands events over to be decoded and applied after the events given
// before them. The Folder owns the slice from then on. It returns the
// error that stopped the fold, if one has; a batch longer than FoldBatch
// is split.
func (f *Folder) Fold(events []eventstore.RecordedEvent) error {
	return f.FoldThen(events, nil)
}

// FoldThen is Fold, and calls done (when not nil) once every one of the
// events is applied, or passed over after an error: from then on nothing
// of them is held, and their memory may be read into again (a page of an
// eventstore.PageReader). done may run on another goroutine. Should Fold
// stop early, on an error, done is not called.
func (f *Folder) FoldThen(events []eventstore.RecordedEvent, done func()) error {
	var held *atomic.Int64
	if done != nil {
		held = new(atomic.Int64)
		held.Store(1) // until every batch is handed over
	}
	release := func() {
		if held != nil && held.Add(-1) == 0 {
			done()
		}
	}
	for len(events) > 0 {
		if f.failed.Load() {
			return f.Err()
		}
		n := min(len(events), FoldBatch)
		batch := events[:n]
		events = events[n:]
		if n <= inlineBatch && f.inflight.Load() == 0 {
			// Every batch before this one is applied (inflight drops
			// after ApplyDecoded returns), so applying here keeps order.
			f.apply(f.decode(batch))
			continue
		}
		f.inflight.Add(1)
		if held != nil {
			held.Add(1)
		}
		f.s.Go(func() stream.Callback {
			ds := f.decode(batch)
			return func() {
				f.apply(ds)
				f.inflight.Add(-1)
				release()
			}
		})
	}
	if f.failed.Load() {
		return f.Err()
	}
	release()
	return nil
}

func (f *Folder) decode(batch []eventstore.RecordedEvent) *[]Decoded {
	p := decodedPool.Get().(*[]Decoded)
	ds := (*p)[:0]
	if cap(ds) < len(batch) {
		ds = make([]Decoded, 0, FoldBatch)
	}
	ds = ds[:len(batch)]
	for i := range batch {
		f.m.Decode(&ds[i], batch[i])
	}
	*p = ds
	return p
}

func (f *Folder) apply(p *[]Decoded) {
	ds := *p
	if !f.failed.Load() {
		n, err := f.m.applyDecoded(ds)
		f.applied.Add(int64(n))
		if err != nil {
			f.mu.Lock()
			f.err = err
			f.mu.Unlock()
			f.failed.Store(true)
		}
	}
	clear(ds) // drop the events' buffers before the slice is reused
	decodedPool.Put(p)
}

// Applied is how many events the Folder has applied so far (a redelivery
// counts, as Apply's nil does).
func (f *Folder) Applied() int64 { return f.applied.Load() }

// Err is the error that stopped the fold, or nil.
func (f *Folder) Err() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// Close waits until every batch handed over is applied (or skipped after
// an error) and returns the error that stopped the fold, if any.
func (f *Folder) Close() error {
	f.s.Wait()
	return f.Err()
}
