package domain

import "github.com/google/uuid"

// Visibility: docs/domain.md, "What each caller sees". The rules are
// decided here and nowhere else; the read models (package projections), the
// command side's step 4 (internal/command) and the live feed (through the
// read models' StreamVisible) each fold the facts, Ties, from what they
// hold, and ask these functions.

// CustomerView is how much of a customer a caller sees.
type CustomerView int

const (
	// ViewNone: the caller does not see the customer at all.
	ViewNone CustomerView = iota
	// ViewProfile: the profile and the subscriptions the partner sells.
	ViewProfile
	// ViewFull: everything, and the customer's and its subscriptions'
	// streams.
	ViewFull
)

// Ties are what ties a partner to one customer: the facts its view of the
// customer follows from.
type Ties struct {
	// Onboarded: the partner onboarded the customer.
	Onboarded bool
	// Accepted: the pair holds an ACCEPTED relationship. Every attempt of
	// the pair counts, not only the latest: a request made once an earlier
	// one read EXPIRED can race that earlier one's acceptance (the two
	// append to different streams), which leaves an ACCEPTED attempt
	// behind a later one. The partner then holds an accepted relationship,
	// which is what the domain's table asks for.
	Accepted bool
	// Related: the pair has a relationship, of any status.
	Related bool
	// Sells: the partner sells one of the customer's subscriptions.
	Sells bool
}

// TiesOf folds the ties of partner to customer from the customer's stream
// and the pair's relationships (every attempt; nil entries and other pairs'
// relationships are ignored). Sells is not in these streams: the caller
// sets it when it knows.
func TiesOf(partner uuid.UUID, customer *Customer, relationships ...*Relationship) Ties {
	var t Ties
	if customer == nil || !customer.Exists() {
		return t
	}
	t.Onboarded = customer.OnboardedBy == partner
	for _, r := range relationships {
		if !r.Exists() || r.PartnerID != partner || r.CustomerID != customer.ID {
			continue
		}
		t.Related = true
		// ACCEPTED never expires: the recorded status is the effective one.
		if r.Status == Accepted {
			t.Accepted = true
		}
	}
	return t
}

// View is what a partner with these ties sees of the customer: everything
// when it onboarded the customer or holds an ACCEPTED relationship with it;
// the profile and the subscriptions it sells when it sells any of them or
// has any relationship with it; else nothing.
func (t Ties) View() CustomerView {
	switch {
	case t.Onboarded || t.Accepted:
		return ViewFull
	case t.Related || t.Sells:
		return ViewProfile
	}
	return ViewNone
}

// Audits reports whether a is an AUDITOR: it sees everything, whatever its
// tenant, and changes nothing.
func (a Actor) Audits() bool { return a.Role == RoleAuditor }

// CustomerVisibility is what viewer sees of customer, whose ties to the
// viewer's tenant (as a partner) are t: an auditor and the customer's own
// tenant see it fully; any other caller as its tenant's ties say. A tenant
// that is both a partner and a customer gets the union of both views.
func CustomerVisibility(viewer Actor, customer uuid.UUID, t Ties) CustomerView {
	if viewer.Audits() || viewer.TenantID == customer {
		return ViewFull
	}
	return t.View()
}

// SeesSubscription reports whether viewer sees a subscription of a customer
// it sees as view: when it sees the customer fully, or it is the partner
// that sells it (seller nil: none).
func SeesSubscription(viewer Actor, seller *uuid.UUID, view CustomerView) bool {
	return view == ViewFull || viewer.Audits() || (seller != nil && *seller == viewer.TenantID)
}

// SeesRelationship reports whether viewer sees the relationship of partner
// to customer: its two parties and auditors do; a competitor never does.
func SeesRelationship(viewer Actor, partner, customer uuid.UUID) bool {
	return viewer.Audits() || viewer.TenantID == partner || viewer.TenantID == customer
}

// SeesPartnerStream reports whether viewer sees the events of
// partner-<partner>: the partner's own tenant and auditors do. (Partner
// profiles are public; their streams are not.) The customer- and
// subscription- streams of a customer are seen by those who see the
// customer fully (ViewFull), the relationship- streams by those who see the
// relationship.
func SeesPartnerStream(viewer Actor, partner uuid.UUID) bool {
	return viewer.Audits() || viewer.TenantID == partner
}
