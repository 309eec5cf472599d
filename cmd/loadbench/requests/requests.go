// Package requests holds the GraphQL requests loadbench sends, so that
// the in-process server benchmark (BenchmarkServer) sends the same ones.
//
// The measured documents select little, so that they price the path
// through the server (authentication, command, durable append,
// read-your-writes wait, read model) rather than serialisation.
package requests

import (
	"time"

	"github.com/google/uuid"
)

// The documents of the setup and of the measured operations.
const (
	Enroll  = `mutation Enroll($in: EnrollPartnerInput!) { enrollPartner(input: $in) { id name } }`
	Onboard = `mutation Onboard($in: OnboardCustomerInput!) { onboardCustomer(input: $in) { id } }`
	Record  = `mutation Record($in: RecordExternalSubscriptionInput!) { recordExternalSubscription(input: $in) { id status } }`
	Partner = `query Partner($id: ID!) { partner(id: $id) { id name } }`
	Viewer  = `query Viewer { viewer { role } }`
	Ping    = `{ ping }`
)

// OnboardInput is Onboard's input for a customer with id id.
func OnboardInput(id uuid.UUID) map[string]any {
	return map[string]any{
		"id":     id.String(),
		"name":   "Load Test Customer",
		"domain": "c" + id.String()[:8] + id.String()[24:] + ".example.com",
		"cloud":  "PUBLIC",
	}
}

// RecordInput is Record's input: a license-based subscription bought from
// Microsoft directly, the decision table's first row.
func RecordInput(customer uuid.UUID) map[string]any {
	return map[string]any{
		"customerId":   customer.String(),
		"offer":        "Microsoft 365 E3",
		"billingModel": "LICENSE_BASED",
		"channel":      "MICROSOFT_DIRECT",
		"quantity":     25,
		"termEndsAt":   time.Now().UTC().AddDate(1, 0, 0).Truncate(time.Millisecond).Format(time.RFC3339Nano),
		"services":     []map[string]any{{"name": "Exchange Online"}, {"name": "SharePoint Online"}},
	}
}
