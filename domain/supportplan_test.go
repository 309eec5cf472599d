package domain_test

import (
	"strings"
	"testing"
	"time"

	"github.com/partnercenter/multichannel/domain"
)

func TestClassifySubscription(t *testing.T) {
	t.Parallel()
	otherChannels := []domain.Channel{
		domain.ChannelMicrosoftDirect, domain.ChannelAdvisor, domain.ChannelOpen,
		domain.ChannelEnterpriseAgreement, domain.ChannelThirdParty,
	}
	allChannels := append(append([]domain.Channel{}, otherChannels...),
		domain.ChannelCSPPartner, domain.ChannelSyndicationPartner)
	type row struct {
		name     string
		csp      bool
		channels []domain.Channel
		billing  domain.BillingModel
		want     domain.SupportCase
	}
	// One line per row of the decision table.
	rows := []row{
		{"license, other channel", false, otherChannels, domain.LicenseBased, domain.CaseLicenseFromOtherChannel},
		{"license, another CSP partner", false, []domain.Channel{domain.ChannelCSPPartner}, domain.LicenseBased, domain.CaseLicenseFromCSPPartner},
		{"usage, other channel", false, otherChannels, domain.UsageBased, domain.CaseUsageFromOtherChannel},
		{"usage, another partner", false, []domain.Channel{domain.ChannelCSPPartner}, domain.UsageBased, domain.CaseUsageFromPartner},
		{"license, customer is a CSP partner", true, allChannels, domain.LicenseBased, domain.CaseCustomerIsCSPPartner},
		{"usage, customer is a CSP partner", true, allChannels, domain.UsageBased, domain.CaseCustomerIsCSPPartner},
		{"license, syndication partner", false, []domain.Channel{domain.ChannelSyndicationPartner}, domain.LicenseBased, domain.CaseSyndicationPartner},
		{"usage, syndication partner", false, []domain.Channel{domain.ChannelSyndicationPartner}, domain.UsageBased, domain.CaseSyndicationPartner},
	}
	for _, r := range rows {
		for _, ch := range r.channels {
			if got := domain.ClassifySubscription(r.csp, ch, r.billing); got != r.want {
				t.Errorf("%s: ClassifySubscription(%v, %s, %s) = %s, want %s", r.name, r.csp, ch, r.billing, got, r.want)
			}
		}
	}
}

func TestDecideNextAction(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	future := now.Add(time.Hour)
	past := now.Add(-time.Hour)
	type row struct {
		name     string
		s        domain.PlanSituation
		want     domain.NextAction
		wantCode domain.Code
	}
	accepted := func(c domain.SupportCase) domain.PlanSituation {
		return domain.PlanSituation{Case: c, RelationshipAccepted: true, Now: now}
	}
	// One line per row of the "next action, first match wins" table, each
	// built so that the rows below it would also match: the order is tested.
	rows := []row{
		{"cancelled", domain.PlanSituation{Case: domain.CaseCustomerIsCSPPartner, Cancelled: true, CallerSells: true, Now: now},
			domain.ActionNotAllowed, domain.CodeInvalidState},
		{"customer is CSP partner", domain.PlanSituation{Case: domain.CaseCustomerIsCSPPartner, CallerSells: true, Now: now},
			domain.ActionNotAllowed, domain.CodePartnerToPartnerResale},
		{"syndication", domain.PlanSituation{Case: domain.CaseSyndicationPartner, CallerSells: true, Now: now},
			domain.ActionNotAllowed, domain.CodeNotEligible},
		{"caller sells it", domain.PlanSituation{Case: domain.CaseUsageFromPartner, CallerSells: true, RequestPending: true, Now: now},
			domain.ActionNone, ""},
		{"request pending", domain.PlanSituation{Case: domain.CaseLicenseFromOtherChannel, RequestPending: true, Now: now},
			domain.ActionAwaitCustomerAcceptance, ""},
		{"no relationship", domain.PlanSituation{Case: domain.CaseUsageFromOtherChannel, Now: now},
			domain.ActionRequestRelationship, ""},
		{"license from other channel", accepted(domain.CaseLicenseFromOtherChannel),
			domain.ActionNone, ""},
		{"license from CSP partner, term running", func() domain.PlanSituation {
			s := accepted(domain.CaseLicenseFromCSPPartner)
			s.TermEndsAt = &future
			return s
		}(), domain.ActionWaitForTermEnd, domain.CodeTermNotEnded},
		{"license from CSP partner, term ended", func() domain.PlanSituation {
			s := accepted(domain.CaseLicenseFromCSPPartner)
			s.TermEndsAt = &past
			return s
		}(), domain.ActionSwitchSubscription, ""},
		{"license from CSP partner, term ends now", func() domain.PlanSituation {
			s := accepted(domain.CaseLicenseFromCSPPartner)
			s.TermEndsAt = &now
			return s
		}(), domain.ActionSwitchSubscription, ""},
		{"usage from partner", accepted(domain.CaseUsageFromPartner),
			domain.ActionSwitchSubscription, ""},
		{"usage from other channel, not replaced", accepted(domain.CaseUsageFromOtherChannel),
			domain.ActionCreateAzureSubscription, ""},
		{"usage from other channel, replaced by caller", func() domain.PlanSituation {
			s := accepted(domain.CaseUsageFromOtherChannel)
			s.ReplacedByCaller = true
			return s
		}(), domain.ActionCancelLegacyServices, ""},
		{"accepted wins over a pending request", func() domain.PlanSituation {
			s := accepted(domain.CaseUsageFromPartner)
			s.RequestPending = true
			return s
		}(), domain.ActionSwitchSubscription, ""},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			got, code, why := domain.DecideNextAction(r.s)
			if got != r.want || code != r.wantCode {
				t.Fatalf("DecideNextAction = (%s, %q), want (%s, %q)", got, code, r.want, r.wantCode)
			}
			if strings.TrimSpace(why) == "" {
				t.Fatal("empty explanation")
			}
		})
	}
}
