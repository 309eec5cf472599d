package domain

import (
	"time"

	"github.com/google/uuid"
)

// Event type names as stored. They are permanent: never rename one; add a
// new schema version and an upcaster instead (see registry.go).
const (
	TypePartnerEnrolled              = "PartnerEnrolled"
	TypeCustomerOnboarded            = "CustomerOnboarded"
	TypeExternalSubscriptionRecorded = "ExternalSubscriptionRecorded"
	TypeRelationshipRequested        = "RelationshipRequested"
	TypeRelationshipAccepted         = "RelationshipAccepted"
	TypeRelationshipDeclined         = "RelationshipDeclined"
	TypeRelationshipExpired          = "RelationshipExpired"
	TypeRelationshipTerminated       = "RelationshipTerminated"
	TypeSubscriptionCancelled        = "SubscriptionCancelled"
	TypeSubscriptionSwitched         = "SubscriptionSwitched"
	TypeAzureSubscriptionCreated     = "AzureSubscriptionCreated"
	TypeLegacyServiceCancelled       = "LegacyServiceCancelled"
)

// Event is a domain fact. Its data is one of the structs below; the time it
// happened is the RecordedAt of its Metadata.
type Event interface {
	EventType() string
}

// PartnerEnrolled: a tenant joined the CSP program as a partner (stream partner-<id>).
type PartnerEnrolled struct {
	PartnerID uuid.UUID `json:"partnerId"`
	Name      string    `json:"name"`
	Cloud     Cloud     `json:"cloud"`
}

// CustomerOnboarded: a partner registered a customer tenant (stream customer-<id>).
type CustomerOnboarded struct {
	CustomerID   uuid.UUID `json:"customerId"`
	Name         string    `json:"name"`
	Domain       string    `json:"domain"`
	Cloud        Cloud     `json:"cloud"`
	IsCSPPartner bool      `json:"isCspPartner"`
	// OnboardedBy is the partner that onboarded the customer; it sees the
	// customer fully from then on.
	OnboardedBy uuid.UUID `json:"onboardedBy"`
}

// Service is one service of a usage-based subscription.
type Service struct {
	ID   uuid.UUID `json:"id"`
	Name string    `json:"name"`
}

// ExternalSubscriptionRecorded: a subscription the customer bought elsewhere
// (stream subscription-<id>).
type ExternalSubscriptionRecorded struct {
	SubscriptionID  uuid.UUID    `json:"subscriptionId"`
	CustomerID      uuid.UUID    `json:"customerId"`
	Offer           string       `json:"offer"`
	BillingModel    BillingModel `json:"billingModel"`
	Channel         Channel      `json:"channel"`
	SellerPartnerID *uuid.UUID   `json:"sellerPartnerId,omitempty"`
	TermEndsAt      *time.Time   `json:"termEndsAt,omitempty"`
	Quantity        int          `json:"quantity"`
	Services        []Service    `json:"services"`
}

// RelationshipRequested: a partner asked a customer for a reseller
// relationship (stream relationship-<id>).
type RelationshipRequested struct {
	RelationshipID uuid.UUID `json:"relationshipId"`
	PartnerID      uuid.UUID `json:"partnerId"`
	CustomerID     uuid.UUID `json:"customerId"`
	// Attempt numbers the requests of one partner and customer pair from 0;
	// the relationship id is derived from it (see RelationshipID).
	Attempt     int       `json:"attempt"`
	Message     *string   `json:"message,omitempty"`
	RequestedAt time.Time `json:"requestedAt"`
	ExpiresAt   time.Time `json:"expiresAt"`
}

// RelationshipAccepted, RelationshipDeclined, RelationshipExpired and
// RelationshipTerminated move a relationship on.
type RelationshipAccepted struct {
	RelationshipID uuid.UUID `json:"relationshipId"`
	PartnerID      uuid.UUID `json:"partnerId"`
	CustomerID     uuid.UUID `json:"customerId"`
}

type RelationshipDeclined struct {
	RelationshipID uuid.UUID `json:"relationshipId"`
	PartnerID      uuid.UUID `json:"partnerId"`
	CustomerID     uuid.UUID `json:"customerId"`
}

type RelationshipExpired struct {
	RelationshipID uuid.UUID `json:"relationshipId"`
	PartnerID      uuid.UUID `json:"partnerId"`
	CustomerID     uuid.UUID `json:"customerId"`
	// ExpiredAt is the request's expiresAt, which may be earlier than the
	// time the sweep recorded this event.
	ExpiredAt time.Time `json:"expiredAt"`
}

type RelationshipTerminated struct {
	RelationshipID uuid.UUID `json:"relationshipId"`
	PartnerID      uuid.UUID `json:"partnerId"`
	CustomerID     uuid.UUID `json:"customerId"`
}

// SubscriptionCancelled: the customer or its seller cancelled a subscription.
type SubscriptionCancelled struct {
	SubscriptionID uuid.UUID `json:"subscriptionId"`
	CustomerID     uuid.UUID `json:"customerId"`
}

// SubscriptionSwitched: the subscription is now sold by another partner. It
// keeps its id, history and channel.
type SubscriptionSwitched struct {
	SubscriptionID uuid.UUID  `json:"subscriptionId"`
	CustomerID     uuid.UUID  `json:"customerId"`
	FromPartnerID  *uuid.UUID `json:"fromPartnerId,omitempty"`
	ToPartnerID    uuid.UUID  `json:"toPartnerId"`
}

// LegacyDetails are the legacy Azure subscription's details, entered by hand.
type LegacyDetails struct {
	AzureSubscriptionID string  `json:"azureSubscriptionId"`
	AgreementNumber     *string `json:"agreementNumber,omitempty"`
	Notes               *string `json:"notes,omitempty"`
}

// AzureSubscriptionCreated: a partner made a new Azure (CSP) subscription to
// replace a legacy usage-based one (stream subscription-<new id>). The new
// id is derived from the legacy id and the partner (see ReplacementID), so a
// second replacement by the same partner is refused by the store.
type AzureSubscriptionCreated struct {
	SubscriptionID       uuid.UUID     `json:"subscriptionId"`
	CustomerID           uuid.UUID     `json:"customerId"`
	PartnerID            uuid.UUID     `json:"partnerId"`
	LegacySubscriptionID uuid.UUID     `json:"legacySubscriptionId"`
	Offer                string        `json:"offer"`
	LegacyDetails        LegacyDetails `json:"legacyDetails"`
}

// LegacyServiceCancelled: a partner cancelled one service of a legacy
// subscription (ServiceID set) or the entire subscription (ServiceID nil,
// which cancels it and every service still active, listed in ServiceIDs).
// It is written to the legacy subscription's stream.
type LegacyServiceCancelled struct {
	SubscriptionID uuid.UUID   `json:"subscriptionId"`
	CustomerID     uuid.UUID   `json:"customerId"`
	PartnerID      uuid.UUID   `json:"partnerId"`
	ServiceID      *uuid.UUID  `json:"serviceId,omitempty"`
	ServiceIDs     []uuid.UUID `json:"serviceIds"`
}

func (PartnerEnrolled) EventType() string              { return TypePartnerEnrolled }
func (CustomerOnboarded) EventType() string            { return TypeCustomerOnboarded }
func (ExternalSubscriptionRecorded) EventType() string { return TypeExternalSubscriptionRecorded }
func (RelationshipRequested) EventType() string        { return TypeRelationshipRequested }
func (RelationshipAccepted) EventType() string         { return TypeRelationshipAccepted }
func (RelationshipDeclined) EventType() string         { return TypeRelationshipDeclined }
func (RelationshipExpired) EventType() string          { return TypeRelationshipExpired }
func (RelationshipTerminated) EventType() string       { return TypeRelationshipTerminated }
func (SubscriptionCancelled) EventType() string        { return TypeSubscriptionCancelled }
func (SubscriptionSwitched) EventType() string         { return TypeSubscriptionSwitched }
func (AzureSubscriptionCreated) EventType() string     { return TypeAzureSubscriptionCreated }
func (LegacyServiceCancelled) EventType() string       { return TypeLegacyServiceCancelled }
