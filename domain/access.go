package domain

import "github.com/google/uuid"

// Caller is who asks, with what its tenant is. IsPartner is true when the
// stream partner-<tenant> exists, IsCustomer when customer-<tenant> exists;
// both may be true.
type Caller struct {
	Actor
	IsPartner  bool
	IsCustomer bool
}

// actsAsPartner: a partner's user in an acting role.
func (c Caller) actsAsPartner() bool { return c.IsPartner && c.Role.Acting() }

// ownsCustomer: the caller's tenant is that customer.
func (c Caller) ownsCustomer(customer uuid.UUID) bool {
	return c.IsCustomer && c.TenantID == customer
}

// customerAdmin: a Global or User admin (the customer-side roles that record
// and cancel subscriptions).
func customerAdmin(r Role) bool { return r == RoleGlobalAdmin || r == RoleUserAdmin }

// Step 3 of every mutation: the role and the kind of tenant. These checks
// need no stored object but the caller's own tenant streams.

// AuthorizeEnrollPartner: only a GLOBAL_ADMIN enrolls its own tenant.
func AuthorizeEnrollPartner(c Caller) error {
	if c.Role != RoleGlobalAdmin {
		return Errorf(CodeForbidden, "only a Global admin may enroll the tenant as a partner (role %s)", c.Role)
	}
	return nil
}

// AuthorizePartnerAction is step 3 of the actions only a partner takes:
// onboardCustomer, requestResellerRelationship, switchSubscription,
// createAzureSubscription and cancelLegacyService.
func AuthorizePartnerAction(c Caller) error {
	if !c.Role.Acting() {
		return Errorf(CodeForbidden, "role %s may not take this action", c.Role)
	}
	if !c.IsPartner {
		return Errorf(CodeForbidden, "only an enrolled partner may take this action")
	}
	return nil
}

// AuthorizeRecordSubscription: the customer's own Global or User admin, or
// a partner user with an acting role.
func AuthorizeRecordSubscription(c Caller) error {
	if c.actsAsPartner() || (c.IsCustomer && customerAdmin(c.Role)) {
		return nil
	}
	return Errorf(CodeForbidden, "role %s of this tenant may not record subscriptions", c.Role)
}

// AuthorizeAnswerRelationship: only a customer's Global admin accepts or
// declines a request.
func AuthorizeAnswerRelationship(c Caller) error {
	if c.IsCustomer && c.Role == RoleGlobalAdmin {
		return nil
	}
	return Errorf(CodeForbidden, "only a Global admin of the customer's tenant may answer a relationship request")
}

// AuthorizeTerminateRelationship: the customer's Global admin or a partner
// user with an acting role.
func AuthorizeTerminateRelationship(c Caller) error {
	if c.actsAsPartner() || (c.IsCustomer && c.Role == RoleGlobalAdmin) {
		return nil
	}
	return Errorf(CodeForbidden, "role %s of this tenant may not terminate a relationship", c.Role)
}

// AuthorizeCancelSubscription: the customer's own Global or User admin, or
// a partner user with an acting role (step 4 then requires it to sell it).
func AuthorizeCancelSubscription(c Caller) error {
	if c.actsAsPartner() || (c.IsCustomer && customerAdmin(c.Role)) {
		return nil
	}
	return Errorf(CodeForbidden, "role %s of this tenant may not cancel subscriptions", c.Role)
}

// Step 4: NOT_FOUND for what the caller cannot see, then FORBIDDEN for what
// it sees but may not act on. view is what the caller's tenant sees of the
// customer as a partner, Ties.View (ignored when the caller is not a
// partner).

// CheckRecordAccess is step 4 of recordExternalSubscription.
func CheckRecordAccess(c Caller, customer *Customer, view CustomerView) error {
	if customer == nil || !customer.Exists() {
		return Errorf(CodeNotFound, "customer not found")
	}
	if c.ownsCustomer(customer.ID) {
		// A tenant acts as the customer on its own subscriptions, even when
		// it is a partner too.
		if customerAdmin(c.Role) {
			return nil
		}
		return Errorf(CodeForbidden, "only the customer's Global or User admin may record its subscriptions")
	}
	if c.IsPartner {
		switch view {
		case ViewFull:
			if c.Role.Acting() {
				return nil
			}
			return Errorf(CodeForbidden, "role %s may not record subscriptions", c.Role)
		case ViewProfile:
			return Errorf(CodeForbidden, "a partner records subscriptions only for customers it sees fully")
		}
	}
	return Errorf(CodeNotFound, "customer not found")
}

// CheckAnswerAccess is step 4 of accepting or declining a request.
func CheckAnswerAccess(c Caller, r *Relationship) error {
	if r == nil || !r.Exists() {
		return Errorf(CodeNotFound, "relationship not found")
	}
	if c.ownsCustomer(r.CustomerID) {
		if c.Role == RoleGlobalAdmin {
			return nil
		}
		return Errorf(CodeForbidden, "only the customer's Global admin may answer a relationship request")
	}
	if c.IsPartner && r.PartnerID == c.TenantID {
		return Errorf(CodeForbidden, "a partner may not answer its own relationship request")
	}
	return Errorf(CodeNotFound, "relationship not found")
}

// CheckTerminateAccess is step 4 of terminating a relationship.
func CheckTerminateAccess(c Caller, r *Relationship) error {
	if r == nil || !r.Exists() {
		return Errorf(CodeNotFound, "relationship not found")
	}
	visible := false
	if c.ownsCustomer(r.CustomerID) {
		visible = true
		if c.Role == RoleGlobalAdmin {
			return nil
		}
	}
	if c.IsPartner && r.PartnerID == c.TenantID {
		visible = true
		if c.Role.Acting() {
			return nil
		}
	}
	if visible {
		return Errorf(CodeForbidden, "role %s may not terminate this relationship", c.Role)
	}
	return Errorf(CodeNotFound, "relationship not found")
}

// CheckCancelAccess is step 4 of cancelSubscription: the customer's own
// admins and the partner that sells it act; a partner that sees it without
// selling it is FORBIDDEN.
func CheckCancelAccess(c Caller, s *Subscription, view CustomerView) error {
	if s == nil || !s.Exists() {
		return Errorf(CodeNotFound, "subscription not found")
	}
	visible := false
	if c.ownsCustomer(s.CustomerID) {
		visible = true
		if customerAdmin(c.Role) {
			return nil
		}
	}
	if c.IsPartner {
		sells := s.SoldBy(c.TenantID)
		if sells || view == ViewFull {
			visible = true
		}
		if sells && c.Role.Acting() {
			return nil
		}
	}
	if visible {
		return Errorf(CodeForbidden, "only the customer's admins or the partner that sells it may cancel this subscription")
	}
	return Errorf(CodeNotFound, "subscription not found")
}

// CheckSubscriptionVisible is step 4 of the partner actions on a
// subscription (switch, replacement, legacy cancellation): a partner sees a
// subscription when it sees its customer fully or sells it.
func CheckSubscriptionVisible(c Caller, s *Subscription, view CustomerView) error {
	if s == nil || !s.Exists() || !c.IsPartner || (view != ViewFull && !s.SoldBy(c.TenantID)) {
		return Errorf(CodeNotFound, "subscription not found")
	}
	return nil
}

// AuthorizeAudit: only an AUDITOR reads what describes the whole log (the
// integrity report, the read-model digest, the export), whatever its
// tenant sees.
func AuthorizeAudit(a Actor) error {
	if !a.Audits() {
		return Errorf(CodeForbidden, "only auditors may read what describes the whole log (role %s)", a.Role)
	}
	return nil
}
