package command

import (
	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
)

// Handoff receives the events an append is about to write, so that the
// read models in this process may fold them without decoding them back
// from the log (projections.Model implements it, and checks what it is
// given). Offer comes before the append; Withdraw follows an append that
// failed.
type Handoff interface {
	Offer(id uuid.UUID, e domain.Event)
	Withdraw(id uuid.UUID)
}

// WithHandoff offers every appended event to h.
func WithHandoff(h Handoff) Option {
	return func(hs *Handlers) { hs.handoff = h }
}
