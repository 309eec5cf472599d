package domain_test

import (
	"errors"
	"testing"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
)

var allRoles = []domain.Role{
	domain.RoleGlobalAdmin, domain.RoleUserAdmin, domain.RoleSalesAgent,
	domain.RoleAdminAgent, domain.RoleBillingAdmin, domain.RoleAuditor, domain.RoleSystem,
}

func caller(tenant uuid.UUID, role domain.Role, isPartner, isCustomer bool) domain.Caller {
	return domain.Caller{Actor: domain.Actor{UserID: "u", TenantID: tenant, Role: role}, IsPartner: isPartner, IsCustomer: isCustomer}
}

// allowed lists, per step-3 check and kind of tenant, the roles let through.
func TestAuthorize(t *testing.T) {
	t.Parallel()
	acting := map[domain.Role]bool{domain.RoleGlobalAdmin: true, domain.RoleUserAdmin: true, domain.RoleSalesAgent: true}
	gaOnly := map[domain.Role]bool{domain.RoleGlobalAdmin: true}
	admins := map[domain.Role]bool{domain.RoleGlobalAdmin: true, domain.RoleUserAdmin: true}
	none := map[domain.Role]bool{}
	type kinds struct{ partner, customer, neither map[domain.Role]bool }
	tests := []struct {
		name  string
		check func(domain.Caller) error
		want  kinds
	}{
		{"enrollPartner", domain.AuthorizeEnrollPartner, kinds{gaOnly, gaOnly, gaOnly}},
		{"partner actions", domain.AuthorizePartnerAction, kinds{acting, none, none}},
		{"recordExternalSubscription", domain.AuthorizeRecordSubscription, kinds{acting, admins, none}},
		{"accept/decline", domain.AuthorizeAnswerRelationship, kinds{none, gaOnly, none}},
		{"terminate", domain.AuthorizeTerminateRelationship, kinds{acting, gaOnly, none}},
		{"cancelSubscription", domain.AuthorizeCancelSubscription, kinds{acting, admins, none}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, k := range []struct {
				kind                  string
				isPartner, isCustomer bool
				allowed               map[domain.Role]bool
			}{{"partner", true, false, tt.want.partner}, {"customer", false, true, tt.want.customer}, {"neither", false, false, tt.want.neither}} {
				for _, role := range allRoles {
					err := tt.check(caller(pA, role, k.isPartner, k.isCustomer))
					if k.allowed[role] && err != nil {
						t.Errorf("%s %s refused: %v", k.kind, role, err)
					}
					if !k.allowed[role] && !errors.Is(err, domain.ErrForbidden) {
						t.Errorf("%s %s: %v, want FORBIDDEN", k.kind, role, err)
					}
				}
			}
		})
	}
}

func TestVisibility(t *testing.T) {
	t.Parallel()
	cust := customer(t, custC, domain.CloudPublic, false) // onboarded by pA
	rel := func(events ...domain.Event) *domain.Relationship { return fold[domain.Relationship](t, events...) }
	acceptedB0 := rel(requested(pB, custC, 0, t0), accepted(pB, custC, 0))
	// Attempt 1 was requested once attempt 0 read EXPIRED, while the
	// customer accepted attempt 0 on a clock a moment behind: two streams,
	// both appends succeed. Attempt 0 is the pair's ACCEPTED relationship.
	pendingB1 := rel(requested(pB, custC, 1, t0.Add(domain.RelationshipTTL)))
	terminatedB1 := rel(requested(pB, custC, 1, t0.Add(domain.RelationshipTTL)), accepted(pB, custC, 1),
		domain.RelationshipTerminated{RelationshipID: domain.RelationshipID(pB, custC, 1), PartnerID: pB, CustomerID: custC})
	tests := []struct {
		name     string
		viewer   domain.Actor
		customer *domain.Customer
		rels     []*domain.Relationship
		sells    bool
		want     domain.CustomerView
	}{
		{"onboarded it", actor(pA), cust, nil, false, domain.ViewFull},
		{"accepted relationship", actor(pB), cust, []*domain.Relationship{acceptedB0}, false, domain.ViewFull},
		{"accepted attempt behind a later pending one", actor(pB), cust, []*domain.Relationship{acceptedB0, pendingB1}, false, domain.ViewFull},
		{"accepted attempt behind a later terminated one", actor(pB), cust, []*domain.Relationship{acceptedB0, terminatedB1}, false, domain.ViewFull},
		{"pending relationship", actor(pB), cust, []*domain.Relationship{pendingB1}, false, domain.ViewProfile},
		{"terminated relationship", actor(pB), cust, []*domain.Relationship{terminatedB1}, false, domain.ViewProfile},
		{"sells one of its subscriptions", actor(pB), cust, nil, true, domain.ViewProfile},
		{"another pair's relationship", actor(pB), cust, []*domain.Relationship{rel(requested(pG, custC, 0, t0), accepted(pG, custC, 0))}, false, domain.ViewNone},
		{"nothing", actor(pB), cust, nil, false, domain.ViewNone},
		{"unknown customer", actor(pA), nil, nil, false, domain.ViewNone},
		{"the customer itself", actor(custC), cust, nil, false, domain.ViewFull},
		{"an auditor of any tenant", domain.Actor{UserID: "u", TenantID: pG, Role: domain.RoleAuditor}, cust, nil, false, domain.ViewFull},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ties := domain.TiesOf(tt.viewer.TenantID, tt.customer, tt.rels...)
			ties.Sells = ties.Sells || tt.sells
			if got := domain.CustomerVisibility(tt.viewer, custC, ties); got != tt.want {
				t.Fatalf("CustomerVisibility = %d, want %d (ties %+v)", got, tt.want, ties)
			}
		})
	}
}

func actor(tenant uuid.UUID) domain.Actor {
	return domain.Actor{UserID: "u", TenantID: tenant, Role: domain.RoleGlobalAdmin}
}

func TestAccessChecks(t *testing.T) {
	t.Parallel()
	cust := customer(t, custC, domain.CloudPublic, false)
	rel := fold[domain.Relationship](t, requested(pB, custC, 0, t0))
	soldByB := fold[domain.Subscription](t, recorded(domain.UsageBased, domain.ChannelCSPPartner, &pB, nil))
	direct := fold[domain.Subscription](t, recorded(domain.UsageBased, domain.ChannelOpen, nil, nil))
	partnerGA := func(id uuid.UUID) domain.Caller { return caller(id, domain.RoleGlobalAdmin, true, false) }
	tests := []struct {
		name    string
		err     error
		wantErr error
	}{
		{"record: customer's GA", domain.CheckRecordAccess(caller(custC, domain.RoleGlobalAdmin, false, true), cust, domain.ViewNone), nil},
		{"record: customer's sales agent (tenant also a partner)", domain.CheckRecordAccess(caller(custC, domain.RoleSalesAgent, true, true), cust, domain.ViewFull), domain.ErrForbidden},
		{"record: another customer", domain.CheckRecordAccess(caller(custCSP, domain.RoleGlobalAdmin, false, true), cust, domain.ViewNone), domain.ErrNotFound},
		{"record: partner seeing it fully", domain.CheckRecordAccess(partnerGA(pA), cust, domain.ViewFull), nil},
		{"record: partner seeing its profile", domain.CheckRecordAccess(partnerGA(pB), cust, domain.ViewProfile), domain.ErrForbidden},
		{"record: partner not seeing it", domain.CheckRecordAccess(partnerGA(pB), cust, domain.ViewNone), domain.ErrNotFound},
		{"record: unknown customer", domain.CheckRecordAccess(partnerGA(pA), nil, domain.ViewFull), domain.ErrNotFound},

		{"answer: the customer's GA", domain.CheckAnswerAccess(caller(custC, domain.RoleGlobalAdmin, false, true), rel), nil},
		{"answer: the requesting partner (also a customer)", domain.CheckAnswerAccess(caller(pB, domain.RoleGlobalAdmin, true, true), rel), domain.ErrForbidden},
		{"answer: another customer", domain.CheckAnswerAccess(caller(custCSP, domain.RoleGlobalAdmin, false, true), rel), domain.ErrNotFound},
		{"answer: unknown", domain.CheckAnswerAccess(caller(custC, domain.RoleGlobalAdmin, false, true), nil), domain.ErrNotFound},

		{"terminate: the partner", domain.CheckTerminateAccess(caller(pB, domain.RoleSalesAgent, true, false), rel), nil},
		{"terminate: the customer's GA", domain.CheckTerminateAccess(caller(custC, domain.RoleGlobalAdmin, false, true), rel), nil},
		{"terminate: the customer's UA (tenant also a partner)", domain.CheckTerminateAccess(caller(custC, domain.RoleUserAdmin, true, true), rel), domain.ErrForbidden},
		{"terminate: a competitor", domain.CheckTerminateAccess(partnerGA(pA), rel), domain.ErrNotFound},

		{"cancel: the seller", domain.CheckCancelAccess(partnerGA(pB), soldByB, domain.ViewNone), nil},
		{"cancel: partner seeing it, not selling", domain.CheckCancelAccess(partnerGA(pA), soldByB, domain.ViewFull), domain.ErrForbidden},
		{"cancel: partner not seeing it", domain.CheckCancelAccess(partnerGA(pG), direct, domain.ViewNone), domain.ErrNotFound},
		{"cancel: the customer's UA", domain.CheckCancelAccess(caller(custC, domain.RoleUserAdmin, false, true), direct, domain.ViewNone), nil},
		{"cancel: the customer's sales agent (tenant also a partner)", domain.CheckCancelAccess(caller(custC, domain.RoleSalesAgent, true, true), direct, domain.ViewNone), domain.ErrForbidden},
		{"cancel: unknown", domain.CheckCancelAccess(partnerGA(pA), nil, domain.ViewFull), domain.ErrNotFound},

		{"visible: sees customer fully", domain.CheckSubscriptionVisible(partnerGA(pA), direct, domain.ViewFull), nil},
		{"visible: sells it", domain.CheckSubscriptionVisible(partnerGA(pB), soldByB, domain.ViewNone), nil},
		{"visible: profile only", domain.CheckSubscriptionVisible(partnerGA(pB), direct, domain.ViewProfile), domain.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.wantErr == nil && tt.err != nil {
				t.Fatalf("refused: %v", tt.err)
			}
			if tt.wantErr != nil && !errors.Is(tt.err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", tt.err, tt.wantErr)
			}
		})
	}
}
