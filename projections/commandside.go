package projections

import (
	"time"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
)

// For the command side (internal/command, and the expiry sweep that runs
// through it): the ports it declares, SalesIndex and Handoff. Its Waiter,
// the read-your-writes wait, is WaitFor (wait.go), which the API's
// consistency token and the live feed use too. None of these can change
// what a mutation writes: decisions come from the log.

// SellsAnyTo reports whether partner sells any of customer's subscriptions:
// the tie that lets a partner see a customer's profile without seeing it
// fully. The command layer asks it only to choose FORBIDDEN over NOT_FOUND.
func (m *Model) SellsAnyTo(partner, customer uuid.UUID) bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	a := m.access[pairKey{partner: partner, customer: customer}]
	return a != nil && a.sells > 0
}

// Offer hands over e, which an append is about to write with event id
// id, so that Apply need not decode it. The caller withdraws it if the
// append fails; one that succeeds is taken by Apply.
func (m *Model) Offer(id uuid.UUID, e domain.Event) {
	if m.handoff.disabled.Load() {
		return
	}
	m.handoff.events.Store(id, e)
}

// Withdraw takes back an offered event whose append failed. (If the
// append was written after all, Apply decodes the event.)
func (m *Model) Withdraw(id uuid.UUID) {
	m.handoff.events.Delete(id)
}

// DueExpiries lists the relationships still recorded PENDING whose
// expiresAt is at or before now, oldest expiry first: those the sweep must
// record RelationshipExpired for.
func (m *Model) DueExpiries(now time.Time) []uuid.UUID {
	m.mu.RLock()
	due := make([]*relState, 0)
	for _, r := range m.pending {
		if !now.Before(r.view.ExpiresAt) {
			due = append(due, r)
		}
	}
	m.mu.RUnlock()
	sortRelsByExpiry(due)
	ids := make([]uuid.UUID, len(due))
	for i, r := range due {
		ids[i] = r.view.ID
	}
	return ids
}
