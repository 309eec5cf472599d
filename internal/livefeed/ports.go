package livefeed

import (
	"context"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/eventstore"
	"github.com/partnercenter/multichannel/projections"
)

// ReadModel is what the live feed needs of the read models
// (projections.Model is one): where they are, a wait until they have
// applied a position, so that an event's visibility is judged with the
// event itself applied, the event as the API shows it, and whether a
// caller sees its stream (the domain's rule, domain/visibility.go, asked
// with the ties the read models hold).
type ReadModel interface {
	Position() eventstore.Position
	WaitFor(ctx context.Context, pos eventstore.Position) error
	EventView(e eventstore.RecordedEvent) (projections.Event, error)
	StreamVisible(v domain.Actor, stream string) bool
}

// Log is what the live feed reads of the store: the global log, in pages
// for a catch-up and as a subscription for the tail.
type Log interface {
	ReadAll(ctx context.Context, after eventstore.Position, max int) ([]eventstore.RecordedEvent, error)
	SubscribeAll(ctx context.Context, after eventstore.Position, fn func(eventstore.RecordedEvent) error) error
}

var _ ReadModel = (*projections.Model)(nil)
