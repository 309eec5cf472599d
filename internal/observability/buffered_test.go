package observability_test

import (
	"testing"
	"time"

	"github.com/partnercenter/multichannel/internal/observability"
)

func TestBufferedWriterFlushesPeriodicallyAndOnClose(t *testing.T) {
	t.Parallel()
	var out syncBuffer
	w := observability.NewBufferedWriter(&out, 10*time.Millisecond)
	w.Write([]byte("one\n"))
	deadline := time.Now().Add(5 * time.Second)
	for out.String() != "one\n" {
		if time.Now().After(deadline) {
			t.Fatalf("not flushed by the ticker: %q", out.String())
		}
		time.Sleep(time.Millisecond)
	}
	w.Write([]byte("two\n"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "one\ntwo\n" {
		t.Fatalf("after Close: %q", got)
	}
}
