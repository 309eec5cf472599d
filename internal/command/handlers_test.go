package command_test

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/internal/command"
)

func TestEnrollPartner(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	tenant := uuid.New()
	in := command.EnrollPartner{Name: "Adatum", Cloud: domain.CloudPublic}
	var steps []step
	for _, role := range append([]domain.Role{domain.RoleUserAdmin, domain.RoleSalesAgent}, nonActingRoles...) {
		steps = append(steps, step{"role " + string(role), func() (uuid.UUID, error) { return w.h.EnrollPartner(ctx(), w.as(tenant, role), in) }, domain.ErrForbidden, nil})
	}
	steps = append(steps,
		step{"blank name", func() (uuid.UUID, error) {
			return w.h.EnrollPartner(ctx(), w.as(tenant, domain.RoleGlobalAdmin), command.EnrollPartner{Name: "  ", Cloud: domain.CloudPublic})
		}, domain.ErrBadUserInput, nil},
		step{"order: input before role", func() (uuid.UUID, error) {
			return w.h.EnrollPartner(ctx(), w.as(tenant, domain.RoleAuditor), command.EnrollPartner{Name: "", Cloud: domain.CloudPublic})
		}, domain.ErrBadUserInput, nil},
		step{"enrolled", func() (uuid.UUID, error) { return w.h.EnrollPartner(ctx(), w.as(tenant, domain.RoleGlobalAdmin), in) }, nil, &tenant},
		step{"again", func() (uuid.UUID, error) { return w.h.EnrollPartner(ctx(), w.as(tenant, domain.RoleGlobalAdmin), in) }, domain.ErrConflict, nil},
		// A customer tenant may enroll too: it becomes both.
		step{"customer enrolls", func() (uuid.UUID, error) { return w.h.EnrollPartner(ctx(), w.as(w.c, domain.RoleGlobalAdmin), in) }, nil, &w.c},
	)
	w.run(steps...)
}

func TestOnboardCustomer(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	in := func(id string, dom string, cloud domain.Cloud) command.OnboardCustomer {
		return command.OnboardCustomer{ID: &id, Name: "Tailspin", Domain: dom, Cloud: cloud}
	}
	id := uuid.New()
	var steps []step
	for _, role := range nonActingRoles {
		steps = append(steps, step{"role " + string(role), func() (uuid.UUID, error) {
			return w.h.OnboardCustomer(ctx(), w.as(w.a, role), in(id.String(), "t.example.com", domain.CloudPublic))
		}, domain.ErrForbidden, nil})
	}
	for _, role := range actingRoles {
		nid := uuid.New()
		steps = append(steps, step{"onboarded by " + string(role), func() (uuid.UUID, error) {
			return w.h.OnboardCustomer(ctx(), w.as(w.a, role), in(nid.String(), "t.example.com", domain.CloudPublic))
		}, nil, &nid})
	}
	steps = append(steps,
		step{"customer tenant", func() (uuid.UUID, error) {
			return w.h.OnboardCustomer(ctx(), w.as(w.c, domain.RoleGlobalAdmin), in(id.String(), "t.example.com", domain.CloudPublic))
		}, domain.ErrForbidden, nil},
		step{"unknown tenant", func() (uuid.UUID, error) {
			return w.h.OnboardCustomer(ctx(), w.as(uuid.New(), domain.RoleGlobalAdmin), in(id.String(), "t.example.com", domain.CloudPublic))
		}, domain.ErrForbidden, nil},
		step{"not a host name", func() (uuid.UUID, error) {
			return w.h.OnboardCustomer(ctx(), w.as(w.a, domain.RoleGlobalAdmin), in(id.String(), "not a host", domain.CloudPublic))
		}, domain.ErrBadUserInput, nil},
		step{"malformed id", func() (uuid.UUID, error) {
			return w.h.OnboardCustomer(ctx(), w.as(w.a, domain.RoleGlobalAdmin), in("not-a-uuid", "t.example.com", domain.CloudPublic))
		}, domain.ErrBadUserInput, nil},
		step{"order: malformed id before role", func() (uuid.UUID, error) {
			return w.h.OnboardCustomer(ctx(), w.as(w.a, domain.RoleAuditor), in("x", "t.example.com", domain.CloudPublic))
		}, domain.ErrBadUserInput, nil},
		step{"cloud mismatch", func() (uuid.UUID, error) {
			return w.h.OnboardCustomer(ctx(), w.as(w.a, domain.RoleGlobalAdmin), in(id.String(), "t.example.com", domain.CloudUSGovernment))
		}, domain.ErrCloudMismatch, nil},
		step{"exists", func() (uuid.UUID, error) {
			return w.h.OnboardCustomer(ctx(), w.as(w.b, domain.RoleGlobalAdmin), in(w.c.String(), "t.example.com", domain.CloudPublic))
		}, domain.ErrConflict, nil},
	)
	w.run(steps...)
	gen, err := w.h.OnboardCustomer(ctx(), w.as(w.a, domain.RoleGlobalAdmin), command.OnboardCustomer{Name: "Generated", Domain: "gen.example.com", Cloud: domain.CloudPublic})
	if err != nil || gen.Version() != 7 {
		t.Fatalf("generated id %s (%v), want a UUIDv7", gen, err)
	}
	e, md := w.lastEvent(domain.CustomerStream(gen))
	if ob := e.(domain.CustomerOnboarded); ob.OnboardedBy != w.a || ob.CustomerID != gen || md.Actor.TenantID != w.a {
		t.Fatalf("onboarded %+v by %+v", ob, md.Actor)
	}
}

func TestRecordExternalSubscription(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	end := t0.Add(30 * 24 * time.Hour)
	base := func(mod func(*command.RecordExternalSubscription)) command.RecordExternalSubscription {
		in := command.RecordExternalSubscription{CustomerID: w.c.String(), Offer: "M365 E3", BillingModel: domain.LicenseBased, Channel: domain.ChannelMicrosoftDirect, TermEndsAt: &end, Quantity: 3}
		if mod != nil {
			mod(&in)
		}
		return in
	}
	rec := func(tenant uuid.UUID, role domain.Role, in command.RecordExternalSubscription) func() (uuid.UUID, error) {
		return func() (uuid.UUID, error) { return w.h.RecordExternalSubscription(ctx(), w.as(tenant, role), in) }
	}
	csp := func(seller uuid.UUID) func(*command.RecordExternalSubscription) {
		return func(in *command.RecordExternalSubscription) {
			in.Channel, in.SellerPartnerID = domain.ChannelCSPPartner, ptr(seller.String())
		}
	}
	// D is a customer B has a (pending) relationship with: B sees its profile only.
	d := uuid.New()
	w.onboard(d, false)
	w.relate(w.b, d, false)
	w.run(
		step{"customer's GA", rec(w.c, domain.RoleGlobalAdmin, base(nil)), nil, nil},
		step{"customer's UA", rec(w.c, domain.RoleUserAdmin, base(nil)), nil, nil},
		step{"partner seeing it fully (GA)", rec(w.a, domain.RoleGlobalAdmin, base(nil)), nil, nil},
		step{"partner seeing it fully (sales)", rec(w.a, domain.RoleSalesAgent, base(nil)), nil, nil},
		step{"customer's sales agent", rec(w.c, domain.RoleSalesAgent, base(nil)), domain.ErrForbidden, nil},
		step{"customer's billing admin", rec(w.c, domain.RoleBillingAdmin, base(nil)), domain.ErrForbidden, nil},
		step{"partner's billing admin", rec(w.a, domain.RoleBillingAdmin, base(nil)), domain.ErrForbidden, nil},
		step{"partner not seeing it", rec(w.b, domain.RoleGlobalAdmin, base(nil)), domain.ErrNotFound, nil},
		step{"partner seeing the profile only", rec(w.b, domain.RoleGlobalAdmin, base(func(in *command.RecordExternalSubscription) { in.CustomerID = d.String() })), domain.ErrForbidden, nil},
		step{"another customer", rec(d, domain.RoleGlobalAdmin, base(nil)), domain.ErrNotFound, nil},
		step{"unknown customer", rec(w.a, domain.RoleGlobalAdmin, base(func(in *command.RecordExternalSubscription) { in.CustomerID = uuid.NewString() })), domain.ErrNotFound, nil},
		step{"empty offer", rec(w.c, domain.RoleGlobalAdmin, base(func(in *command.RecordExternalSubscription) { in.Offer = "" })), domain.ErrBadUserInput, nil},
		step{"quantity 0", rec(w.c, domain.RoleGlobalAdmin, base(func(in *command.RecordExternalSubscription) { in.Quantity = 0 })), domain.ErrBadUserInput, nil},
		step{"license without term", rec(w.c, domain.RoleGlobalAdmin, base(func(in *command.RecordExternalSubscription) { in.TermEndsAt = nil })), domain.ErrBadUserInput, nil},
		step{"usage with term", rec(w.c, domain.RoleGlobalAdmin, base(func(in *command.RecordExternalSubscription) { in.BillingModel = domain.UsageBased })), domain.ErrBadUserInput, nil},
		step{"malformed customer id", rec(w.c, domain.RoleGlobalAdmin, base(func(in *command.RecordExternalSubscription) { in.CustomerID = "nope" })), domain.ErrBadUserInput, nil},
		step{"CSP without seller", rec(w.c, domain.RoleGlobalAdmin, base(func(in *command.RecordExternalSubscription) { in.Channel = domain.ChannelCSPPartner })), domain.ErrBadUserInput, nil},
		step{"seller on another channel", rec(w.c, domain.RoleGlobalAdmin, base(func(in *command.RecordExternalSubscription) { in.SellerPartnerID = ptr(w.b.String()) })), domain.ErrBadUserInput, nil},
		step{"order: input before role", rec(w.c, domain.RoleAuditor, base(func(in *command.RecordExternalSubscription) { in.Quantity = 0 })), domain.ErrBadUserInput, nil},
		step{"order: visibility before seller", rec(w.b, domain.RoleGlobalAdmin, base(csp(uuid.New()))), domain.ErrNotFound, nil},
		step{"unknown seller", rec(w.c, domain.RoleGlobalAdmin, base(csp(uuid.New()))), domain.ErrNotFound, nil},
		step{"seller in another cloud", rec(w.c, domain.RoleGlobalAdmin, base(csp(w.g))), domain.ErrCloudMismatch, nil},
		step{"from a CSP partner", rec(w.c, domain.RoleGlobalAdmin, base(csp(w.b))), nil, nil},
	)
	id := w.record(w.c, domain.UsageBased, domain.ChannelEnterpriseAgreement, nil, nil, "VMs", "SQL")
	e, _ := w.lastEvent(domain.SubscriptionStream(id))
	r := e.(domain.ExternalSubscriptionRecorded)
	if r.SubscriptionID != id || r.CustomerID != w.c || len(r.Services) != 2 || r.Services[0].Name != "VMs" || r.Services[0].ID == r.Services[1].ID {
		t.Fatalf("recorded %+v", r)
	}
}

func TestRelationshipLifecycle(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	req := func(tenant uuid.UUID, role domain.Role, customer string) func() (uuid.UUID, error) {
		return func() (uuid.UUID, error) {
			return w.h.RequestResellerRelationship(ctx(), w.as(tenant, role), command.RequestResellerRelationship{CustomerID: customer, Message: ptr("Let us help")})
		}
	}
	acc := func(tenant uuid.UUID, role domain.Role, id uuid.UUID) func() (uuid.UUID, error) {
		return func() (uuid.UUID, error) {
			return w.h.AcceptResellerRelationship(ctx(), w.as(tenant, role), id.String())
		}
	}
	dec := func(tenant uuid.UUID, role domain.Role, id uuid.UUID) func() (uuid.UUID, error) {
		return func() (uuid.UUID, error) {
			return w.h.DeclineResellerRelationship(ctx(), w.as(tenant, role), id.String())
		}
	}
	term := func(tenant uuid.UUID, role domain.Role, id uuid.UUID) func() (uuid.UUID, error) {
		return func() (uuid.UUID, error) {
			return w.h.TerminateResellerRelationship(ctx(), w.as(tenant, role), id.String())
		}
	}
	first := domain.RelationshipID(w.b, w.c, 0)
	other := uuid.New()
	w.onboard(other, false)
	var steps []step
	for _, role := range nonActingRoles {
		steps = append(steps, step{"request by " + string(role), req(w.b, role, w.c.String()), domain.ErrForbidden, nil})
	}
	steps = append(steps,
		step{"request by a customer", req(w.c, domain.RoleGlobalAdmin, w.c.String()), domain.ErrForbidden, nil},
		step{"malformed customer", req(w.b, domain.RoleGlobalAdmin, "123"), domain.ErrBadUserInput, nil},
		step{"unknown customer", req(w.b, domain.RoleGlobalAdmin, uuid.NewString()), domain.ErrNotFound, nil},
		step{"cloud mismatch", req(w.g, domain.RoleGlobalAdmin, w.c.String()), domain.ErrCloudMismatch, nil},
		// B does not see C, and may still ask.
		step{"requested", req(w.b, domain.RoleSalesAgent, w.c.String()), nil, &first},
		step{"pending: conflict", req(w.b, domain.RoleGlobalAdmin, w.c.String()), domain.ErrConflict, nil},
		step{"another partner asks too", req(w.a, domain.RoleGlobalAdmin, w.c.String()), nil, nil},
	)
	for _, role := range []domain.Role{domain.RoleUserAdmin, domain.RoleSalesAgent, domain.RoleAuditor} {
		steps = append(steps, step{"accept by customer's " + string(role), acc(w.c, role, first), domain.ErrForbidden, nil},
			step{"decline by customer's " + string(role), dec(w.c, role, first), domain.ErrForbidden, nil})
	}
	steps = append(steps,
		step{"accept by the partner", acc(w.b, domain.RoleGlobalAdmin, first), domain.ErrForbidden, nil},
		step{"accept by another customer", acc(other, domain.RoleGlobalAdmin, first), domain.ErrNotFound, nil},
		step{"accept unknown", acc(w.c, domain.RoleGlobalAdmin, uuid.New()), domain.ErrNotFound, nil},
		step{"accept malformed", func() (uuid.UUID, error) {
			return w.h.AcceptResellerRelationship(ctx(), w.as(w.c, domain.RoleGlobalAdmin), "x")
		}, domain.ErrBadUserInput, nil},
		step{"terminate pending", term(w.b, domain.RoleGlobalAdmin, first), domain.ErrInvalidState, nil},
		step{"accepted", acc(w.c, domain.RoleGlobalAdmin, first), nil, &first},
		step{"accept again", acc(w.c, domain.RoleGlobalAdmin, first), domain.ErrInvalidState, nil},
		step{"decline accepted", dec(w.c, domain.RoleGlobalAdmin, first), domain.ErrInvalidState, nil},
		step{"accepted: conflict", req(w.b, domain.RoleGlobalAdmin, w.c.String()), domain.ErrConflict, nil},
		step{"terminate by partner's billing admin", term(w.b, domain.RoleBillingAdmin, first), domain.ErrForbidden, nil},
		step{"terminate by customer's UA", term(w.c, domain.RoleUserAdmin, first), domain.ErrForbidden, nil},
		step{"terminate by a competitor", term(w.a, domain.RoleGlobalAdmin, first), domain.ErrNotFound, nil},
		step{"terminated by the partner", term(w.b, domain.RoleSalesAgent, first), nil, &first},
		step{"terminate again", term(w.c, domain.RoleGlobalAdmin, first), domain.ErrInvalidState, nil},
		step{"asks again after termination", req(w.b, domain.RoleGlobalAdmin, w.c.String()), nil, ptr(domain.RelationshipID(w.b, w.c, 1))},
		step{"declined", dec(w.c, domain.RoleGlobalAdmin, domain.RelationshipID(w.b, w.c, 1)), nil, nil},
		step{"asks a third time", req(w.b, domain.RoleGlobalAdmin, w.c.String()), nil, ptr(domain.RelationshipID(w.b, w.c, 2))},
		step{"accepted third", acc(w.c, domain.RoleGlobalAdmin, domain.RelationshipID(w.b, w.c, 2)), nil, nil},
		step{"terminated by the customer's GA", term(w.c, domain.RoleGlobalAdmin, domain.RelationshipID(w.b, w.c, 2)), nil, nil},
	)
	w.run(steps...)
	e, _ := w.lastEvent(domain.RelationshipStream(first))
	if _, ok := e.(domain.RelationshipTerminated); !ok {
		t.Fatalf("last event %T", e)
	}
}

func TestRelationshipExpiry(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	id := w.relate(w.b, w.c, false)
	expiresAt := t0.Add(domain.RelationshipTTL)
	// Before expiresAt the sweep changes nothing.
	w.clock.set(expiresAt.Add(-time.Millisecond))
	before := w.store.count()
	if err := w.h.ExpireRelationship(ctx(), id); err != nil || w.store.count() != before {
		t.Fatalf("early expiry: %v, %d events", err, w.store.count()-before)
	}
	// From expiresAt on the request reads EXPIRED: no answer, a new request allowed.
	w.clock.set(expiresAt)
	w.run(
		step{"accept at expiresAt", func() (uuid.UUID, error) {
			return w.h.AcceptResellerRelationship(ctx(), w.as(w.c, domain.RoleGlobalAdmin), id.String())
		}, domain.ErrInvalidState, nil},
		step{"decline at expiresAt", func() (uuid.UUID, error) {
			return w.h.DeclineResellerRelationship(ctx(), w.as(w.c, domain.RoleGlobalAdmin), id.String())
		}, domain.ErrInvalidState, nil},
	)
	if err := w.h.ExpireRelationship(ctx(), id); err != nil {
		t.Fatal(err)
	}
	e, md := w.lastEvent(domain.RelationshipStream(id))
	if ex, ok := e.(domain.RelationshipExpired); !ok || !ex.ExpiredAt.Equal(expiresAt) || md.Actor != domain.SystemActor || md.CausationID == nil || *md.CausationID != md.CorrelationID {
		t.Fatalf("expired: %+v %+v", e, md)
	}
	after := w.store.count()
	if err := w.h.ExpireRelationship(ctx(), id); err != nil || w.store.count() != after {
		t.Fatalf("second expiry: %v, %d events", err, w.store.count()-after)
	}
	if err := w.h.ExpireRelationship(ctx(), uuid.New()); err != nil {
		t.Fatalf("unknown id: %v", err)
	}
	w.relate(w.b, w.c, true)
}

func TestCancelSubscription(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	sold := w.record(w.c, domain.UsageBased, domain.ChannelCSPPartner, &w.b, nil, "VMs")
	direct := w.record(w.c, domain.UsageBased, domain.ChannelMicrosoftDirect, nil, nil, "VMs")
	cancel := func(tenant uuid.UUID, role domain.Role, id uuid.UUID) func() (uuid.UUID, error) {
		return func() (uuid.UUID, error) { return w.h.CancelSubscription(ctx(), w.as(tenant, role), id.String()) }
	}
	w.run(
		step{"partner seeing it, not selling", cancel(w.a, domain.RoleGlobalAdmin, sold), domain.ErrForbidden, nil},
		step{"partner not seeing it", cancel(w.g, domain.RoleGlobalAdmin, direct), domain.ErrNotFound, nil},
		step{"seller's billing admin", cancel(w.b, domain.RoleBillingAdmin, sold), domain.ErrForbidden, nil},
		step{"auditor", cancel(uuid.New(), domain.RoleAuditor, sold), domain.ErrForbidden, nil},
		step{"customer's sales agent", cancel(w.c, domain.RoleSalesAgent, direct), domain.ErrForbidden, nil},
		step{"unknown", cancel(w.a, domain.RoleGlobalAdmin, uuid.New()), domain.ErrNotFound, nil},
		step{"malformed", func() (uuid.UUID, error) {
			return w.h.CancelSubscription(ctx(), w.as(w.a, domain.RoleGlobalAdmin), "zzz")
		}, domain.ErrBadUserInput, nil},
		step{"seller cancels", cancel(w.b, domain.RoleSalesAgent, sold), nil, &sold},
		step{"again", cancel(w.b, domain.RoleGlobalAdmin, sold), domain.ErrInvalidState, nil},
		step{"customer's UA cancels", cancel(w.c, domain.RoleUserAdmin, direct), nil, &direct},
		step{"customer again", cancel(w.c, domain.RoleGlobalAdmin, direct), domain.ErrInvalidState, nil},
	)
}

func TestSwitchSubscription(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	termEnd := t0.Add(24 * time.Hour)
	usage := w.record(w.c, domain.UsageBased, domain.ChannelCSPPartner, &w.b, nil, "App Service")
	license := w.record(w.c, domain.LicenseBased, domain.ChannelCSPPartner, &w.b, &termEnd)
	license2 := w.record(w.c, domain.LicenseBased, domain.ChannelCSPPartner, &w.b, &termEnd)
	direct := w.record(w.c, domain.LicenseBased, domain.ChannelOpen, nil, &termEnd)
	synd := w.record(w.c, domain.UsageBased, domain.ChannelSyndicationPartner, nil, nil)
	sw := func(tenant uuid.UUID, role domain.Role, id uuid.UUID) func() (uuid.UUID, error) {
		return func() (uuid.UUID, error) { return w.h.SwitchSubscription(ctx(), w.as(tenant, role), id.String()) }
	}
	var steps []step
	for _, role := range nonActingRoles {
		steps = append(steps, step{"role " + string(role), sw(w.a, role, usage), domain.ErrForbidden, nil})
	}
	steps = append(steps,
		step{"a customer", sw(w.c, domain.RoleGlobalAdmin, usage), domain.ErrForbidden, nil},
		step{"partner not seeing it", sw(w.g, domain.RoleGlobalAdmin, usage), domain.ErrNotFound, nil},
		step{"malformed", func() (uuid.UUID, error) {
			return w.h.SwitchSubscription(ctx(), w.as(w.a, domain.RoleGlobalAdmin), "zzz")
		}, domain.ErrBadUserInput, nil},
		step{"order: not eligible before relationship", sw(w.a, domain.RoleGlobalAdmin, direct), domain.ErrNotEligible, nil},
		step{"syndication", sw(w.a, domain.RoleGlobalAdmin, synd), domain.ErrNotEligible, nil},
		step{"no relationship", sw(w.a, domain.RoleGlobalAdmin, usage), domain.ErrRelationshipRequired, nil},
	)
	w.run(steps...)
	w.relate(w.a, w.c, false)
	w.run(step{"pending relationship", sw(w.a, domain.RoleGlobalAdmin, usage), domain.ErrRelationshipRequired, nil})
	w.must(w.h.AcceptResellerRelationship(ctx(), w.as(w.c, domain.RoleGlobalAdmin), domain.RelationshipID(w.a, w.c, 0).String()))
	w.run(
		step{"license before term end", sw(w.a, domain.RoleGlobalAdmin, license), domain.ErrTermNotEnded, nil},
		step{"usage switched", sw(w.a, domain.RoleUserAdmin, usage), nil, &usage},
		step{"already sold by the caller", sw(w.a, domain.RoleGlobalAdmin, usage), domain.ErrInvalidState, nil},
		step{"customer cancels the license", func() (uuid.UUID, error) {
			return w.h.CancelSubscription(ctx(), w.as(w.c, domain.RoleGlobalAdmin), license.String())
		}, nil, nil},
		step{"cancelled: nothing to switch", sw(w.a, domain.RoleGlobalAdmin, license), domain.ErrInvalidState, nil},
	)
	e, md := w.lastEvent(domain.SubscriptionStream(usage))
	if s := e.(domain.SubscriptionSwitched); s.ToPartnerID != w.a || s.FromPartnerID == nil || *s.FromPartnerID != w.b || md.Actor.Role != domain.RoleUserAdmin {
		t.Fatalf("switched %+v", s)
	}
	// From the term end on, the license moves.
	w.clock.set(termEnd)
	w.run(step{"license at term end", sw(w.a, domain.RoleSalesAgent, license2), nil, &license2})
}

func TestAzureReplacement(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	legacy := w.record(w.c, domain.UsageBased, domain.ChannelEnterpriseAgreement, nil, nil, "VMs", "SQL", "Storage")
	fromPartner := w.record(w.c, domain.UsageBased, domain.ChannelCSPPartner, &w.b, nil, "VMs")
	services := w.services(legacy)
	other := uuid.New()
	w.onboard(other, false)
	details := domain.LegacyDetails{AzureSubscriptionID: "a1b2", AgreementNumber: ptr("EA-42")}
	create := func(tenant uuid.UUID, role domain.Role, customer, legacyID string) func() (uuid.UUID, error) {
		return func() (uuid.UUID, error) {
			return w.h.CreateAzureSubscription(ctx(), w.as(tenant, role), command.CreateAzureSubscription{CustomerID: customer, LegacySubscriptionID: legacyID, Offer: "Azure plan", LegacyDetails: details})
		}
	}
	cancel := func(legacyID uuid.UUID, service *uuid.UUID) func() (uuid.UUID, error) {
		return func() (uuid.UUID, error) {
			in := command.CancelLegacyService{LegacySubscriptionID: legacyID.String()}
			if service != nil {
				in.ServiceID = ptr(service.String())
			}
			return w.h.CancelLegacyService(ctx(), w.as(w.a, domain.RoleGlobalAdmin), in)
		}
	}
	replacement := domain.ReplacementID(legacy, w.a)
	w.run(
		step{"billing admin", create(w.a, domain.RoleBillingAdmin, w.c.String(), legacy.String()), domain.ErrForbidden, nil},
		step{"a customer", create(w.c, domain.RoleGlobalAdmin, w.c.String(), legacy.String()), domain.ErrForbidden, nil},
		step{"empty details", func() (uuid.UUID, error) {
			return w.h.CreateAzureSubscription(ctx(), w.as(w.a, domain.RoleGlobalAdmin), command.CreateAzureSubscription{CustomerID: w.c.String(), LegacySubscriptionID: legacy.String(), Offer: "Azure plan"})
		}, domain.ErrBadUserInput, nil},
		step{"malformed legacy id", create(w.a, domain.RoleGlobalAdmin, w.c.String(), "x"), domain.ErrBadUserInput, nil},
		step{"partner not seeing it", create(w.b, domain.RoleGlobalAdmin, w.c.String(), legacy.String()), domain.ErrNotFound, nil},
		step{"customer is not the legacy one's", create(w.a, domain.RoleGlobalAdmin, other.String(), legacy.String()), domain.ErrBadUserInput, nil},
		step{"usage from partner", create(w.a, domain.RoleGlobalAdmin, w.c.String(), fromPartner.String()), domain.ErrNotEligible, nil},
		step{"no relationship", create(w.a, domain.RoleGlobalAdmin, w.c.String(), legacy.String()), domain.ErrRelationshipRequired, nil},
		step{"cancel without relationship", cancel(legacy, nil), domain.ErrRelationshipRequired, nil},
	)
	w.relate(w.a, w.c, true)
	w.run(
		step{"cancel before replacement", cancel(legacy, &services[0]), domain.ErrInvalidState, nil},
		step{"created", create(w.a, domain.RoleSalesAgent, w.c.String(), legacy.String()), nil, &replacement},
		step{"again", create(w.a, domain.RoleGlobalAdmin, w.c.String(), legacy.String()), domain.ErrConflict, nil},
		step{"unknown service", cancel(legacy, ptr(uuid.New())), domain.ErrNotFound, nil},
		step{"service 0", cancel(legacy, &services[0]), nil, &legacy},
		step{"service 0 again", cancel(legacy, &services[0]), domain.ErrInvalidState, nil},
		step{"service 1", cancel(legacy, &services[1]), nil, &legacy},
		step{"service 2", cancel(legacy, &services[2]), nil, &legacy},
	)
	e, _ := w.lastEvent(domain.SubscriptionStream(replacement))
	if c := e.(domain.AzureSubscriptionCreated); c.PartnerID != w.a || c.LegacySubscriptionID != legacy || c.CustomerID != w.c || c.LegacyDetails.AzureSubscriptionID != "a1b2" {
		t.Fatalf("created %+v", c)
	}
	w.run(
		step{"whole, after every service", cancel(legacy, nil), nil, &legacy},
		step{"whole again", cancel(legacy, nil), domain.ErrInvalidState, nil},
		step{"cancelled legacy: no replacement", create(w.b, domain.RoleGlobalAdmin, w.c.String(), legacy.String()), domain.ErrNotFound, nil},
	)
	// A whole cancellation is one event listing every active service.
	legacy2 := w.record(w.c, domain.UsageBased, domain.ChannelAdvisor, nil, nil, "A", "B")
	w.must(create(w.a, domain.RoleGlobalAdmin, w.c.String(), legacy2.String())())
	before := w.store.count()
	w.must(cancel(legacy2, nil)())
	if w.store.count() != before+1 {
		t.Fatalf("whole cancellation wrote %d events", w.store.count()-before)
	}
	e, _ = w.lastEvent(domain.SubscriptionStream(legacy2))
	if c := e.(domain.LegacyServiceCancelled); c.ServiceID != nil || len(c.ServiceIDs) != 2 {
		t.Fatalf("whole: %+v", c)
	}
	w.run(step{"legacy cancelled, replacement exists", create(w.a, domain.RoleGlobalAdmin, w.c.String(), legacy2.String()), domain.ErrInvalidState, nil})
}

// services returns the ids of a recorded subscription's services.
func (w *world) services(sub uuid.UUID) []uuid.UUID {
	w.t.Helper()
	evs, err := w.store.ReadStream(ctx(), domain.SubscriptionStream(sub), 0, 0, 1)
	if err != nil {
		w.t.Fatal(err)
	}
	md, _ := domain.DecodeMetadata(evs[0].Metadata)
	e, err := domain.DecodeEvent(evs[0].Type, md.SchemaVersion, evs[0].Data)
	if err != nil {
		w.t.Fatal(err)
	}
	var ids []uuid.UUID
	for _, s := range e.(domain.ExternalSubscriptionRecorded).Services {
		ids = append(ids, s.ID)
	}
	return ids
}

func TestCustomerIsPartnerAndSyndication(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	// B, an enrolled partner, onboarded as a customer without the flag.
	w.onboard(w.b, false)
	flagged := uuid.New()
	w.onboard(flagged, true)
	s := w.record(flagged, domain.UsageBased, domain.ChannelCSPPartner, &w.b, nil)
	legacy := w.record(flagged, domain.UsageBased, domain.ChannelOpen, nil, nil, "VMs")
	synd := w.record(w.c, domain.UsageBased, domain.ChannelSyndicationPartner, nil, nil, "VMs")
	w.relate(w.a, w.c, true)
	req := func(customer uuid.UUID) func() (uuid.UUID, error) {
		return func() (uuid.UUID, error) {
			return w.h.RequestResellerRelationship(ctx(), w.as(w.a, domain.RoleGlobalAdmin), command.RequestResellerRelationship{CustomerID: customer.String()})
		}
	}
	w.run(
		step{"request to an enrolled partner", req(w.b), domain.ErrPartnerToPartnerResale, nil},
		step{"request to a flagged customer", req(flagged), domain.ErrPartnerToPartnerResale, nil},
		step{"switch for a CSP customer", func() (uuid.UUID, error) {
			return w.h.SwitchSubscription(ctx(), w.as(w.a, domain.RoleGlobalAdmin), s.String())
		}, domain.ErrPartnerToPartnerResale, nil},
		step{"replace for a CSP customer", func() (uuid.UUID, error) {
			return w.h.CreateAzureSubscription(ctx(), w.as(w.a, domain.RoleGlobalAdmin), command.CreateAzureSubscription{CustomerID: flagged.String(), LegacySubscriptionID: legacy.String(), Offer: "Azure", LegacyDetails: domain.LegacyDetails{AzureSubscriptionID: "x"}})
		}, domain.ErrPartnerToPartnerResale, nil},
		step{"switch syndication", func() (uuid.UUID, error) {
			return w.h.SwitchSubscription(ctx(), w.as(w.a, domain.RoleGlobalAdmin), synd.String())
		}, domain.ErrNotEligible, nil},
		step{"replace syndication", func() (uuid.UUID, error) {
			return w.h.CreateAzureSubscription(ctx(), w.as(w.a, domain.RoleGlobalAdmin), command.CreateAzureSubscription{CustomerID: w.c.String(), LegacySubscriptionID: synd.String(), Offer: "Azure", LegacyDetails: domain.LegacyDetails{AzureSubscriptionID: "x"}})
		}, domain.ErrNotEligible, nil},
		step{"cancel legacy syndication", func() (uuid.UUID, error) {
			return w.h.CancelLegacyService(ctx(), w.as(w.a, domain.RoleGlobalAdmin), command.CancelLegacyService{LegacySubscriptionID: synd.String()})
		}, domain.ErrNotEligible, nil},
	)
}
