// Package audit is what an auditor runs against the event log: verification
// of every stream's hash chain, a digest of the whole log indexed by event
// count, a streaming NDJSON export and its import into an empty store, a
// batch replay into a fresh read model, and a generator of realistic logs
// for benchmarks.
//
// Everything here reads the log through eventstore.Store, so it works on the
// embedded file (opened read-only while the server runs) and on
// EventStoreDB alike. Nothing decodes event JSON unless it has to: hashes
// are computed over the stored bytes, and export copies them as they are.
package audit

import (
	"context"
	"fmt"

	"github.com/partnercenter/multichannel/eventstore"
)

// DefaultPageSize is how many events a log scan reads at a time: large
// enough that the store's per-query cost vanishes, small enough that a page
// stays a few megabytes.
const DefaultPageSize = 4096

// page is one ReadAll result handed from the reading goroutine to the
// consumer, or the error that ended the scan.
type page struct {
	events []eventstore.RecordedEvent
	err    error
}

// scanLog reads the global log after `after`, page by page, and calls fn
// for each page in order until the log ends, fn returns stop or an error, or
// ctx ends. The next page is read while fn works on the current one (a
// two-stage pipeline), which on a machine with two cores nearly hides the
// cheaper of the two stages. fn must not keep the slice past its call
// unless it copies it: the store may reuse nothing, but the contract keeps
// the door open.
func scanLog(ctx context.Context, store eventstore.Store, after eventstore.Position, pageSize int,
	fn func([]eventstore.RecordedEvent) (stop bool, err error)) error {
	if pageSize <= 0 {
		pageSize = DefaultPageSize
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Two pages in flight: one being consumed, one read ahead.
	pages := make(chan page, 1)
	go func() {
		defer close(pages)
		pos := after
		for {
			evs, err := store.ReadAll(ctx, pos, pageSize)
			if err != nil {
				select {
				case pages <- page{err: fmt.Errorf("read the log after %s: %w", pos, err)}:
				case <-ctx.Done():
				}
				return
			}
			if len(evs) == 0 {
				return
			}
			select {
			case pages <- page{events: evs}:
			case <-ctx.Done():
				return
			}
			// Only an empty page ends the scan: a store may return a short
			// page before the end (EventStoreDB leaves out system events).
			pos = evs[len(evs)-1].Position
		}
	}()
	for p := range pages {
		if p.err != nil {
			return p.err
		}
		stop, err := fn(p.events)
		if err != nil || stop {
			return err
		}
	}
	return ctx.Err()
}
