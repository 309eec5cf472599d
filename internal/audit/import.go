package audit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/partnercenter/multichannel/eventstore"
)

// ErrBadExport is wrapped by Import for input that is not a whole export of
// a log (a malformed line, a stream that does not start at revision 0, a
// gap, events out of log order, or an export that ended with an error).
var ErrBadExport = errors.New("audit: not an importable export")

// ImportOptions tune Import.
type ImportOptions struct {
	// BatchEvents is how many events go in one batch on a store that
	// appends batches (default DefaultBatchEvents).
	BatchEvents int
	// Progress, when set, is told the events appended so far, after each
	// write.
	Progress func(appended int64)
}

// Import appends an export (Export's NDJSON) into an empty store, in the
// export's order, keeping every stream name, revision, event id, type, and
// the data and metadata bytes exactly, so that every hash chain and the log
// digest verify on the new store as on the old one. Each append names the
// exact expected revision (NoStream for a stream's first event), so an
// import can never interleave with another writer unnoticed.
//
// On a store that appends batches (eventstore.BatchAppender: the embedded
// store) the events go in batches of about opts.BatchEvents that span many
// streams, in log order, each one transaction and one fsync: the bytes and
// the order are those of one event at a time, at the disk's pace. On
// another store (EventStoreDB, which appends to one stream at a time),
// each run of consecutive events of one stream is one append, one after
// the other (see docs/audit.md). Positions are the new store's own. It
// returns how many events it appended.
func Import(ctx context.Context, r io.Reader, store eventstore.Store, opts ImportOptions) (n int, err error) {
	if evs, err := store.ReadAll(ctx, eventstore.Start, 1); err != nil {
		return 0, fmt.Errorf("audit: import: %w", err)
	} else if len(evs) > 0 {
		return 0, fmt.Errorf("audit: import: %w", ErrNotEmpty)
	}
	br := bufio.NewReaderSize(r, 1<<20)
	next := make(map[string]uint64)
	var (
		lineNo  int
		lastPos *eventstore.Position
	)
	w := newBatchWriter(store, opts.BatchEvents, func(events int) {
		n += events
		if opts.Progress != nil {
			opts.Progress(int64(n))
		}
	})
	defer func() {
		if err != nil {
			// A batch still in flight counts in n if it was written.
			_ = w.wait()
		}
	}()
	for {
		line, readErr := br.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			lineNo++
			var rec Record
			if err := json.Unmarshal(line, &rec); err != nil {
				return n, fmt.Errorf("audit: import: line %d: %w: %w", lineNo, ErrBadExport, err)
			}
			if rec.Error != "" {
				return n, fmt.Errorf("audit: import: line %d: %w: the export failed: %s", lineNo, ErrBadExport, rec.Error)
			}
			if rec.Stream == "" || rec.Type == "" {
				return n, fmt.Errorf("audit: import: line %d: %w: no stream or type", lineNo, ErrBadExport)
			}
			// Log order: positions (those of the exporting store) increase.
			if pos, err := eventstore.ParsePosition(rec.Position); err == nil {
				if lastPos != nil && !lastPos.Less(pos) {
					return n, fmt.Errorf("audit: import: line %d: %w: position %s after %s", lineNo, ErrBadExport, pos, lastPos)
				}
				lastPos = &pos
			}
			if want := next[rec.Stream]; rec.Revision != want {
				return n, fmt.Errorf("audit: import: line %d: %w: %s revision %d, expected %d (an export of a whole log or of whole streams is needed)",
					lineNo, ErrBadExport, rec.Stream, rec.Revision, want)
			}
			data, md := []byte(rec.Data), []byte(rec.Metadata)
			if rec.DataBase64 != nil {
				data = rec.DataBase64
			}
			if rec.MetadataBase64 != nil {
				md = rec.MetadataBase64
			}
			expected := eventstore.NoStream()
			if rec.Revision > 0 {
				expected = eventstore.Exact(rec.Revision - 1)
			}
			ev := eventstore.EventData{ID: rec.ID, Type: rec.Type, Data: data, Metadata: md}
			if err := w.add(ctx, eventstore.StreamAppend{Stream: rec.Stream, Expected: expected, Events: []eventstore.EventData{ev}}); err != nil {
				return n, fmt.Errorf("audit: import: line %d: %w", lineNo, err)
			}
			next[rec.Stream] = rec.Revision + 1
		}
		if readErr == io.EOF {
			break
		}
		if readErr != nil {
			return n, fmt.Errorf("audit: import: read line %d: %w", lineNo+1, readErr)
		}
	}
	if err := w.flush(ctx); err != nil {
		return n, fmt.Errorf("audit: import: %w", err)
	}
	if err := w.wait(); err != nil {
		return n, fmt.Errorf("audit: import: %w", err)
	}
	return n, nil
}
