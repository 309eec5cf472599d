package audit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/eventstore"
)

// Filter narrows an export; zero fields match everything.
type Filter struct {
	// Stream exports one stream only (read by stream, not by scanning).
	Stream string
	// Types keeps the events of these types.
	Types []string
	// From (inclusive) and To (exclusive) bound the metadata's recordedAt,
	// as the API's event filter does.
	From, To *time.Time
	// FromPosition (inclusive), AfterPosition (exclusive) and ToPosition
	// (inclusive) bound the global position. AfterPosition is the one for
	// incremental exports: the position of the last event already exported.
	FromPosition, AfterPosition, ToPosition *eventstore.Position
}

// Record is one line of an export: the event as stored. Data and Metadata
// are the stored bytes, written as they are (not re-encoded), so hashes
// computed over them still hold. A payload that is not a one-line JSON
// value (never written by this product) is carried base64-encoded in
// DataBase64 or MetadataBase64 instead, so nothing is ever lost.
type Record struct {
	ID             uuid.UUID       `json:"id"`
	Stream         string          `json:"stream"`
	Revision       uint64          `json:"revision"`
	Position       string          `json:"position"`
	Type           string          `json:"type"`
	Data           json.RawMessage `json:"data,omitempty"`
	Metadata       json.RawMessage `json:"metadata,omitempty"`
	DataBase64     []byte          `json:"dataBase64,omitempty"`
	MetadataBase64 []byte          `json:"metadataBase64,omitempty"`
	// Error is set on the last line of an export that failed after its
	// first line was sent (an HTTP export cannot change its status then).
	Error string `json:"error,omitempty"`
}

// Export streams the events matching f to w as NDJSON, one Record per line,
// in log order, page by page: memory stays bounded by a page whatever the
// log's size. If w has a Flush() error or Flush() method (an HTTP response,
// a bufio.Writer), it is flushed after every page.
func Export(ctx context.Context, store eventstore.Store, f Filter, w io.Writer) error {
	_, err := export(ctx, store, f, w)
	return err
}

// export returns how many lines it wrote, so the HTTP handler knows whether
// it may still answer with an error status.
func export(ctx context.Context, store eventstore.Store, f Filter, w io.Writer) (int64, error) {
	bw := bufio.NewWriterSize(w, 64<<10)
	var lines int64
	var line []byte
	flush := func() error {
		if err := bw.Flush(); err != nil {
			return err
		}
		switch fl := w.(type) {
		case interface{ Flush() error }:
			return fl.Flush()
		case interface{ Flush() }:
			fl.Flush()
		}
		return nil
	}
	after := eventstore.Start
	if f.AfterPosition != nil {
		after = *f.AfterPosition
	}
	emit := func(evs []eventstore.RecordedEvent) (bool, error) {
		before := lines
		for i := range evs {
			e := &evs[i]
			if f.ToPosition != nil && f.ToPosition.Less(e.Position) {
				return true, nil
			}
			ok, err := f.match(e)
			if err != nil {
				return false, err
			}
			if !ok {
				continue
			}
			line = appendRecord(line[:0], e)
			if _, err := bw.Write(line); err != nil {
				return false, fmt.Errorf("write: %w", err)
			}
			lines++
		}
		// Flushing a page that added nothing would only commit an HTTP
		// response's status before the export knows it succeeds.
		if lines > before {
			if err := flush(); err != nil {
				return false, fmt.Errorf("write: %w", err)
			}
		}
		return false, nil
	}
	var err error
	if f.Stream != "" {
		err = scanStream(ctx, store, f.Stream, emit)
	} else {
		if f.FromPosition != nil {
			if b := justBefore(*f.FromPosition); after.Less(b) {
				after = b
			}
		}
		// Each line is written before the next page is read into the
		// same memory.
		err = scanLog(ctx, store, after, DefaultPageSize, true, func(evs []eventstore.RecordedEvent, release func()) (bool, error) {
			defer release()
			return emit(evs)
		})
	}
	if err != nil {
		return lines, fmt.Errorf("audit: export: %w", err)
	}
	if err := flush(); err != nil {
		return lines, fmt.Errorf("audit: export: write: %w", err)
	}
	return lines, nil
}

// justBefore is the greatest position that is Less than p: ReadAll reads
// strictly after its argument, and no position lies between the two.
func justBefore(p eventstore.Position) eventstore.Position {
	switch {
	case p.Prepare > 0:
		return eventstore.Position{Commit: p.Commit, Prepare: p.Prepare - 1}
	case p.Commit > 0:
		return eventstore.Position{Commit: p.Commit - 1, Prepare: ^uint64(0)}
	}
	return eventstore.Start
}

// scanStream reads one stream from its start, page by page.
func scanStream(ctx context.Context, store eventstore.Store, stream string,
	fn func([]eventstore.RecordedEvent) (bool, error)) error {
	for from := uint64(0); ; {
		evs, err := store.ReadStream(ctx, stream, eventstore.Forwards, from, DefaultPageSize)
		if errors.Is(err, eventstore.ErrStreamNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", stream, err)
		}
		if len(evs) == 0 {
			return nil
		}
		if stop, err := fn(evs); err != nil || stop {
			return err
		}
		from = evs[len(evs)-1].Revision + 1
	}
}

func (f *Filter) match(e *eventstore.RecordedEvent) (bool, error) {
	if f.FromPosition != nil && e.Position.Less(*f.FromPosition) {
		return false, nil
	}
	if f.AfterPosition != nil && !f.AfterPosition.Less(e.Position) {
		return false, nil
	}
	if f.ToPosition != nil && f.ToPosition.Less(e.Position) {
		return false, nil
	}
	if len(f.Types) > 0 && !slices.Contains(f.Types, e.Type) {
		return false, nil
	}
	if f.From != nil || f.To != nil {
		// Only a time filter pays for decoding the metadata.
		var md struct {
			RecordedAt time.Time `json:"recordedAt"`
		}
		if err := json.Unmarshal(e.Metadata, &md); err != nil {
			return false, fmt.Errorf("%s@%d: decode metadata: %w", e.Stream, e.Revision, err)
		}
		if f.From != nil && md.RecordedAt.Before(*f.From) || f.To != nil && !md.RecordedAt.Before(*f.To) {
			return false, nil
		}
	}
	return true, nil
}

// appendRecord writes e as one NDJSON line by hand: encoding/json would
// re-encode the raw payloads (escaping <, > and & among others) and so
// change the bytes the hashes cover.
func appendRecord(b []byte, e *eventstore.RecordedEvent) []byte {
	b = append(b, `{"id":"`...)
	b = append(b, e.ID.String()...)
	b = append(b, `","stream":`...)
	b = appendString(b, e.Stream)
	b = append(b, `,"revision":`...)
	b = strconv.AppendUint(b, e.Revision, 10)
	b = append(b, `,"position":"`...)
	b = append(b, e.Position.String()...)
	b = append(b, `","type":`...)
	b = appendString(b, e.Type)
	b = appendPayload(b, "data", e.Data)
	b = appendPayload(b, "metadata", e.Metadata)
	return append(b, "}\n"...)
}

// appendString writes s as a JSON string: as it is when it is plain
// printable ASCII (every stream name and type this product writes),
// through encoding/json otherwise.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendPayload writes raw as a JSON member when it is a valid JSON value
// on one line and exactly what a decoder hands back as json.RawMessage (no
// surrounding whitespace); otherwise base64-encoded under name+"Base64".
func appendPayload(b []byte, name string, raw []byte) []byte {
	if len(raw) > 0 && json.Valid(raw) && !bytes.ContainsAny(raw, "\n\r") &&
		len(bytes.TrimSpace(raw)) == len(raw) {
		b = append(b, `,"`...)
		b = append(b, name...)
		b = append(b, `":`...)
		return append(b, raw...)
	}
	b = append(b, `,"`...)
	b = append(b, name...)
	b = append(b, `Base64":"`...)
	b = base64.StdEncoding.AppendEncode(b, raw)
	return append(b, '"')
}
