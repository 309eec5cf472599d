package projections_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/projections"
)

type planRow struct {
	action domain.NextAction
	code   domain.Code
	cas    domain.SupportCase
}

func planOf(t *testing.T, m *projections.Model, v domain.Actor, c uuid.UUID) map[uuid.UUID]planRow {
	t.Helper()
	plan, err := m.SupportPlan(v, c)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Customer.ID != c {
		t.Fatalf("plan for %s", plan.Customer.ID)
	}
	out := make(map[uuid.UUID]planRow)
	for _, it := range plan.Items {
		var code domain.Code
		if it.RefusalCode != nil {
			code = *it.RefusalCode
		}
		if it.Explanation == "" {
			t.Fatal("item without explanation")
		}
		out[it.Subscription.ID] = planRow{it.NextAction, code, it.Case}
	}
	return out
}

func TestSupportPlan(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	me := f.enroll("Me")
	other := f.enroll("Other")
	c := f.onboard(other, "Northwind", false)
	lic := f.record(c, "M365", domain.LicenseBased, domain.ChannelMicrosoftDirect, nil)
	licCSP := f.record(c, "E5", domain.LicenseBased, domain.ChannelCSPPartner, &other)
	usage := f.record(c, "Azure", domain.UsageBased, domain.ChannelEnterpriseAgreement, nil, "VM")
	usageCSP := f.record(c, "Azure CSP", domain.UsageBased, domain.ChannelCSPPartner, &other)
	synd := f.record(c, "Synd", domain.LicenseBased, domain.ChannelSyndicationPartner, nil)
	gone := f.record(c, "Old", domain.LicenseBased, domain.ChannelOpen, nil)
	f.emit(domain.SubscriptionStream(gone), user(c, domain.RoleGlobalAdmin), domain.SubscriptionCancelled{SubscriptionID: gone, CustomerID: c})
	mv := user(me, domain.RoleSalesAgent)

	// Who may ask.
	for name, v := range map[string]domain.Actor{
		"customer user": user(c, domain.RoleGlobalAdmin),
		"auditor":       auditor,
		"stranger":      user(newID(), domain.RoleGlobalAdmin),
	} {
		if _, err := f.model.SupportPlan(v, c); !errors.Is(err, domain.ErrForbidden) {
			t.Errorf("%s: %v, want FORBIDDEN", name, err)
		}
	}
	if _, err := f.model.SupportPlan(mv, c); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("unseen customer: %v, want NOT_FOUND", err)
	}

	// A pending request: profile-only, so no subscription is visible yet
	// (the plan lists what the caller may see).
	r := f.request(me, c, 0)
	if plan := planOf(t, f.model, mv, c); len(plan) != 0 {
		t.Fatalf("profile-only plan: %v", plan)
	}
	// The seller sees its own two: it sells them.
	for id, row := range planOf(t, f.model, user(other, domain.RoleSalesAgent), c) {
		if id == licCSP || id == usageCSP {
			if row.action != domain.ActionNone {
				t.Fatalf("seller's own %s: %+v", id, row)
			}
		}
	}

	f.accept(r, me, c)
	f.now = f.at
	plan := planOf(t, f.model, mv, c)
	want := map[uuid.UUID]planRow{
		lic:      {domain.ActionNone, "", domain.CaseLicenseFromOtherChannel},
		licCSP:   {domain.ActionWaitForTermEnd, domain.CodeTermNotEnded, domain.CaseLicenseFromCSPPartner},
		usage:    {domain.ActionCreateAzureSubscription, "", domain.CaseUsageFromOtherChannel},
		usageCSP: {domain.ActionSwitchSubscription, "", domain.CaseUsageFromPartner},
		synd:     {domain.ActionNotAllowed, domain.CodeNotEligible, domain.CaseSyndicationPartner},
		gone:     {domain.ActionNotAllowed, domain.CodeInvalidState, domain.CaseLicenseFromOtherChannel},
	}
	checkPlan(t, "accepted", plan, want)

	// The term ends; the usage one gets replaced by me; the other CSP's
	// usage one is switched to me.
	f.now = f.at.Add(31 * 24 * time.Hour)
	repl := domain.ReplacementID(usage, me)
	f.emit(domain.SubscriptionStream(repl), mv, domain.AzureSubscriptionCreated{
		SubscriptionID: repl, CustomerID: c, PartnerID: me, LegacySubscriptionID: usage, Offer: "Azure",
		LegacyDetails: domain.LegacyDetails{AzureSubscriptionID: "az"},
	})
	f.emit(domain.SubscriptionStream(usageCSP), mv, domain.SubscriptionSwitched{SubscriptionID: usageCSP, CustomerID: c, FromPartnerID: &other, ToPartnerID: me})
	want[licCSP] = planRow{domain.ActionSwitchSubscription, "", domain.CaseLicenseFromCSPPartner}
	want[usage] = planRow{domain.ActionCancelLegacyServices, "", domain.CaseUsageFromOtherChannel}
	want[usageCSP] = planRow{domain.ActionNone, "", domain.CaseUsageFromPartner}
	want[repl] = planRow{domain.ActionNone, "", domain.CaseUsageFromPartner}
	checkPlan(t, "later", planOf(t, f.model, mv, c), want)

	// The customer's tenant enrols as a partner: it is a CSP partner now,
	// and every row not cancelled is refused.
	f.enrollID(c, "Northwind partner")
	for id, row := range planOf(t, f.model, mv, c) {
		if id == gone {
			continue
		}
		if row.cas != domain.CaseCustomerIsCSPPartner || row.action != domain.ActionNotAllowed || row.code != domain.CodePartnerToPartnerResale {
			t.Fatalf("CSP customer, %s: %+v", id, row)
		}
	}
}

func TestSupportPlanRequestStates(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	me := f.enroll("Me")
	seller := f.enroll("Seller")
	c := f.onboard(me, "Northwind", false) // onboarded by me: seen fully
	s := f.record(c, "Azure", domain.UsageBased, domain.ChannelCSPPartner, &seller)
	mv := user(me, domain.RoleSalesAgent)
	check := func(want domain.NextAction) {
		t.Helper()
		if got := planOf(t, f.model, mv, c)[s].action; got != want {
			t.Fatalf("next action %s, want %s", got, want)
		}
	}
	check(domain.ActionRequestRelationship)
	f.request(me, c, 0)
	check(domain.ActionAwaitCustomerAcceptance)
	f.now = f.at.Add(domain.RelationshipTTL) // the request reads EXPIRED
	check(domain.ActionRequestRelationship)
	r1 := f.request(me, c, 1)
	f.accept(r1, me, c)
	check(domain.ActionSwitchSubscription)
	f.emit(domain.RelationshipStream(r1), mv, domain.RelationshipTerminated{RelationshipID: r1, PartnerID: me, CustomerID: c})
	check(domain.ActionRequestRelationship)
}

func checkPlan(t *testing.T, when string, got, want map[uuid.UUID]planRow) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d items, want %d", when, len(got), len(want))
	}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("%s: %s: %+v, want %+v", when, id, got[id], w)
		}
	}
}
