package domain

import "time"

// Cloud is the Partner Center instance a tenant lives in.
type Cloud string

const (
	CloudPublic       Cloud = "PUBLIC"
	CloudUSGovernment Cloud = "US_GOVERNMENT"
)

func (c Cloud) Valid() bool { return c == CloudPublic || c == CloudUSGovernment }

// BillingModel says how a subscription is paid for.
type BillingModel string

const (
	LicenseBased BillingModel = "LICENSE_BASED"
	UsageBased   BillingModel = "USAGE_BASED"
)

func (b BillingModel) Valid() bool { return b == LicenseBased || b == UsageBased }

// Channel is where the customer bought a subscription.
type Channel string

const (
	ChannelMicrosoftDirect     Channel = "MICROSOFT_DIRECT"
	ChannelAdvisor             Channel = "ADVISOR"
	ChannelOpen                Channel = "OPEN"
	ChannelEnterpriseAgreement Channel = "ENTERPRISE_AGREEMENT"
	ChannelThirdParty          Channel = "THIRD_PARTY"
	ChannelCSPPartner          Channel = "CSP_PARTNER"
	ChannelSyndicationPartner  Channel = "SYNDICATION_PARTNER"
)

func (c Channel) Valid() bool {
	switch c {
	case ChannelMicrosoftDirect, ChannelAdvisor, ChannelOpen, ChannelEnterpriseAgreement,
		ChannelThirdParty, ChannelCSPPartner, ChannelSyndicationPartner:
		return true
	}
	return false
}

// Role is a caller's role in its tenant.
type Role string

const (
	RoleGlobalAdmin  Role = "GLOBAL_ADMIN"
	RoleUserAdmin    Role = "USER_ADMIN"
	RoleSalesAgent   Role = "SALES_AGENT"
	RoleAdminAgent   Role = "ADMIN_AGENT"
	RoleBillingAdmin Role = "BILLING_ADMIN"
	RoleAuditor      Role = "AUDITOR"
	// RoleSystem marks the server's own events (the expiry sweep).
	RoleSystem Role = "SYSTEM"
)

func (r Role) Valid() bool {
	switch r {
	case RoleGlobalAdmin, RoleUserAdmin, RoleSalesAgent, RoleAdminAgent, RoleBillingAdmin, RoleAuditor, RoleSystem:
		return true
	}
	return false
}

// Acting reports whether the role may take the decision table's actions.
func (r Role) Acting() bool {
	return r == RoleGlobalAdmin || r == RoleUserAdmin || r == RoleSalesAgent
}

// RelationshipStatus is the state of a reseller relationship.
type RelationshipStatus string

const (
	Pending    RelationshipStatus = "PENDING"
	Accepted   RelationshipStatus = "ACCEPTED"
	Declined   RelationshipStatus = "DECLINED"
	Expired    RelationshipStatus = "EXPIRED"
	Terminated RelationshipStatus = "TERMINATED"
)

// SubscriptionStatus and ServiceStatus share their values.
type SubscriptionStatus string

const (
	StatusActive    SubscriptionStatus = "ACTIVE"
	StatusCancelled SubscriptionStatus = "CANCELLED"
)

// RelationshipTTL is how long a request waits for the customer's answer.
const RelationshipTTL = 90 * 24 * time.Hour

// AtAPIPrecision returns t at the API's precision: UTC, milliseconds.
// Rules never read the wall clock themselves; the command side passes them
// its clock's reading through this.
func AtAPIPrecision(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }
