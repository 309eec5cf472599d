// Package scalar holds the GraphQL scalars the schema binds: Time, always
// answered in UTC with millisecond precision, and JSON, an event's data
// passed through as the bytes recorded.
package scalar

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/99designs/gqlgen/graphql"
)

// timeLayout is RFC 3339 with exactly three fractional digits, so that every
// instant the API answers has the same shape and sorts as text.
const timeLayout = "2006-01-02T15:04:05.000Z07:00"

// MarshalTime writes t in UTC with millisecond precision.
func MarshalTime(t time.Time) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		io.WriteString(w, strconv.Quote(t.UTC().Truncate(time.Millisecond).Format(timeLayout)))
	})
}

// ErrBadTime is returned for a Time that is not RFC 3339 with a zone.
var ErrBadTime = errors.New("time must be an RFC 3339 string with a zone, e.g. 2026-01-31T12:00:00Z")

// UnmarshalTime accepts RFC 3339 (with a zone) and returns it in UTC, at the
// API's millisecond precision.
func UnmarshalTime(v any) (time.Time, error) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, ErrBadTime
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: %q", ErrBadTime, s)
	}
	return t.UTC().Truncate(time.Millisecond), nil
}

// MarshalJSON writes raw JSON as it is (it was validated when recorded).
func MarshalJSON(raw json.RawMessage) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		if len(raw) == 0 {
			io.WriteString(w, "null")
			return
		}
		w.Write(raw)
	})
}

// UnmarshalJSON accepts any JSON value given as a GraphQL input.
func UnmarshalJSON(v any) (json.RawMessage, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("JSON scalar: %w", err)
	}
	return b, nil
}
