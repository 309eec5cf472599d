package domain

import (
	"fmt"
	"strings"

	"github.com/google/uuid"
)

// Partner is a CSP partner enrolled in the program (stream partner-<id>,
// the id being its tenant's).
type Partner struct {
	ID    uuid.UUID
	Name  string
	Cloud Cloud
	// Version is the number of events folded: 0 when the stream does not
	// exist, else the stream's last revision + 1.
	Version uint64
}

// Exists reports whether the partner is enrolled.
func (p *Partner) Exists() bool { return p != nil && p.Version > 0 }

// Apply folds one event of the partner's stream.
func (p *Partner) Apply(e Event) error {
	switch e := e.(type) {
	case PartnerEnrolled:
		p.ID, p.Name, p.Cloud = e.PartnerID, e.Name, e.Cloud
	default:
		return fmt.Errorf("partner: cannot apply %s: %w", e.EventType(), ErrUnknownEventType)
	}
	p.Version++
	return nil
}

// ValidateEnrollPartner is step 2 of enrollPartner.
func ValidateEnrollPartner(name string, cloud Cloud) error {
	if strings.TrimSpace(name) == "" {
		return Errorf(CodeBadUserInput, "name must not be empty")
	}
	if err := CheckLength("name", name, MaxNameLength); err != nil {
		return err
	}
	if !cloud.Valid() {
		return Errorf(CodeBadUserInput, "unknown cloud %q", cloud)
	}
	return nil
}

// Enroll registers tenant id as a partner. The receiver is the (possibly
// empty) partner folded from partner-<id>.
func (p *Partner) Enroll(id uuid.UUID, name string, cloud Cloud) ([]Event, error) {
	if err := ValidateEnrollPartner(name, cloud); err != nil {
		return nil, err
	}
	if p.Exists() {
		return nil, Errorf(CodeConflict, "the tenant is already enrolled as a partner")
	}
	return []Event{PartnerEnrolled{PartnerID: id, Name: strings.TrimSpace(name), Cloud: cloud}}, nil
}
