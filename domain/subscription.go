package domain

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Subscription is a customer's subscription (stream subscription-<id>):
// one bought elsewhere (ExternalSubscriptionRecorded) or the Azure
// subscription a partner made to replace a legacy one
// (AzureSubscriptionCreated).
type Subscription struct {
	ID           uuid.UUID
	CustomerID   uuid.UUID
	Offer        string
	BillingModel BillingModel
	// Channel is where it was bought; a switch keeps it.
	Channel Channel
	// Seller is the CSP partner that sells it now (nil when none does).
	Seller     *uuid.UUID
	TermEndsAt *time.Time
	Quantity   int
	Services   []ServiceState
	Status     SubscriptionStatus
	// Replaces and LegacyDetails are set on a replacement Azure subscription.
	Replaces      *uuid.UUID
	LegacyDetails *LegacyDetails
	// Version is the number of events folded (see Partner.Version).
	Version uint64
}

// ServiceState is a service of a usage-based subscription and its status.
type ServiceState struct {
	ID     uuid.UUID
	Name   string
	Status SubscriptionStatus
}

// Exists reports whether the subscription was recorded or created.
func (s *Subscription) Exists() bool { return s != nil && s.Version > 0 }

// Cancelled reports whether the subscription is cancelled.
func (s *Subscription) Cancelled() bool { return s.Status == StatusCancelled }

// SoldBy reports whether partner sells the subscription now.
func (s *Subscription) SoldBy(partner uuid.UUID) bool {
	return s.Seller != nil && *s.Seller == partner
}

// Case is the subscription's row of the decision table.
func (s *Subscription) Case(customerIsCSPPartner bool) SupportCase {
	return ClassifySubscription(customerIsCSPPartner, s.Channel, s.BillingModel)
}

// Apply folds one event of the subscription's stream.
func (s *Subscription) Apply(e Event) error {
	switch e := e.(type) {
	case ExternalSubscriptionRecorded:
		s.ID, s.CustomerID, s.Offer = e.SubscriptionID, e.CustomerID, e.Offer
		s.BillingModel, s.Channel, s.Seller = e.BillingModel, e.Channel, e.SellerPartnerID
		s.TermEndsAt, s.Quantity, s.Status = e.TermEndsAt, e.Quantity, StatusActive
		s.Services = make([]ServiceState, len(e.Services))
		for i, sv := range e.Services {
			s.Services[i] = ServiceState{ID: sv.ID, Name: sv.Name, Status: StatusActive}
		}
	case AzureSubscriptionCreated:
		seller, legacy, details := e.PartnerID, e.LegacySubscriptionID, e.LegacyDetails
		s.ID, s.CustomerID, s.Offer = e.SubscriptionID, e.CustomerID, e.Offer
		s.BillingModel, s.Channel, s.Seller = UsageBased, ChannelCSPPartner, &seller
		s.Quantity, s.Status, s.Services = 1, StatusActive, nil
		s.Replaces, s.LegacyDetails = &legacy, &details
	case SubscriptionCancelled:
		s.Status = StatusCancelled
	case SubscriptionSwitched:
		to := e.ToPartnerID
		s.Seller = &to
	case LegacyServiceCancelled:
		if e.ServiceID == nil {
			// The whole subscription: it and every service still active.
			s.Status = StatusCancelled
			for i := range s.Services {
				s.Services[i].Status = StatusCancelled
			}
			break
		}
		for i := range s.Services {
			if s.Services[i].ID == *e.ServiceID {
				s.Services[i].Status = StatusCancelled
			}
		}
	default:
		return fmt.Errorf("subscription: cannot apply %s: %w", e.EventType(), ErrUnknownEventType)
	}
	s.Version++
	return nil
}

// ExternalPurchase is the input of recordExternalSubscription, its ids
// parsed. Services carry the ids the new services will have.
type ExternalPurchase struct {
	CustomerID      uuid.UUID
	Offer           string
	BillingModel    BillingModel
	Channel         Channel
	SellerPartnerID *uuid.UUID
	TermEndsAt      *time.Time
	Quantity        int
	Services        []Service
}

// Validate is step 2 of recordExternalSubscription: the refusals that
// depend on the input alone.
func (in ExternalPurchase) Validate() error {
	switch {
	case strings.TrimSpace(in.Offer) == "":
		return Errorf(CodeBadUserInput, "offer must not be empty")
	case !in.BillingModel.Valid():
		return Errorf(CodeBadUserInput, "unknown billing model %q", in.BillingModel)
	case !in.Channel.Valid():
		return Errorf(CodeBadUserInput, "unknown channel %q", in.Channel)
	case in.Quantity < 1:
		return Errorf(CodeBadUserInput, "quantity must be at least 1 (got %d)", in.Quantity)
	case in.BillingModel == LicenseBased && in.TermEndsAt == nil:
		return Errorf(CodeBadUserInput, "a license-based subscription needs termEndsAt")
	case in.BillingModel == UsageBased && in.TermEndsAt != nil:
		return Errorf(CodeBadUserInput, "a usage-based subscription has no termEndsAt")
	case in.Channel == ChannelCSPPartner && in.SellerPartnerID == nil:
		return Errorf(CodeBadUserInput, "a subscription bought from a CSP partner needs sellerPartnerId")
	case in.Channel != ChannelCSPPartner && in.SellerPartnerID != nil:
		return Errorf(CodeBadUserInput, "sellerPartnerId is only for a subscription bought from a CSP partner")
	}
	if err := CheckLength("offer", in.Offer, MaxNameLength); err != nil {
		return err
	}
	if len(in.Services) > MaxServices {
		return Errorf(CodeBadUserInput, "a subscription has at most %d services, not %d", MaxServices, len(in.Services))
	}
	for i, sv := range in.Services {
		if strings.TrimSpace(sv.Name) == "" {
			return Errorf(CodeBadUserInput, "a service name must not be empty")
		}
		if err := CheckLength(fmt.Sprintf("services[%d].name", i), sv.Name, MaxNameLength); err != nil {
			return err
		}
	}
	return nil
}

// Record decides recordExternalSubscription of subscription id (the
// receiver is folded from its stream, normally empty). customer is the
// subscription's customer; seller is the partner folded from
// partner-<sellerPartnerId> (nil when none was given).
func (s *Subscription) Record(id uuid.UUID, in ExternalPurchase, customer *Customer, seller *Partner) ([]Event, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	if !customer.Exists() || customer.ID != in.CustomerID {
		return nil, Errorf(CodeNotFound, "customer not found")
	}
	if in.SellerPartnerID != nil {
		if !seller.Exists() || seller.ID != *in.SellerPartnerID {
			return nil, Errorf(CodeNotFound, "seller partner %s not found", *in.SellerPartnerID)
		}
		if seller.Cloud != customer.Cloud {
			return nil, Errorf(CodeCloudMismatch, "the seller is in the %s cloud, the customer in %s", seller.Cloud, customer.Cloud)
		}
	}
	if s.Exists() {
		return nil, Errorf(CodeConflict, "subscription %s already exists", id)
	}
	var term *time.Time
	if in.TermEndsAt != nil {
		t := AtAPIPrecision(*in.TermEndsAt)
		term = &t
	}
	services := make([]Service, len(in.Services))
	for i, sv := range in.Services {
		services[i] = Service{ID: sv.ID, Name: strings.TrimSpace(sv.Name)}
	}
	return []Event{ExternalSubscriptionRecorded{
		SubscriptionID:  id,
		CustomerID:      customer.ID,
		Offer:           strings.TrimSpace(in.Offer),
		BillingModel:    in.BillingModel,
		Channel:         in.Channel,
		SellerPartnerID: in.SellerPartnerID,
		TermEndsAt:      term,
		Quantity:        in.Quantity,
		Services:        services,
	}}, nil
}

// Cancel decides cancelSubscription.
func (s *Subscription) Cancel() ([]Event, error) {
	if !s.Exists() {
		return nil, Errorf(CodeNotFound, "subscription not found")
	}
	if s.Cancelled() {
		return nil, Errorf(CodeInvalidState, "the subscription is already cancelled")
	}
	return []Event{SubscriptionCancelled{SubscriptionID: s.ID, CustomerID: s.CustomerID}}, nil
}

// Standing is what a partner's action on a customer's subscription depends
// on, folded from streams other than the subscription's.
type Standing struct {
	// Partner is the calling partner.
	Partner *Partner
	// Customer is the subscription's customer.
	Customer *Customer
	// CustomerIsPartner: partner-<customer id> exists.
	CustomerIsPartner bool
	// Relationships are the pair's relationships, every attempt (see
	// Ties.Accepted: an ACCEPTED one need not be the latest).
	Relationships []*Relationship
	// Replacement is folded from subscription-<ReplacementID(subscription,
	// partner)>: the caller's replacement, empty or nil when there is none.
	Replacement *Subscription
}

// Ties are what ties the partner to the customer, as far as its streams
// tell (Sells is not among them).
func (st Standing) Ties() Ties {
	if !st.Partner.Exists() {
		return Ties{}
	}
	return TiesOf(st.Partner.ID, st.Customer, st.Relationships...)
}

// accepted: the pair holds an ACCEPTED relationship (which never expires),
// counted as visibility counts it.
func (st Standing) accepted() bool { return st.Ties().Accepted }

// whatApplies says, in Partner Center's words, what a partner does instead
// for a subscription of each row, when it asked for an action of another.
var whatApplies = map[SupportCase]string{
	CaseLicenseFromOtherChannel: "this license-based subscription was bought directly from Microsoft, through Advisor, Open, an Enterprise Agreement or a third party: once the customer accepts your reseller relationship you manage and support it as it is; there is nothing to switch, create or cancel",
	CaseLicenseFromCSPPartner:   "this license-based subscription was bought from another CSP partner: it can be switched to you (switchSubscription) once its term has ended; a new Azure subscription is only for usage-based subscriptions bought outside the CSP program",
	CaseUsageFromOtherChannel:   "this Azure subscription was bought directly from Microsoft, through Advisor, Open, an Enterprise Agreement or a third party: it is not switched; create a new Azure subscription in Partner Center with its details (createAzureSubscription), then cancel its services or the whole legacy subscription (cancelLegacyService)",
	CaseUsageFromPartner:        "this Azure subscription was bought from another partner: its services are switched to you (switchSubscription); it needs no new Azure subscription",
}

// rowChecks are the refusals every partner action on a subscription shares,
// in the table's order: the customer is a CSP partner, the row is not the
// action's, the clouds differ, no accepted relationship.
func (s *Subscription) rowChecks(st Standing, eligible ...SupportCase) error {
	if !s.Exists() {
		return Errorf(CodeNotFound, "subscription not found")
	}
	if !st.Partner.Exists() {
		return Errorf(CodeForbidden, "only an enrolled partner may take this action")
	}
	if !st.Customer.Exists() || st.Customer.ID != s.CustomerID {
		return fmt.Errorf("subscription %s: standing for customer %v: %w", s.ID, s.CustomerID, Errorf(CodeInternal, "inconsistent standing"))
	}
	row := s.Case(st.Customer.IsCSPPartner(st.CustomerIsPartner))
	switch {
	case row == CaseCustomerIsCSPPartner:
		return Errorf(CodePartnerToPartnerResale, "the customer is a CSP partner: a CSP partner can't resell online services to another CSP partner")
	case row == CaseSyndicationPartner:
		return Errorf(CodeNotEligible, "multi-channel support does not cover subscriptions bought from a Syndication partner")
	case !slices.Contains(eligible, row):
		return Errorf(CodeNotEligible, "%s", whatApplies[row])
	case st.Partner.Cloud != st.Customer.Cloud:
		// Unreachable through the API (a partner sees only customers of
		// its cloud), kept so that the rule holds on its own.
		return Errorf(CodeCloudMismatch, "the customer is in the %s cloud, the partner in %s", st.Customer.Cloud, st.Partner.Cloud)
	case !st.accepted():
		return Errorf(CodeRelationshipRequired, "an accepted reseller relationship with the customer is required")
	}
	return nil
}

// Switch decides switchSubscription at now for the partner of st.
func (s *Subscription) Switch(st Standing, now time.Time) ([]Event, error) {
	if err := s.rowChecks(st, CaseUsageFromPartner, CaseLicenseFromCSPPartner); err != nil {
		return nil, err
	}
	if s.Cancelled() {
		return nil, Errorf(CodeInvalidState, "the subscription is cancelled: there is nothing to switch")
	}
	if s.SoldBy(st.Partner.ID) {
		return nil, Errorf(CodeInvalidState, "the partner already sells this subscription")
	}
	if s.BillingModel == LicenseBased && s.TermEndsAt != nil && now.Before(*s.TermEndsAt) {
		return nil, Errorf(CodeTermNotEnded, "a license-based subscription from another CSP partner can't move before its term ends (%s)", s.TermEndsAt.UTC().Format(time.RFC3339))
	}
	var from *uuid.UUID
	if s.Seller != nil {
		f := *s.Seller
		from = &f
	}
	return []Event{SubscriptionSwitched{SubscriptionID: s.ID, CustomerID: s.CustomerID, FromPartnerID: from, ToPartnerID: st.Partner.ID}}, nil
}

// ValidateReplacement is step 2 of createAzureSubscription.
func ValidateReplacement(offer string, details LegacyDetails) error {
	if strings.TrimSpace(offer) == "" {
		return Errorf(CodeBadUserInput, "offer must not be empty")
	}
	if strings.TrimSpace(details.AzureSubscriptionID) == "" {
		return Errorf(CodeBadUserInput, "legacyDetails.azureSubscriptionId must not be empty")
	}
	for _, c := range []struct {
		field string
		s     *string
		max   int
	}{
		{"offer", &offer, MaxNameLength},
		{"legacyDetails.azureSubscriptionId", &details.AzureSubscriptionID, MaxNameLength},
		{"legacyDetails.agreementNumber", details.AgreementNumber, MaxNameLength},
		{"legacyDetails.notes", details.Notes, MaxMessageLength},
	} {
		if err := CheckOptionalLength(c.field, c.s, c.max); err != nil {
			return err
		}
	}
	return nil
}

// Replace decides createAzureSubscription: the partner of st makes a new
// Azure subscription, id ReplacementID(s.ID, partner), to replace the
// receiver (the legacy one). customerID is the customer the caller named.
func (s *Subscription) Replace(customerID uuid.UUID, offer string, details LegacyDetails, st Standing) ([]Event, error) {
	if err := ValidateReplacement(offer, details); err != nil {
		return nil, err
	}
	if s.Exists() && customerID != s.CustomerID {
		return nil, Errorf(CodeBadUserInput, "customerId is not the legacy subscription's customer")
	}
	if err := s.rowChecks(st, CaseUsageFromOtherChannel); err != nil {
		return nil, err
	}
	if s.Cancelled() {
		return nil, Errorf(CodeInvalidState, "the legacy subscription is cancelled")
	}
	if st.Replacement.Exists() {
		return nil, Errorf(CodeConflict, "the partner already made a replacement for this subscription")
	}
	return []Event{AzureSubscriptionCreated{
		SubscriptionID:       ReplacementID(s.ID, st.Partner.ID),
		CustomerID:           s.CustomerID,
		PartnerID:            st.Partner.ID,
		LegacySubscriptionID: s.ID,
		Offer:                strings.TrimSpace(offer),
		LegacyDetails:        details,
	}}, nil
}

// CancelLegacyService decides cancelLegacyService on the receiver (the
// legacy subscription): one service when serviceID is set, else the whole
// subscription with every service still active, in one event.
func (s *Subscription) CancelLegacyService(serviceID *uuid.UUID, st Standing) ([]Event, error) {
	if err := s.rowChecks(st, CaseUsageFromOtherChannel); err != nil {
		return nil, err
	}
	if !st.Replacement.Exists() {
		return nil, Errorf(CodeInvalidState, "create the replacement Azure subscription before cancelling legacy services")
	}
	if s.Cancelled() {
		return nil, Errorf(CodeInvalidState, "the legacy subscription is already cancelled")
	}
	e := LegacyServiceCancelled{SubscriptionID: s.ID, CustomerID: s.CustomerID, PartnerID: st.Partner.ID, ServiceIDs: []uuid.UUID{}}
	if serviceID == nil {
		for _, sv := range s.Services {
			if sv.Status == StatusActive {
				e.ServiceIDs = append(e.ServiceIDs, sv.ID)
			}
		}
		return []Event{e}, nil
	}
	i := slices.IndexFunc(s.Services, func(sv ServiceState) bool { return sv.ID == *serviceID })
	if i < 0 {
		return nil, Errorf(CodeNotFound, "service %s not found", *serviceID)
	}
	if s.Services[i].Status == StatusCancelled {
		return nil, Errorf(CodeInvalidState, "the service is already cancelled")
	}
	id := *serviceID
	e.ServiceID, e.ServiceIDs = &id, []uuid.UUID{id}
	return []Event{e}, nil
}
