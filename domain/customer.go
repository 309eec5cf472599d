package domain

import (
	"fmt"
	"strings"

	"github.com/google/uuid"
)

// Customer is a customer tenant a partner onboarded (stream customer-<id>).
type Customer struct {
	ID     uuid.UUID
	Name   string
	Domain string
	Cloud  Cloud
	// CSPPartnerFlag is the isCspPartner given at onboarding. Whether the
	// customer is a CSP partner also depends on its id being an enrolled
	// partner's: see IsCSPPartner.
	CSPPartnerFlag bool
	OnboardedBy    uuid.UUID
	// Version is the number of events folded (see Partner.Version).
	Version uint64
}

// Exists reports whether the customer is onboarded.
func (c *Customer) Exists() bool { return c != nil && c.Version > 0 }

// IsCSPPartner reports whether the customer is a CSP partner: its flag says
// so, or enrolledAsPartner (partner-<its id> exists) does, whatever the flag.
func (c *Customer) IsCSPPartner(enrolledAsPartner bool) bool {
	return c.CSPPartnerFlag || enrolledAsPartner
}

// Apply folds one event of the customer's stream.
func (c *Customer) Apply(e Event) error {
	switch e := e.(type) {
	case CustomerOnboarded:
		c.ID, c.Name, c.Domain, c.Cloud = e.CustomerID, e.Name, e.Domain, e.Cloud
		c.CSPPartnerFlag, c.OnboardedBy = e.IsCSPPartner, e.OnboardedBy
	default:
		return fmt.Errorf("customer: cannot apply %s: %w", e.EventType(), ErrUnknownEventType)
	}
	c.Version++
	return nil
}

// ValidateOnboardCustomer is step 2 of onboardCustomer.
func ValidateOnboardCustomer(name, domain string, cloud Cloud) error {
	if strings.TrimSpace(name) == "" {
		return Errorf(CodeBadUserInput, "name must not be empty")
	}
	if err := CheckLength("name", name, MaxNameLength); err != nil {
		return err
	}
	if err := CheckLength("domain", domain, MaxDomainLength); err != nil {
		return err
	}
	if !IsHostName(domain) {
		return Errorf(CodeBadUserInput, "domain %q is not a host name", domain)
	}
	if !cloud.Valid() {
		return Errorf(CodeBadUserInput, "unknown cloud %q", cloud)
	}
	return nil
}

// IsHostName reports whether s is a fully qualified DNS host name: at least
// two dot-separated labels of letters, digits and inner hyphens, each 1 to
// 63 bytes, 253 bytes in all, and a top-level label that is not numeric
// (so that an IP address is not taken for a domain).
func IsHostName(s string) bool {
	if len(s) == 0 || len(s) > 253 {
		return false
	}
	labels := strings.Split(s, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if len(l) == 0 || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			ch := l[i]
			if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '-') {
				return false
			}
		}
	}
	tld := labels[len(labels)-1]
	return strings.Trim(tld, "0123456789") != ""
}

// Onboard registers customer id for partner by. The receiver is the
// (possibly empty) customer folded from customer-<id>; by is the calling
// partner.
func (c *Customer) Onboard(by *Partner, id uuid.UUID, name, domain string, cloud Cloud, cspPartner bool) ([]Event, error) {
	if err := ValidateOnboardCustomer(name, domain, cloud); err != nil {
		return nil, err
	}
	if !by.Exists() {
		return nil, Errorf(CodeForbidden, "only an enrolled partner may onboard a customer")
	}
	if cloud != by.Cloud {
		return nil, Errorf(CodeCloudMismatch, "the customer's cloud %s is not the partner's (%s)", cloud, by.Cloud)
	}
	if c.Exists() {
		return nil, Errorf(CodeConflict, "customer %s already exists", id)
	}
	return []Event{CustomerOnboarded{
		CustomerID:   id,
		Name:         strings.TrimSpace(name),
		Domain:       domain,
		Cloud:        cloud,
		IsCSPPartner: cspPartner,
		OnboardedBy:  by.ID,
	}}, nil
}
