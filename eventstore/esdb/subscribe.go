package esdb

import (
	"context"
	"errors"
	"fmt"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"

	"github.com/partnercenter/multichannel/eventstore"
)

// handlerError carries an error returned by the subscriber's fn, which
// SubscribeAll returns as is.
type handlerError struct{ err error }

func (e *handlerError) Error() string { return e.err.Error() }

// SubscribeAll implements eventstore.Store with a catch-up subscription to
// $all, filtered on the server to the product's events (event types not
// starting with "$").
//
// EventStoreDB's subscriptions start after the given position, which is the
// exclusive start the interface asks for. When the subscription drops
// (connection lost, node restarted, leader changed), it is made again from
// the last event delivered to fn, the checkpoint, after a backoff: nothing is
// lost and nothing is delivered twice. It goes on until ctx ends (returning
// ctx.Err()), fn fails (returning fn's error), the store is closed
// (eventstore.ErrClosed) or the server refuses the subscription for a reason
// that waiting will not fix (access denied, for example).
func (s *Store) SubscribeAll(ctx context.Context, after eventstore.Position, fn func(eventstore.RecordedEvent) error) error {
	if s.isClosed() {
		return fmt.Errorf("esdb: subscribe to $all: %w", eventstore.ErrClosed)
	}
	// Close ends the subscription through its context: the client is closed
	// only by this goroutine, which alone uses it (see pool.go).
	subCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-s.done:
			cancel()
		case <-subCtx.Done():
		}
	}()

	var c *esdb.Client
	defer func() {
		if c != nil {
			_ = c.Close()
		}
	}()
	checkpoint := after
	wait := s.retry.initial
	for {
		var err error
		if c == nil {
			c, err = s.newClient()
			if err != nil {
				return err
			}
		}
		progressed, err := s.subscribeOnce(subCtx, c, &checkpoint, fn)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var he *handlerError
		if errors.As(err, &he) {
			return he.err
		}
		if s.isClosed() {
			return fmt.Errorf("esdb: subscribe to $all: %w", eventstore.ErrClosed)
		}
		if !transient(err) {
			return s.translate(ctx, "subscribe to $all", err)
		}
		if selfClosed(err) {
			_ = c.Close()
			c = nil
		}
		if progressed {
			wait = s.retry.initial // a working subscription dropped: start over
		}
		s.log.Warn("esdb: subscription to $all dropped; resubscribing",
			"after", checkpoint.String(), "wait", wait, "err", err)
		if werr := s.sleep(subCtx, wait); werr != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("esdb: subscribe to $all: %w", eventstore.ErrClosed)
		}
		wait = min(2*wait, s.retry.max)
	}
}

// subscribeOnce runs one subscription on c from *checkpoint until it drops,
// advancing *checkpoint past every event fn accepted. progressed reports
// whether any event was delivered.
func (s *Store) subscribeOnce(ctx context.Context, c *esdb.Client, checkpoint *eventstore.Position, fn func(eventstore.RecordedEvent) error) (progressed bool, err error) {
	sub, err := c.SubscribeToAll(ctx, esdb.SubscribeToAllOptions{
		From:   toAllPosition(*checkpoint),
		Filter: esdb.ExcludeSystemEventsFilter(),
	})
	if err != nil {
		return false, err
	}
	defer sub.Close()
	for {
		msg := sub.Recv()
		switch {
		case msg.SubscriptionDropped != nil:
			err := msg.SubscriptionDropped.Error
			if err == nil {
				err = errors.New("subscription dropped")
			}
			return progressed, err
		case msg.EventAppeared != nil && msg.EventAppeared.Event != nil:
			e := fromRecorded(msg.EventAppeared.Event)
			// Both guards only defend the contract: the server already starts
			// after the checkpoint and filters system events out.
			if !checkpoint.Less(e.Position) || isSystemType(e.Type) {
				continue
			}
			if err := fn(e); err != nil {
				return progressed, &handlerError{err: err}
			}
			*checkpoint = e.Position
			progressed = true
		}
		// Checkpoints of the filter, caught-up and fell-behind notices need
		// nothing: the checkpoint that matters is the last event fn took.
	}
}
