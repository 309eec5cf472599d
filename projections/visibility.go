package projections

import (
	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
)

// Visibility is decided by the domain (domain/visibility.go), for the read
// models, the command side and the live feed alike; the model only folds
// the ties it is decided from. The helpers run under mu (read).

// ties folds what ties the caller's tenant, as a partner, to customer c:
// access counts every attempt of the pair, so an ACCEPTED one counts
// whichever attempt is the latest (see domain.Ties).
func (m *Model) ties(v domain.Actor, c *customerState) domain.Ties {
	t := domain.Ties{Onboarded: v.TenantID == c.view.OnboardedBy}
	if a := m.access[pairKey{partner: v.TenantID, customer: c.view.ID}]; a != nil {
		t.Accepted, t.Related, t.Sells = a.accepted > 0, a.relationships > 0, a.sells > 0
	}
	return t
}

// customerVisibility is what the caller sees of customer c.
func (m *Model) customerVisibility(v domain.Actor, c *customerState) domain.CustomerView {
	return domain.CustomerVisibility(v, c.view.ID, m.ties(v, c))
}

// seesFully: the caller sees the customer's profile and all its
// subscriptions (and the customer's and subscriptions' streams).
func (m *Model) seesFully(v domain.Actor, c *customerState) bool {
	return m.customerVisibility(v, c) == domain.ViewFull
}

// seesCustomerStreams: the caller sees the streams of the customer with
// this id (its customer- stream and its subscriptions'), which is seeing it
// fully; nobody sees those of a customer the model does not hold.
func (m *Model) seesCustomerStreams(v domain.Actor, id uuid.UUID) bool {
	c := m.customers[id]
	return c != nil && m.seesFully(v, c)
}

// seesProfile: the caller sees at least the customer's profile.
func (m *Model) seesProfile(v domain.Actor, c *customerState) bool {
	return m.customerVisibility(v, c) != domain.ViewNone
}

func (m *Model) seesSubscription(v domain.Actor, s *subState) bool {
	view := domain.ViewNone
	if c := m.customers[s.view.CustomerID]; c != nil {
		view = m.customerVisibility(v, c)
	}
	return domain.SeesSubscription(v, s.view.SellerPartnerID, view)
}

func seesRelationship(v domain.Actor, r *relState) bool {
	return domain.SeesRelationship(v, r.view.PartnerID, r.view.CustomerID)
}
