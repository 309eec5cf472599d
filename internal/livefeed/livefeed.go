// Package livefeed follows the global log for one caller: the events it may
// see that match its filter, first those after a given position (catch-up)
// and then live, with no gap and no duplicate between the two (the store's
// SubscribeAll guarantees that).
package livefeed

import (
	"context"
	"errors"
	"log/slog"
	"slices"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/eventstore"
	"github.com/partnercenter/multichannel/projections"
)

// Follow starts following the log for viewer v. Without after, it starts at
// the read models' current position (live only). The channel closes when
// ctx ends or the store fails.
func Follow(ctx context.Context, store Log, model ReadModel, v domain.Actor,
	f projections.EventFilter, after *string) (<-chan *projections.Event, error) {
	start := model.Position()
	if after != nil {
		p, err := eventstore.ParsePosition(*after)
		if err != nil {
			return nil, domain.Errorf(domain.CodeBadUserInput, "after is not a position this server issued")
		}
		start = p
	}
	ch := make(chan *projections.Event, 64)
	go func() {
		defer close(ch)
		err := store.SubscribeAll(ctx, start, func(e eventstore.RecordedEvent) error {
			// Visibility is judged by the read models, which must have
			// applied the event first (a customer onboarded by this very
			// event makes its stream visible to the partner).
			if err := model.WaitFor(ctx, e.Position); err != nil {
				return err
			}
			if !model.StreamVisible(v, e.Stream) {
				return nil
			}
			ev, err := model.EventView(e)
			if err != nil {
				return err
			}
			if !Matches(f, ev) {
				return nil
			}
			select {
			case ch <- &ev:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
		if err != nil && !errors.Is(err, context.Canceled) && ctx.Err() == nil {
			slog.WarnContext(ctx, "live feed stopped", "err", err)
		}
	}()
	return ch, nil
}

// Matches reports whether e passes f: every set field must match; the time
// range includes From and excludes To.
func Matches(f projections.EventFilter, e projections.Event) bool {
	switch {
	case f.Stream != nil && *f.Stream != e.Stream:
		return false
	case len(f.Types) > 0 && !slices.Contains(f.Types, e.Type):
		return false
	case f.ActorUserID != nil && *f.ActorUserID != e.Actor.UserID:
		return false
	case f.CorrelationID != nil && *f.CorrelationID != e.CorrelationID:
		return false
	case f.From != nil && e.RecordedAt.Before(*f.From):
		return false
	case f.To != nil && !e.RecordedAt.Before(*f.To):
		return false
	}
	return true
}
