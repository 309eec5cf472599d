package projections

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/eventstore"
)

// The view structs below are what reads return; the GraphQL output types are
// bound to them, so their field names are part of the API between packages.
// Every value a read returns is a copy: callers may keep and change it.

// Partner is an enrolled CSP partner's public profile.
type Partner struct {
	ID         uuid.UUID
	Name       string
	Cloud      domain.Cloud
	EnrolledAt time.Time
}

// Customer is a customer tenant's profile.
type Customer struct {
	ID     uuid.UUID
	Name   string
	Domain string
	Cloud  domain.Cloud
	// IsCSPPartner is true when the onboarding flag said so or the
	// customer's id is an enrolled partner's.
	IsCSPPartner bool
	OnboardedBy  uuid.UUID
	CreatedAt    time.Time
}

// Service is one service of a usage-based subscription.
type Service struct {
	ID     uuid.UUID
	Name   string
	Status domain.SubscriptionStatus
}

// Subscription is a customer's subscription, bought elsewhere or created by
// createAzureSubscription.
type Subscription struct {
	ID              uuid.UUID
	CustomerID      uuid.UUID
	Offer           string
	BillingModel    domain.BillingModel
	Channel         domain.Channel
	SellerPartnerID *uuid.UUID
	TermEndsAt      *time.Time
	Quantity        int
	Status          domain.SubscriptionStatus
	CreatedAt       time.Time
	CancelledAt     *time.Time
	Services        []Service
	LegacyDetails   *domain.LegacyDetails
	ReplacesID      *uuid.UUID
	ReplacedByIDs   []uuid.UUID
}

// Relationship is a reseller relationship request and its outcome. Status
// is the effective one at the model's clock: a PENDING request reads
// EXPIRED from ExpiresAt on, before the sweep records RelationshipExpired.
type Relationship struct {
	ID           uuid.UUID
	PartnerID    uuid.UUID
	CustomerID   uuid.UUID
	Status       domain.RelationshipStatus
	Message      *string
	RequestedAt  time.Time
	ExpiresAt    time.Time
	RespondedAt  *time.Time
	TerminatedAt *time.Time
}

// Event is a stored event as the API shows it, its data upcast to the
// type's current schema version.
type Event struct {
	ID            uuid.UUID
	Stream        string
	Revision      uint64
	Position      eventstore.Position
	Type          string
	SchemaVersion int
	RecordedAt    time.Time
	Actor         domain.Actor
	CorrelationID uuid.UUID
	CausationID   *uuid.UUID
	Data          json.RawMessage
}

// PageInfo is a connection page's Relay page info.
type PageInfo struct {
	HasNextPage     bool
	HasPreviousPage bool
	StartCursor     *string
	EndCursor       *string
}

// CustomerConnection is a page of customers.
type CustomerConnection struct {
	Edges      []CustomerEdge
	PageInfo   PageInfo
	TotalCount int
}

// CustomerEdge is one customer of a page and its cursor.
type CustomerEdge struct {
	Cursor string
	Node   Customer
}

// SubscriptionConnection is a page of subscriptions.
type SubscriptionConnection struct {
	Edges      []SubscriptionEdge
	PageInfo   PageInfo
	TotalCount int
}

// SubscriptionEdge is one subscription of a page and its cursor.
type SubscriptionEdge struct {
	Cursor string
	Node   Subscription
}

// RelationshipConnection is a page of relationships.
type RelationshipConnection struct {
	Edges      []RelationshipEdge
	PageInfo   PageInfo
	TotalCount int
}

// RelationshipEdge is one relationship of a page and its cursor.
type RelationshipEdge struct {
	Cursor string
	Node   Relationship
}

// EventConnection is a page of events, in log order.
type EventConnection struct {
	Edges      []EventEdge
	PageInfo   PageInfo
	TotalCount int
}

// EventEdge is one event of a page; its cursor is the event's position.
type EventEdge struct {
	Cursor string
	Node   Event
}

// SupportPlan is a calling partner's next steps for one customer.
type SupportPlan struct {
	Customer Customer
	Items    []SupportPlanItem
}

// SupportPlanItem is the plan for one subscription the caller may see.
type SupportPlanItem struct {
	Subscription Subscription
	Case         domain.SupportCase
	NextAction   domain.NextAction
	// RefusalCode is set when NextAction is NOT_ALLOWED or WAIT_FOR_TERM_END.
	RefusalCode *domain.Code
	Explanation string
}

// AsOf is a customer as it was at an instant: its profile, subscriptions and
// relationships folded from the events recorded up to At, limited to what
// the caller sees now, with relationship status evaluated at At.
type AsOf struct {
	At            time.Time
	Customer      Customer
	Subscriptions []Subscription
	Relationships []Relationship
}

// CustomerFilter narrows Customers; nil fields match everything.
type CustomerFilter struct {
	Cloud *domain.Cloud
	// NameContains matches case-insensitively.
	NameContains *string
}

// SubscriptionFilter narrows Subscriptions; nil fields match everything.
type SubscriptionFilter struct {
	CustomerID   *uuid.UUID
	BillingModel *domain.BillingModel
	Channel      *domain.Channel
	Status       *domain.SubscriptionStatus
}

// RelationshipFilter narrows Relationships; nil fields match everything.
// Status matches the effective status.
type RelationshipFilter struct {
	CustomerID *uuid.UUID
	PartnerID  *uuid.UUID
	Status     *domain.RelationshipStatus
}

// EventFilter narrows Events; nil or empty fields match everything. From
// is inclusive and To exclusive, on the event's recordedAt.
type EventFilter struct {
	Stream        *string
	Types         []string
	ActorUserID   *string
	CorrelationID *uuid.UUID
	From, To      *time.Time
}
