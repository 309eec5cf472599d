package audit

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/partnercenter/multichannel/eventstore"
	"github.com/partnercenter/multichannel/projections"
)

// ReplayOptions narrows Replay.
type ReplayOptions struct {
	// UpTo, when set, stops after the event at that position (events after
	// it are not applied): to rebuild a read model as of a checkpoint.
	UpTo *eventstore.Position
	// PageSize is the size of a log read (default DefaultPageSize).
	PageSize int
	// Progress, when set, is called after each page with the events
	// applied so far, and once at the end.
	Progress func(events int64)
}

// ReplayResult says what a replay folded and how fast.
type ReplayResult struct {
	Events   int64
	Position eventstore.Position // of the last event applied
	Elapsed  time.Duration
}

// Rate is the replay's events per second.
func (r ReplayResult) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Events) / r.Elapsed.Seconds()
}

// Replay folds the global log from its start into m (normally a fresh
// projections.New model): one goroutine reads the log page by page, the
// pages are decoded on every core and folded in log order (a
// projections.Folder), so the replay runs at the pace of the slower of
// reading and folding. This is the batch path of a rebuild; projections.Run
// is the live one (SubscribeAll), and ReplayLive drives that one to a
// position.
func Replay(ctx context.Context, store eventstore.Store, m *projections.Model, opts ReplayOptions) (ReplayResult, error) {
	start := time.Now()
	var res ReplayResult
	f := m.NewFolder()
	// The Folder owns the pages it is handed: no memory comes back.
	err := scanLog(ctx, store, m.Position(), opts.PageSize, false, func(evs []eventstore.RecordedEvent, _ func()) (bool, error) {
		stop := false
		if opts.UpTo != nil {
			n := sort.Search(len(evs), func(i int) bool { return opts.UpTo.Less(evs[i].Position) })
			stop, evs = n < len(evs), evs[:n]
		}
		if err := f.Fold(evs); err != nil {
			return false, err
		}
		if opts.Progress != nil {
			opts.Progress(f.Applied())
		}
		return stop, nil
	})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	res.Events = f.Applied()
	if opts.Progress != nil {
		// The fold runs behind the reading: the count after each page is
		// what was applied by then, and this one is the whole.
		opts.Progress(res.Events)
	}
	if res.Events > 0 {
		res.Position = m.Position()
	}
	res.Elapsed = time.Since(start)
	if err != nil {
		return res, fmt.Errorf("audit: replay: %w", err)
	}
	return res, nil
}

// ReplayLive folds the log into m through projections.Run (the server's
// live path: pages of ReadAll to catch up, then SubscribeAll) until m has
// applied the event at upTo, then stops the subscription. An empty log
// (upTo == Start and nothing to apply) returns at once.
func ReplayLive(ctx context.Context, store eventstore.Store, m *projections.Model, upTo eventstore.Position) (ReplayResult, error) {
	start := time.Now()
	if upTo == eventstore.Start {
		return ReplayResult{}, nil
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- projections.Run(runCtx, store, m) }()
	waitErr := make(chan error, 1)
	go func() { waitErr <- m.WaitFor(runCtx, upTo) }()
	var err error
	select {
	case err = <-waitErr:
		cancel()
		if runErr := <-done; runErr != nil && !errors.Is(runErr, context.Canceled) && err == nil {
			err = runErr
		}
	case err = <-done:
		// Run ended before reaching upTo: the store failed or an event did
		// not apply.
		if err == nil {
			err = errors.New("the subscription ended early")
		}
	}
	res := ReplayResult{Position: m.Position(), Elapsed: time.Since(start)}
	if err != nil {
		return res, fmt.Errorf("audit: live replay to %s: %w", upTo, err)
	}
	return res, nil
}
