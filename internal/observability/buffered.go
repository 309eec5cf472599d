package observability

import (
	"bufio"
	"io"
	"sync"
	"time"
)

// BufferedWriter gathers log lines and writes them in batches: at most
// every interval, or sooner when its buffer fills. One line per request
// written straight to stderr is one write system call per request, a
// noticeable share of a small query's cost; batched, it is one per batch.
// The price is that the last interval's lines are lost if the process is
// killed, so only the request log uses it: warnings and errors are still
// written at once by the default logger.
type BufferedWriter struct {
	mu   sync.Mutex
	buf  *bufio.Writer
	stop chan struct{}
	done chan struct{}
}

// NewBufferedWriter writes to w, flushing every interval.
func NewBufferedWriter(w io.Writer, interval time.Duration) *BufferedWriter {
	b := &BufferedWriter{buf: bufio.NewWriterSize(w, 64<<10), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(b.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				b.Flush()
			case <-b.stop:
				return
			}
		}
	}()
	return b
}

// Write buffers p; slog handlers write one whole line per call.
func (b *BufferedWriter) Write(p []byte) (int, error) {
	b.mu.Lock()
	n, err := b.buf.Write(p) // bufio.Writer.Write does not panic
	b.mu.Unlock()
	return n, err
}

// Flush writes what is buffered.
func (b *BufferedWriter) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Flush()
}

// Close stops the periodic flush and flushes the rest.
func (b *BufferedWriter) Close() error {
	close(b.stop)
	<-b.done
	return b.Flush()
}
