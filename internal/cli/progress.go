package cli

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progress shows how far a long mode is: a progress bar with the rate and
// the time left on a terminal, and a plain line every few seconds when the
// output is a file or a pipe (logs, CI), where a bar's redraws are noise.
type progress struct {
	mu          sync.Mutex
	w           io.Writer
	verb, unit  string
	total, n    int64
	bar         *progressbar.ProgressBar
	start, last time.Time
}

// lineEvery is how often the plain progress line is printed (a variable
// so that tests see lines without waiting).
var lineEvery = 2 * time.Second

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// newProgress starts a progress report of total events (total <= 0: unknown).
func newProgress(w io.Writer, total int64, verb string) *progress {
	return newProgressIn(w, total, verb, "events")
}

// newProgressIn is newProgress counting unit ("events", "bytes").
func newProgressIn(w io.Writer, total int64, verb, unit string) *progress {
	p := &progress{w: w, verb: verb, unit: unit, total: total, start: time.Now()}
	p.last = p.start
	if isTerminal(w) {
		max := total
		if max <= 0 {
			max = -1 // a spinner: the total is unknown
		}
		p.bar = progressbar.NewOptions64(max,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription(verb),
			progressbar.OptionSetItsString(unit),
			progressbar.OptionShowIts(),
			progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionFullWidth(),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
		)
	}
	return p
}

// set reports that n events are done.
func (p *progress) set(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n = n
	if p.bar != nil {
		_ = p.bar.Set64(n) // only a write error of the terminal
		return
	}
	now := time.Now()
	if now.Sub(p.last) < lineEvery {
		return
	}
	p.last = now
	elapsed := now.Sub(p.start).Seconds()
	rate := float64(n) / elapsed
	if p.total > 0 && rate > 0 {
		left := time.Duration(float64(p.total-n) / rate * float64(time.Second))
		fmt.Fprintf(p.w, "%s %d/%d %s (%.0f%%), %.0f %s/s, %s left\n",
			p.verb, n, p.total, p.unit, 100*float64(n)/float64(p.total), rate, p.unit, left.Round(time.Second))
		return
	}
	fmt.Fprintf(p.w, "%s %d %s, %.0f %s/s\n", p.verb, n, p.unit, rate, p.unit)
}

// done is the last count set.
func (p *progress) done() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n
}

// finish ends the bar.
func (p *progress) finish(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		_ = p.bar.Set64(n)
		_ = p.bar.Finish()
	}
}
