package projections

import "github.com/google/uuid"

// SellsAnyTo reports whether partner sells any of customer's subscriptions:
// the tie that lets a partner see a customer's profile without seeing it
// fully. The command layer asks it only to choose FORBIDDEN over NOT_FOUND.
func (m *Model) SellsAnyTo(partner, customer uuid.UUID) bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	a := m.access[pairKey{partner: partner, customer: customer}]
	return a != nil && a.sells > 0
}
