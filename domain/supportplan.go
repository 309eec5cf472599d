package domain

import "time"

// SupportCase names the row of the decision table that applies to a
// subscription. The values are the contract's SupportCase enum.
type SupportCase string

const (
	CaseLicenseFromOtherChannel SupportCase = "LICENSE_FROM_OTHER_CHANNEL"
	CaseLicenseFromCSPPartner   SupportCase = "LICENSE_FROM_CSP_PARTNER"
	CaseUsageFromOtherChannel   SupportCase = "USAGE_FROM_OTHER_CHANNEL"
	CaseUsageFromPartner        SupportCase = "USAGE_FROM_PARTNER"
	CaseCustomerIsCSPPartner    SupportCase = "CUSTOMER_IS_CSP_PARTNER"
	CaseSyndicationPartner      SupportCase = "SYNDICATION_PARTNER"
)

// NextAction is what a calling partner can do next for a subscription. The
// values are the contract's NextAction enum.
type NextAction string

const (
	ActionRequestRelationship     NextAction = "REQUEST_RELATIONSHIP"
	ActionAwaitCustomerAcceptance NextAction = "AWAIT_CUSTOMER_ACCEPTANCE"
	ActionWaitForTermEnd          NextAction = "WAIT_FOR_TERM_END"
	ActionSwitchSubscription      NextAction = "SWITCH_SUBSCRIPTION"
	ActionCreateAzureSubscription NextAction = "CREATE_AZURE_SUBSCRIPTION"
	ActionCancelLegacyServices    NextAction = "CANCEL_LEGACY_SERVICES"
	// ActionNone: nothing is left to do; the caller manages or sells it.
	ActionNone NextAction = "NONE"
	// ActionNotAllowed: refused; the refusal code names the error the
	// action would get.
	ActionNotAllowed NextAction = "NOT_ALLOWED"
)

// ClassifySubscription returns the decision-table row of a subscription.
// The order of the checks is the table's precedence: a customer that is
// itself a CSP partner is refused whatever the channel, then syndication,
// then the seller's kind and the billing model.
func ClassifySubscription(customerIsCSPPartner bool, channel Channel, billing BillingModel) SupportCase {
	switch {
	case customerIsCSPPartner:
		return CaseCustomerIsCSPPartner
	case channel == ChannelSyndicationPartner:
		return CaseSyndicationPartner
	case channel == ChannelCSPPartner:
		if billing == UsageBased {
			return CaseUsageFromPartner
		}
		return CaseLicenseFromCSPPartner
	case billing == UsageBased:
		return CaseUsageFromOtherChannel
	default:
		return CaseLicenseFromOtherChannel
	}
}

// PlanSituation is what the next-action rule needs to know about one
// subscription, seen from one calling partner at one instant.
type PlanSituation struct {
	// Case is the subscription's row (ClassifySubscription).
	Case SupportCase
	// Cancelled: the subscription is cancelled.
	Cancelled bool
	// CallerSells: the calling partner is the subscription's seller.
	CallerSells bool
	// RelationshipAccepted: the caller holds an ACCEPTED relationship with
	// the customer.
	RelationshipAccepted bool
	// RequestPending: the caller's request to the customer is PENDING and
	// not yet expired.
	RequestPending bool
	// TermEndsAt is the end of a license-based subscription's term.
	TermEndsAt *time.Time
	// ReplacedByCaller: the caller already created the Azure subscription
	// that replaces this (legacy, usage-based) one.
	ReplacedByCaller bool
	// Now is the instant the plan is made for.
	Now time.Time
}

// DecideNextAction applies the support plan's "next action, first match
// wins" table. It returns the action, the refusal code ("" when the action
// is not refused) and an explanation for the caller.
//
// (The function is not named NextAction because that is the type's name.)
func DecideNextAction(s PlanSituation) (NextAction, Code, string) {
	switch {
	case s.Cancelled:
		return ActionNotAllowed, CodeInvalidState,
			"The subscription is cancelled: there is nothing left to move or support."
	case s.Case == CaseCustomerIsCSPPartner:
		return ActionNotAllowed, CodePartnerToPartnerResale,
			"The customer is itself a CSP partner: a CSP partner can't resell online services to another CSP partner."
	case s.Case == CaseSyndicationPartner:
		return ActionNotAllowed, CodeNotEligible,
			"The subscription was bought from a Microsoft Syndication Partner: multi-channel support does not cover it."
	case s.CallerSells:
		return ActionNone, "",
			"You sell this subscription already."
	case !s.RelationshipAccepted && s.RequestPending:
		return ActionAwaitCustomerAcceptance, "",
			"Your reseller relationship request is pending: a Global admin of the customer's tenant must accept it."
	case !s.RelationshipAccepted:
		return ActionRequestRelationship, "",
			"Request a reseller relationship; once the customer accepts it, you can act on this subscription."
	case s.Case == CaseLicenseFromOtherChannel:
		return ActionNone, "",
			"With the accepted reseller relationship you manage and support this license-based subscription."
	case s.Case == CaseLicenseFromCSPPartner && s.TermEndsAt != nil && s.Now.Before(*s.TermEndsAt):
		return ActionWaitForTermEnd, CodeTermNotEnded,
			"The subscription is sold by another CSP partner: it can't move to you until its term ends on " +
				s.TermEndsAt.UTC().Format(time.RFC3339) + " or the customer cancels it."
	case s.Case == CaseLicenseFromCSPPartner, s.Case == CaseUsageFromPartner:
		return ActionSwitchSubscription, "",
			"Switch the subscription to you: it keeps its id and history."
	case s.Case == CaseUsageFromOtherChannel && !s.ReplacedByCaller:
		return ActionCreateAzureSubscription, "",
			"Create a new Azure subscription, enter the legacy subscription's details, then cancel its services."
	default: // CaseUsageFromOtherChannel, replaced by the caller and still active
		return ActionCancelLegacyServices, "",
			"Cancel the legacy subscription's services, one by one or all at once; Azure CSP may coexist with other channels."
	}
}
