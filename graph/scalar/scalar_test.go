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
	for _, bad := range []any{"2026-01-02", "2026-01-02T03:04:05", 12, nil} {
		if _, err := UnmarshalTime(bad); !errors.Is(err, ErrBadTime) {
			t.Errorf("UnmarshalTime(%v) = %v, want ErrBadTime", bad, err)
		}
	}
}
