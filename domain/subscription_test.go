package domain_test

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
)

// standing builds the facts a partner's action depends on.
type standingOpt func(*domain.Standing)

func standingFor(t *testing.T, p uuid.UUID, opts ...standingOpt) domain.Standing {
	t.Helper()
	st := domain.Standing{Partner: partner(t, p, domain.CloudPublic), Customer: customer(t, custC, domain.CloudPublic, false)}
	for _, o := range opts {
		o(&st)
	}
	return st
}

func withAccepted(t *testing.T) standingOpt {
	return func(st *domain.Standing) {
		st.Relationships = append(st.Relationships, fold[domain.Relationship](t, requested(st.Partner.ID, custC, 0, t0), accepted(st.Partner.ID, custC, 0)))
	}
}

func withRelationship(t *testing.T, events ...domain.Event) standingOpt {
	return func(st *domain.Standing) {
		st.Relationships = append(st.Relationships, fold[domain.Relationship](t, events...))
	}
}

func withCSPFlag(t *testing.T) standingOpt {
	return func(st *domain.Standing) { st.Customer = customer(t, custC, domain.CloudPublic, true) }
}

func withCustomerEnrolled() standingOpt {
	return func(st *domain.Standing) { st.CustomerIsPartner = true }
}

func withReplacement(t *testing.T) standingOpt {
	return func(st *domain.Standing) {
		st.Replacement = fold[domain.Subscription](t, domain.AzureSubscriptionCreated{
			SubscriptionID: domain.ReplacementID(subID, st.Partner.ID), CustomerID: custC, PartnerID: st.Partner.ID,
			LegacySubscriptionID: subID, Offer: "Azure plan", LegacyDetails: domain.LegacyDetails{AzureSubscriptionID: "x"},
		})
	}
}

func withGovPartner(t *testing.T) standingOpt {
	return func(st *domain.Standing) { st.Partner = partner(t, st.Partner.ID, domain.CloudUSGovernment) }
}

var (
	cancelled = domain.SubscriptionCancelled{SubscriptionID: subID, CustomerID: custC}
	termEnd   = t0.Add(30 * 24 * time.Hour)
)

func TestSwitchSubscription(t *testing.T) {
	t.Parallel()
	usageFromB := recorded(domain.UsageBased, domain.ChannelCSPPartner, &pB, nil)
	licenseFromB := recorded(domain.LicenseBased, domain.ChannelCSPPartner, &pB, &termEnd)
	switchedToA := []domain.Event{domain.SubscriptionSwitched{SubscriptionID: subID, CustomerID: custC, FromPartnerID: &pB, ToPartnerID: pA}}
	tests := []struct {
		name    string
		given   []domain.Event
		opts    []standingOpt
		now     time.Time
		want    []domain.Event
		wantErr error
	}{
		// Decision table: usage-based from another partner -> switch.
		{"usage from partner: switched", []domain.Event{usageFromB}, []standingOpt{withAccepted(t)}, t0, switchedToA, nil},
		// License-based from another CSP partner: refused before the term end.
		{"license from CSP before term end", []domain.Event{licenseFromB}, []standingOpt{withAccepted(t)}, termEnd.Add(-time.Millisecond), nil, domain.ErrTermNotEnded},
		{"license from CSP at term end", []domain.Event{licenseFromB}, []standingOpt{withAccepted(t)}, termEnd, switchedToA, nil},
		{"license from CSP after term end", []domain.Event{licenseFromB}, []standingOpt{withAccepted(t)}, termEnd.Add(time.Hour), switchedToA, nil},
		{"license from CSP cancelled: nothing to switch", []domain.Event{licenseFromB, cancelled}, []standingOpt{withAccepted(t)}, t0, nil, domain.ErrInvalidState},
		// Rows the switch does not apply to.
		{"license from other channel", []domain.Event{recorded(domain.LicenseBased, domain.ChannelOpen, nil, &termEnd)}, []standingOpt{withAccepted(t)}, t0, nil, domain.ErrNotEligible},
		{"usage from other channel", []domain.Event{recorded(domain.UsageBased, domain.ChannelEnterpriseAgreement, nil, nil)}, []standingOpt{withAccepted(t)}, t0, nil, domain.ErrNotEligible},
		{"syndication partner", []domain.Event{recorded(domain.UsageBased, domain.ChannelSyndicationPartner, nil, nil)}, []standingOpt{withAccepted(t)}, t0, nil, domain.ErrNotEligible},
		{"customer is CSP by flag", []domain.Event{usageFromB}, []standingOpt{withAccepted(t), withCSPFlag(t)}, t0, nil, domain.ErrPartnerToPartnerResale},
		{"customer is CSP by enrolment", []domain.Event{usageFromB}, []standingOpt{withAccepted(t), withCustomerEnrolled()}, t0, nil, domain.ErrPartnerToPartnerResale},
		// Relationship required: none, pending, terminated.
		{"no relationship", []domain.Event{usageFromB}, nil, t0, nil, domain.ErrRelationshipRequired},
		{"pending relationship", []domain.Event{usageFromB}, []standingOpt{withRelationship(t, requested(pA, custC, 0, t0))}, t0, nil, domain.ErrRelationshipRequired},
		{"terminated relationship", []domain.Event{usageFromB}, []standingOpt{withRelationship(t, requested(pA, custC, 0, t0), accepted(pA, custC, 0),
			domain.RelationshipTerminated{RelationshipID: domain.RelationshipID(pA, custC, 0), PartnerID: pA, CustomerID: custC})}, t0, nil, domain.ErrRelationshipRequired},
		{"another partner's accepted relationship", []domain.Event{usageFromB}, []standingOpt{withRelationship(t, requested(pB, custC, 0, t0), accepted(pB, custC, 0))}, t0, nil, domain.ErrRelationshipRequired},
		// An ACCEPTED attempt counts behind a later one (see domain.Ties).
		{"accepted attempt behind a later pending one", []domain.Event{usageFromB}, []standingOpt{withAccepted(t),
			withRelationship(t, requested(pA, custC, 1, t0.Add(domain.RelationshipTTL)))}, t0.Add(domain.RelationshipTTL), switchedToA, nil},
		{"cloud mismatch", []domain.Event{usageFromB}, []standingOpt{withGovPartner(t), withAccepted(t)}, t0, nil, domain.ErrCloudMismatch},
		{"already sold by the caller", []domain.Event{recorded(domain.UsageBased, domain.ChannelCSPPartner, &pA, nil)}, []standingOpt{withAccepted(t)}, t0, nil, domain.ErrInvalidState},
		{"cancelled usage", []domain.Event{usageFromB, cancelled}, []standingOpt{withAccepted(t)}, t0, nil, domain.ErrInvalidState},
		{"unknown subscription", nil, []standingOpt{withAccepted(t)}, t0, nil, domain.ErrNotFound},
		// Check order.
		{"order: CSP customer before syndication and relationship", []domain.Event{recorded(domain.UsageBased, domain.ChannelSyndicationPartner, nil, nil)}, []standingOpt{withCSPFlag(t)}, t0, nil, domain.ErrPartnerToPartnerResale},
		{"order: not eligible before relationship", []domain.Event{recorded(domain.LicenseBased, domain.ChannelOpen, nil, &termEnd)}, nil, t0, nil, domain.ErrNotEligible},
		{"order: relationship before cancelled", []domain.Event{usageFromB, cancelled}, nil, t0, nil, domain.ErrRelationshipRequired},
		{"order: cancelled before term", []domain.Event{licenseFromB, cancelled}, []standingOpt{withAccepted(t)}, t0, nil, domain.ErrInvalidState},
		{"order: sold by caller before term", []domain.Event{recorded(domain.LicenseBased, domain.ChannelCSPPartner, &pA, &termEnd)}, []standingOpt{withAccepted(t)}, t0, nil, domain.ErrInvalidState},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sub := fold[domain.Subscription](t, tt.given...)
			got, err := sub.Switch(standingFor(t, pA, tt.opts...), tt.now)
			then(t, got, err, tt.want, tt.wantErr)
		})
	}
}

func TestSwitchKeepsIdAndChannel(t *testing.T) {
	t.Parallel()
	sub := fold[domain.Subscription](t, recorded(domain.UsageBased, domain.ChannelCSPPartner, &pB, nil))
	events, err := sub.Switch(standingFor(t, pA, withAccepted(t)), t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Apply(events[0]); err != nil {
		t.Fatal(err)
	}
	if sub.ID != subID || sub.Channel != domain.ChannelCSPPartner || !sub.SoldBy(pA) || sub.Version != 2 {
		t.Fatalf("after switch: %+v", sub)
	}
}

func TestCreateAzureSubscription(t *testing.T) {
	t.Parallel()
	legacy := recorded(domain.UsageBased, domain.ChannelEnterpriseAgreement, nil, nil, domain.Service{ID: svc1, Name: "VMs"})
	details := domain.LegacyDetails{AzureSubscriptionID: "a1b2", AgreementNumber: ptr("EA-42")}
	created := []domain.Event{domain.AzureSubscriptionCreated{
		SubscriptionID: domain.ReplacementID(subID, pA), CustomerID: custC, PartnerID: pA,
		LegacySubscriptionID: subID, Offer: "Azure plan", LegacyDetails: details,
	}}
	tests := []struct {
		name     string
		given    []domain.Event
		customer uuid.UUID
		offer    string
		details  domain.LegacyDetails
		opts     []standingOpt
		want     []domain.Event
		wantErr  error
	}{
		// Decision table: usage-based from another channel -> new Azure subscription.
		{"usage from other channel: created", []domain.Event{legacy}, custC, "Azure plan", details, []standingOpt{withAccepted(t)}, created, nil},
		{"every other channel too", []domain.Event{recorded(domain.UsageBased, domain.ChannelThirdParty, nil, nil)}, custC, " Azure plan ", details, []standingOpt{withAccepted(t)}, created, nil},
		{"empty offer", []domain.Event{legacy}, custC, " ", details, []standingOpt{withAccepted(t)}, nil, domain.ErrBadUserInput},
		{"empty azure subscription id", []domain.Event{legacy}, custC, "Azure plan", domain.LegacyDetails{}, []standingOpt{withAccepted(t)}, nil, domain.ErrBadUserInput},
		{"customer is not the legacy one's", []domain.Event{legacy}, custCSP, "Azure plan", details, []standingOpt{withAccepted(t)}, nil, domain.ErrBadUserInput},
		{"customer is CSP partner", []domain.Event{legacy}, custC, "Azure plan", details, []standingOpt{withAccepted(t), withCSPFlag(t)}, nil, domain.ErrPartnerToPartnerResale},
		{"usage from partner", []domain.Event{recorded(domain.UsageBased, domain.ChannelCSPPartner, &pB, nil)}, custC, "Azure plan", details, []standingOpt{withAccepted(t)}, nil, domain.ErrNotEligible},
		{"license-based", []domain.Event{recorded(domain.LicenseBased, domain.ChannelOpen, nil, &termEnd)}, custC, "Azure plan", details, []standingOpt{withAccepted(t)}, nil, domain.ErrNotEligible},
		{"syndication", []domain.Event{recorded(domain.UsageBased, domain.ChannelSyndicationPartner, nil, nil)}, custC, "Azure plan", details, []standingOpt{withAccepted(t)}, nil, domain.ErrNotEligible},
		{"no relationship", []domain.Event{legacy}, custC, "Azure plan", details, nil, nil, domain.ErrRelationshipRequired},
		{"legacy cancelled", []domain.Event{legacy, cancelled}, custC, "Azure plan", details, []standingOpt{withAccepted(t)}, nil, domain.ErrInvalidState},
		{"already replaced by the caller", []domain.Event{legacy}, custC, "Azure plan", details, []standingOpt{withAccepted(t), withReplacement(t)}, nil, domain.ErrConflict},
		// Check order.
		{"order: customer mismatch before CSP", []domain.Event{legacy}, custCSP, "Azure plan", details, []standingOpt{withCSPFlag(t)}, nil, domain.ErrBadUserInput},
		{"order: cancelled before replaced", []domain.Event{legacy, cancelled}, custC, "Azure plan", details, []standingOpt{withAccepted(t), withReplacement(t)}, nil, domain.ErrInvalidState},
		{"order: relationship before cancelled", []domain.Event{legacy, cancelled}, custC, "Azure plan", details, nil, nil, domain.ErrRelationshipRequired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sub := fold[domain.Subscription](t, tt.given...)
			got, err := sub.Replace(tt.customer, tt.offer, tt.details, standingFor(t, pA, tt.opts...))
			then(t, got, err, tt.want, tt.wantErr)
		})
	}
}

func TestCancelLegacyService(t *testing.T) {
	t.Parallel()
	legacy := recorded(domain.UsageBased, domain.ChannelAdvisor, nil, nil, domain.Service{ID: svc1, Name: "VMs"}, domain.Service{ID: svc2, Name: "SQL"})
	one := func(id uuid.UUID) domain.LegacyServiceCancelled {
		return domain.LegacyServiceCancelled{SubscriptionID: subID, CustomerID: custC, PartnerID: pA, ServiceID: ptr(id), ServiceIDs: []uuid.UUID{id}}
	}
	whole := func(ids ...uuid.UUID) domain.LegacyServiceCancelled {
		return domain.LegacyServiceCancelled{SubscriptionID: subID, CustomerID: custC, PartnerID: pA, ServiceIDs: append([]uuid.UUID{}, ids...)}
	}
	ok := []standingOpt{withAccepted(t), withReplacement(t)}
	tests := []struct {
		name    string
		given   []domain.Event
		service *uuid.UUID
		opts    []standingOpt
		want    []domain.Event
		wantErr error
	}{
		{"one service", []domain.Event{legacy}, &svc1, ok, []domain.Event{one(svc1)}, nil},
		{"whole: every active service in one event", []domain.Event{legacy}, nil, ok, []domain.Event{whole(svc1, svc2)}, nil},
		{"whole after one: the rest", []domain.Event{legacy, one(svc1)}, nil, ok, []domain.Event{whole(svc2)}, nil},
		{"whole after every service: still active, cancels it", []domain.Event{legacy, one(svc1), one(svc2)}, nil, ok, []domain.Event{whole()}, nil},
		{"service already cancelled", []domain.Event{legacy, one(svc1)}, &svc1, ok, nil, domain.ErrInvalidState},
		{"subscription already cancelled whole", []domain.Event{legacy, whole(svc1, svc2)}, nil, ok, nil, domain.ErrInvalidState},
		{"unknown service", []domain.Event{legacy}, ptr(uuid.MustParse("0195d2a0-0000-7000-8000-0000000005ff")), ok, nil, domain.ErrNotFound},
		{"no replacement by the caller", []domain.Event{legacy}, &svc1, []standingOpt{withAccepted(t)}, nil, domain.ErrInvalidState},
		{"no relationship", []domain.Event{legacy}, &svc1, []standingOpt{withReplacement(t)}, nil, domain.ErrRelationshipRequired},
		{"customer is CSP", []domain.Event{legacy}, &svc1, []standingOpt{withAccepted(t), withReplacement(t), withCustomerEnrolled()}, nil, domain.ErrPartnerToPartnerResale},
		{"not a legacy row", []domain.Event{recorded(domain.UsageBased, domain.ChannelCSPPartner, &pB, nil)}, nil, ok, nil, domain.ErrNotEligible},
		{"syndication", []domain.Event{recorded(domain.UsageBased, domain.ChannelSyndicationPartner, nil, nil)}, nil, ok, nil, domain.ErrNotEligible},
		// Check order.
		{"order: replacement before unknown service", []domain.Event{legacy}, ptr(uuid.MustParse("0195d2a0-0000-7000-8000-0000000005ff")), []standingOpt{withAccepted(t)}, nil, domain.ErrInvalidState},
		{"order: subscription cancelled before unknown service", []domain.Event{legacy, cancelled}, ptr(uuid.MustParse("0195d2a0-0000-7000-8000-0000000005ff")), ok, nil, domain.ErrInvalidState},
		{"order: relationship before replacement", []domain.Event{legacy}, &svc1, nil, nil, domain.ErrRelationshipRequired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sub := fold[domain.Subscription](t, tt.given...)
			got, err := sub.CancelLegacyService(tt.service, standingFor(t, pA, tt.opts...))
			then(t, got, err, tt.want, tt.wantErr)
		})
	}
}

// Cancelling the last service leaves the legacy subscription ACTIVE; the
// whole cancellation cancels it and every service.
func TestLegacyCancellationStates(t *testing.T) {
	t.Parallel()
	legacy := recorded(domain.UsageBased, domain.ChannelAdvisor, nil, nil, domain.Service{ID: svc1, Name: "VMs"}, domain.Service{ID: svc2, Name: "SQL"})
	st := standingFor(t, pA, withAccepted(t), withReplacement(t))
	sub := fold[domain.Subscription](t, legacy)
	for _, id := range []uuid.UUID{svc1, svc2} {
		events, err := sub.CancelLegacyService(&id, st)
		if err != nil {
			t.Fatal(err)
		}
		if err := sub.Apply(events[0]); err != nil {
			t.Fatal(err)
		}
	}
	if sub.Status != domain.StatusActive {
		t.Fatalf("after the last service: %s, want ACTIVE", sub.Status)
	}
	sub2 := fold[domain.Subscription](t, legacy)
	events, err := sub2.CancelLegacyService(nil, st)
	if err != nil || len(events) != 1 {
		t.Fatalf("whole: %v %v", events, err)
	}
	if err := sub2.Apply(events[0]); err != nil {
		t.Fatal(err)
	}
	if sub2.Status != domain.StatusCancelled || sub2.Services[0].Status != domain.StatusCancelled || sub2.Services[1].Status != domain.StatusCancelled {
		t.Fatalf("after whole cancellation: %+v", sub2)
	}
}

func TestCancelSubscription(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		given   []domain.Event
		want    []domain.Event
		wantErr error
	}{
		{"active", []domain.Event{recorded(domain.LicenseBased, domain.ChannelOpen, nil, &termEnd)}, []domain.Event{cancelled}, nil},
		{"already cancelled", []domain.Event{recorded(domain.LicenseBased, domain.ChannelOpen, nil, &termEnd), cancelled}, nil, domain.ErrInvalidState},
		{"unknown", nil, nil, domain.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := fold[domain.Subscription](t, tt.given...).Cancel()
			then(t, got, err, tt.want, tt.wantErr)
		})
	}
}

func TestRecordExternalSubscription(t *testing.T) {
	t.Parallel()
	term := time.Date(2026, 9, 1, 0, 0, 0, 123456789, time.FixedZone("CET", 3600))
	termMs := domain.AtAPIPrecision(term)
	base := func(mod func(*domain.ExternalPurchase)) domain.ExternalPurchase {
		in := domain.ExternalPurchase{CustomerID: custC, Offer: "M365 E3", BillingModel: domain.LicenseBased, Channel: domain.ChannelMicrosoftDirect, TermEndsAt: &term, Quantity: 5}
		if mod != nil {
			mod(&in)
		}
		return in
	}
	usage := func(in *domain.ExternalPurchase) {
		in.BillingModel, in.TermEndsAt, in.Services = domain.UsageBased, nil, []domain.Service{{ID: svc1, Name: " VMs "}}
	}
	fromSeller := func(s uuid.UUID) func(*domain.ExternalPurchase) {
		return func(in *domain.ExternalPurchase) { in.Channel, in.SellerPartnerID = domain.ChannelCSPPartner, ptr(s) }
	}
	tests := []struct {
		name    string
		in      domain.ExternalPurchase
		seller  *domain.Partner
		want    []domain.Event
		wantErr error
	}{
		{"license, direct", base(nil), nil, []domain.Event{domain.ExternalSubscriptionRecorded{
			SubscriptionID: subID, CustomerID: custC, Offer: "M365 E3", BillingModel: domain.LicenseBased,
			Channel: domain.ChannelMicrosoftDirect, TermEndsAt: &termMs, Quantity: 5, Services: []domain.Service{},
		}}, nil},
		{"usage with services", base(usage), nil, []domain.Event{domain.ExternalSubscriptionRecorded{
			SubscriptionID: subID, CustomerID: custC, Offer: "M365 E3", BillingModel: domain.UsageBased,
			Channel: domain.ChannelMicrosoftDirect, Quantity: 5, Services: []domain.Service{{ID: svc1, Name: "VMs"}},
		}}, nil},
		{"from a CSP partner", base(fromSeller(pB)), partner(t, pB, domain.CloudPublic), []domain.Event{domain.ExternalSubscriptionRecorded{
			SubscriptionID: subID, CustomerID: custC, Offer: "M365 E3", BillingModel: domain.LicenseBased,
			Channel: domain.ChannelCSPPartner, SellerPartnerID: &pB, TermEndsAt: &termMs, Quantity: 5, Services: []domain.Service{},
		}}, nil},
		{"empty offer", base(func(in *domain.ExternalPurchase) { in.Offer = "" }), nil, nil, domain.ErrBadUserInput},
		{"quantity 0", base(func(in *domain.ExternalPurchase) { in.Quantity = 0 }), nil, nil, domain.ErrBadUserInput},
		{"license without term", base(func(in *domain.ExternalPurchase) { in.TermEndsAt = nil }), nil, nil, domain.ErrBadUserInput},
		{"usage with term", base(func(in *domain.ExternalPurchase) { usage(in); in.TermEndsAt = &term }), nil, nil, domain.ErrBadUserInput},
		{"CSP channel without seller", base(func(in *domain.ExternalPurchase) { in.Channel = domain.ChannelCSPPartner }), nil, nil, domain.ErrBadUserInput},
		{"seller on another channel", base(func(in *domain.ExternalPurchase) { in.SellerPartnerID = &pB }), partner(t, pB, domain.CloudPublic), nil, domain.ErrBadUserInput},
		{"empty service name", base(func(in *domain.ExternalPurchase) { usage(in); in.Services[0].Name = "" }), nil, nil, domain.ErrBadUserInput},
		{"unknown channel", base(func(in *domain.ExternalPurchase) { in.Channel = "RESELLER" }), nil, nil, domain.ErrBadUserInput},
		{"unknown seller", base(fromSeller(pB)), nil, nil, domain.ErrNotFound},
		{"seller in another cloud", base(fromSeller(pG)), partner(t, pG, domain.CloudUSGovernment), nil, domain.ErrCloudMismatch},
		{"order: input before seller", base(func(in *domain.ExternalPurchase) { fromSeller(pB)(in); in.Quantity = 0 }), nil, nil, domain.ErrBadUserInput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := new(domain.Subscription).Record(subID, tt.in, customer(t, custC, domain.CloudPublic, false), tt.seller)
			then(t, got, err, tt.want, tt.wantErr)
		})
	}
}

func TestApplyRejectsUnknownEvents(t *testing.T) {
	t.Parallel()
	foreign := domain.PartnerEnrolled{PartnerID: pA}
	for name, agg := range map[string]interface{ Apply(domain.Event) error }{
		"subscription": new(domain.Subscription), "relationship": new(domain.Relationship), "customer": new(domain.Customer),
	} {
		if err := agg.Apply(foreign); err == nil {
			t.Errorf("%s applied a PartnerEnrolled", name)
		}
	}
	if err := new(domain.Partner).Apply(cancelled); err == nil {
		t.Error("partner applied a SubscriptionCancelled")
	}
}
