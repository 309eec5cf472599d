package scalar

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

func TestTimeIsUTCWithMilliseconds(t *testing.T) {
	t.Parallel()
	in := time.Date(2026, 1, 2, 3, 4, 5, 678901234, time.FixedZone("X", 3600))
	var b bytes.Buffer
	MarshalTime(in).MarshalGQL(&b)
	if got, want := b.String(), `"2026-01-02T02:04:05.678Z"`; got != want {
		t.Fatalf("MarshalTime = %s, want %s", got, want)
	}
	got, err := UnmarshalTime("2026-01-02T03:04:05.678901+01:00")
	if err != nil || !got.Equal(in.Truncate(time.Millisecond)) || got.Location() != time.UTC {
		t.Fatalf("UnmarshalTime = %v, %v", got, err)
	}
	for _, bad := range []any{
		"2026-01-02", "2026-01-02T03:04:05", "next year", 12, nil,
		// Outside the years 1 to 9999 in UTC.
		"-0001-01-01T00:00:00Z", "10000-01-01T00:00:00Z", "0000-12-31T23:59:59Z",
		"0001-01-01T00:30:00+01:00", "9999-12-31T23:30:00-01:00",
	} {
		_, err := UnmarshalTime(bad)
		if !errors.Is(err, ErrBadTime) || !errors.Is(err, ErrInvalid) {
			t.Errorf("UnmarshalTime(%v) = %v, want ErrBadTime", bad, err)
		}
	}
	for _, edge := range []string{"0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999Z"} {
		if _, err := UnmarshalTime(edge); err != nil {
			t.Errorf("UnmarshalTime(%s): %v", edge, err)
		}
	}
}

func TestJSONRefusalIsInvalid(t *testing.T) {
	t.Parallel()
	if _, err := UnmarshalJSON(func() {}); !errors.Is(err, ErrInvalid) {
		t.Errorf("UnmarshalJSON(func) = %v, want ErrInvalid", err)
	}
	if b, err := UnmarshalJSON(map[string]any{"a": 1}); err != nil || string(b) != `{"a":1}` {
		t.Errorf("UnmarshalJSON = %s, %v", b, err)
	}
}
