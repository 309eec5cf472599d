// Command laggyserver is the API server whose read models see the log
// late: every event the read models' subscription delivers is held back
// for SUBSCRIPTION_LAG (default 300ms) after it arrived. It is a test
// program, not part of the product: the multi-process tests run it beside
// the real servers to show that a query on a lagging server reads stale
// data unless it carries the X-Consistency-Token of the write it follows.
//
// Its flags and environment are the server's (app.ParseConfig), plus
// SUBSCRIPTION_LAG.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/partnercenter/multichannel/eventstore"
	"github.com/partnercenter/multichannel/internal/app"
	"github.com/partnercenter/multichannel/internal/faultstore"
)

func main() {
	slog.SetDefault(app.NewLogger())
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	lag, err := time.ParseDuration(app.Env("SUBSCRIPTION_LAG", "300ms"))
	if err != nil || lag < 0 {
		fmt.Fprintln(os.Stderr, "laggyserver: SUBSCRIPTION_LAG must be a duration, e.g. 300ms")
		os.Exit(2)
	}
	cfg, err := app.ParseConfig(os.Args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "laggyserver: bad configuration:", err)
		os.Exit(2)
	}
	a, err := app.New(cfg, app.WithStoreWrapper(func(s eventstore.Store) eventstore.Store {
		return &laggy{Store: faultstore.New(s), lag: lag}
	}))
	if err == nil {
		err = a.Run(ctx)
	}
	if err != nil {
		slog.Error("server stopped", "err", err)
		stop()
		os.Exit(1)
	}
}

// laggy delays the subscription's deliveries; every other call goes
// through the fault store unchanged.
type laggy struct {
	*faultstore.Store
	lag time.Duration
}

// SubscribeAll delivers each event lag after the subscription received
// it. The events are queued as they arrive, so the delay does not add up
// over a burst: each one is late by lag, not by lag times its place.
func (l *laggy) SubscribeAll(ctx context.Context, after eventstore.Position, fn func(eventstore.RecordedEvent) error) error {
	type arrival struct {
		e  eventstore.RecordedEvent
		at time.Time
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	queue := make(chan arrival, 65536)
	done := make(chan error, 1)
	go func() {
		done <- l.Store.SubscribeAll(ctx, after, func(e eventstore.RecordedEvent) error {
			select {
			case queue <- arrival{e, time.Now()}:
				return nil
			case <-ctx.Done():
				return context.Cause(ctx)
			}
		})
		close(queue)
	}()
	for a := range queue {
		select {
		case <-time.After(time.Until(a.at.Add(l.lag))):
		case <-ctx.Done():
			return <-done
		}
		if err := fn(a.e); err != nil {
			cancel(err)
			<-done
			return err
		}
	}
	return <-done
}
