package audit

import (
	"context"
	"fmt"

	"github.com/partnercenter/multichannel/eventstore"
)

// DefaultBatchEvents is how many events Import and Generate put in one
// batch on a store that appends batches (eventstore.BatchAppender): on the
// embedded store one transaction and one fsync per 5,000 events, a few
// MiB of WAL, and a commit of a few tens of milliseconds.
const DefaultBatchEvents = 5000

// maxStreamAppend bounds the events of one Append on a store that does not
// append batches (EventStoreDB): one stream's run of consecutive events.
const maxStreamAppend = 256

// batchWriter appends entries in the order they are added. On a
// BatchAppender it gathers them into batches of about max events, one
// AppendBatch each (all or nothing; an entry's expected revision is
// checked as the entries before it left its stream); otherwise it appends
// each stream's run of consecutive events with one Append, since
// EventStoreDB appends to one stream atomically, never to two. Consecutive
// entries of one stream are merged into one append.
type batchWriter struct {
	store eventstore.Store
	ba    eventstore.BatchAppender // nil: one Append per run
	max   int
	// flushed, when set, is told how many events each write made durable,
	// on the goroutine that calls add, flush and wait.
	flushed func(events int)

	pending []eventstore.StreamAppend
	events  int
	// inflight answers the batch being written, if one is (AppendBatch
	// only): the next batch is gathered, and its events decoded, while the
	// store commits the last one.
	inflight chan error
	written  int // the events of the batch in flight
}

func newBatchWriter(store eventstore.Store, maxEvents int, flushed func(int)) *batchWriter {
	w := &batchWriter{store: store, max: maxEvents, flushed: flushed}
	if w.max <= 0 {
		w.max = DefaultBatchEvents
	}
	if ba, ok := store.(eventstore.BatchAppender); ok {
		w.ba = ba
	} else {
		w.max = min(w.max, maxStreamAppend)
	}
	return w
}

// add queues e after everything added before it, writing what is queued
// when it is a batch's worth (or, without batches, when e is another
// stream's). The events' slices are kept until then.
func (w *batchWriter) add(ctx context.Context, e eventstore.StreamAppend) error {
	if n := len(w.pending); n > 0 && w.pending[n-1].Stream == e.Stream && (w.ba != nil || w.events+len(e.Events) <= w.max) {
		// The same stream's run goes on: one append, under the expected
		// revision of its first part.
		last := &w.pending[n-1]
		last.Events = append(last.Events, e.Events...)
		w.events += len(e.Events)
	} else {
		if w.ba == nil && n > 0 {
			if err := w.flush(ctx); err != nil {
				return err
			}
		}
		w.pending = append(w.pending, eventstore.StreamAppend{
			Stream: e.Stream, Expected: e.Expected, Events: append([]eventstore.EventData(nil), e.Events...),
		})
		w.events += len(e.Events)
	}
	if w.events >= w.max {
		return w.flush(ctx)
	}
	return nil
}

// flush hands what is queued to the store. On a BatchAppender the batch
// is written while the caller goes on (one at a time, so the log keeps the
// order of add); wait collects its outcome. Otherwise it is written before
// flush returns.
func (w *batchWriter) flush(ctx context.Context) error {
	if len(w.pending) == 0 {
		return nil
	}
	if w.ba == nil {
		for _, e := range w.pending {
			if _, err := w.store.Append(ctx, e.Stream, e.Expected, e.Events...); err != nil {
				return fmt.Errorf("append %d events to %s: %w", len(e.Events), e.Stream, err)
			}
		}
		w.done(w.events)
		clear(w.pending) // let the written events' bytes go
		w.pending, w.events = w.pending[:0], 0
		return nil
	}
	if err := w.wait(); err != nil {
		return err
	}
	batch, events := w.pending, w.events
	w.pending, w.events = nil, 0
	w.inflight, w.written = make(chan error, 1), events
	go func() {
		_, err := w.ba.AppendBatch(ctx, batch)
		if err != nil {
			err = fmt.Errorf("append a batch of %d events to %d streams: %w", events, len(batch), err)
		}
		w.inflight <- err
	}()
	return nil
}

// wait returns once the batch in flight, if any, is written, with its
// error. Call flush, then wait, to write everything added.
func (w *batchWriter) wait() error {
	if w.inflight == nil {
		return nil
	}
	err := <-w.inflight
	w.inflight = nil
	if err != nil {
		return err
	}
	w.done(w.written)
	return nil
}

func (w *batchWriter) done(events int) {
	if w.flushed != nil {
		w.flushed(events)
	}
}
