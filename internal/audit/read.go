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
	events  []eventstore.RecordedEvent
	release func() // hands the page's memory back (reuse only)
	err     error
}

// spare is how many pages a scan that reuses them keeps for the reader:
// one being read, one read ahead, and those whose events the consumer's
// workers still hold.
const spare = 6

// scanLog reads the global log after `after`, page by page, and calls fn
// for each page in order until the log ends, fn returns stop or an error, or
// ctx ends. The next page is read while fn works on the current one (a
// two-stage pipeline), which on a machine with two cores nearly hides the
// cheaper of the two stages.
//
// With reuse, and a store that is an eventstore.PageReader, the pages are
// read into memory that comes back: fn must call release once nothing
// holds the page's events any more (later, from another goroutine, is
// fine), and the reader reads a later page into it. Otherwise every page
// is the events' own, release does nothing, and fn may keep them.
func scanLog(ctx context.Context, store eventstore.Store, after eventstore.Position, pageSize int, reuse bool,
	fn func(events []eventstore.RecordedEvent, release func()) (stop bool, err error)) error {
	if pageSize <= 0 {
		pageSize = DefaultPageSize
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pr, _ := store.(eventstore.PageReader)
	if !reuse {
		pr = nil
	}
	pool := eventstore.NewPagePool(spare)
	read := func(pos eventstore.Position) page {
		if pr == nil {
			evs, err := store.ReadAll(ctx, pos, pageSize)
			return page{events: evs, release: func() {}, err: err}
		}
		evs, release, err := pool.ReadAllInto(ctx, pr, pos, pageSize)
		return page{events: evs, release: release, err: err}
	}
	// Two pages in flight: one being consumed, one read ahead.
	pages := make(chan page, 1)
	go func() {
		defer close(pages)
		pos := after
		for {
			p := read(pos)
			if p.err != nil {
				select {
				case pages <- page{err: fmt.Errorf("read the log after %s: %w", pos, p.err)}:
				case <-ctx.Done():
				}
				return
			}
			if len(p.events) == 0 {
				return
			}
			// Only an empty page ends the scan: a store may return a short
			// page before the end (EventStoreDB leaves out system events).
			pos = p.events[len(p.events)-1].Position
			select {
			case pages <- p:
			case <-ctx.Done():
				return
			}
		}
	}()
	for p := range pages {
		if p.err != nil {
			return p.err
		}
		stop, err := fn(p.events, p.release)
		if err != nil || stop {
			return err
		}
	}
	return ctx.Err()
}
