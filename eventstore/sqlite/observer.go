package sqlite

import "time"

// CommitStats describes one group commit: one transaction, one fsync.
type CommitStats struct {
	// Appends is how many appends the batch answered (wrong expected
	// revisions and idempotent retries included); Events is how many
	// events it wrote.
	Appends, Events int
	// Duration runs from the transaction's start to its commit (or
	// failure), the fsync included: what every append of the batch waited
	// for once the writer took it.
	Duration time.Duration
	// Err is the failure of the whole batch, if it failed.
	Err error
}

// Observer is told about every group commit (metrics). It is called by
// the writer (its goroutine, or a lone appender's), so it must be quick
// and must not append.
type Observer interface {
	ObserveCommit(CommitStats)
}

// WithObserver reports every group commit to o.
func WithObserver(o Observer) Option {
	return func(opts *options) { opts.observer = o }
}

// observe reports a batch to the observer, if there is one.
func (w *writer) observe(appends, events int, start time.Time, err error) {
	if w.s.opts.observer == nil {
		return
	}
	w.s.opts.observer.ObserveCommit(CommitStats{
		Appends:  appends,
		Events:   events,
		Duration: time.Since(start),
		Err:      err,
	})
}
