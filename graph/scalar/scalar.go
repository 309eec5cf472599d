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

// ErrInvalid is matched (errors.Is) by every refusal of a value given for
// one of these scalars: the client's input, not the server's failure, so
// the API answers it BAD_USER_INPUT naming the argument or field.
var ErrInvalid = errors.New("invalid scalar value")

// ErrBadTime is returned for a Time that is not RFC 3339 with a zone, or
// whose instant is outside the years 1 to 9999 in UTC.
var ErrBadTime error = &valueError{"time must be an RFC 3339 string with a zone, between years 1 and 9999 in UTC, e.g. 2026-01-31T12:00:00Z"}

type valueError struct{ msg string }

func (e *valueError) Error() string        { return e.msg }
func (e *valueError) Is(target error) bool { return target == ErrInvalid }

// UnmarshalTime accepts RFC 3339 (with a zone) and returns it in UTC, at the
// API's millisecond precision. The instant must fall in the years 1 to 9999
// in UTC: what RFC 3339 can write, and what the events' JSON encoding
// accepts (a time of 9999-12-31T23:30:00-01:00 is in year 10000 in UTC).
func UnmarshalTime(v any) (time.Time, error) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, fmt.Errorf("%w, not %T", ErrBadTime, v)
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w, not %q", ErrBadTime, s)
	}
	t = t.UTC().Truncate(time.Millisecond)
	if y := t.Year(); y < 1 || y > 9999 {
		return time.Time{}, fmt.Errorf("%w, not %q", ErrBadTime, s)
	}
	return t, nil
}

var errBadJSON error = &valueError{"JSON must be a JSON value"}

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
		return nil, fmt.Errorf("%w: %v", errBadJSON, err)
	}
	return b, nil
}
