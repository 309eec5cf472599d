package domain

import (
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Relationship is one reseller relationship request of a partner to a
// customer and what became of it (stream relationship-<id>, the id derived
// by RelationshipID from the pair and the attempt).
type Relationship struct {
	ID          uuid.UUID
	PartnerID   uuid.UUID
	CustomerID  uuid.UUID
	Attempt     int
	Message     *string
	Status      RelationshipStatus // as recorded; see EffectiveStatus
	RequestedAt time.Time
	ExpiresAt   time.Time
	// Version is the number of events folded (see Partner.Version).
	Version uint64
}

// Exists reports whether the request was made.
func (r *Relationship) Exists() bool { return r != nil && r.Version > 0 }

// EffectiveStatus is the status at now: a PENDING request reads EXPIRED
// from its expiresAt on, even before RelationshipExpired is recorded.
func (r *Relationship) EffectiveStatus(now time.Time) RelationshipStatus {
	return EffectiveRelationshipStatus(r.Status, r.ExpiresAt, now)
}

// EffectiveRelationshipStatus is EffectiveStatus for a read model that keeps
// the recorded status and expiry only.
func EffectiveRelationshipStatus(recorded RelationshipStatus, expiresAt, now time.Time) RelationshipStatus {
	if recorded == Pending && !now.Before(expiresAt) {
		return Expired
	}
	return recorded
}

// Holds reports whether the relationship blocks a new request of its pair
// at now: it is PENDING (not yet expired) or ACCEPTED.
func (r *Relationship) Holds(now time.Time) bool {
	if !r.Exists() {
		return false
	}
	s := r.EffectiveStatus(now)
	return s == Pending || s == Accepted
}

// Apply folds one event of the relationship's stream.
func (r *Relationship) Apply(e Event) error {
	switch e := e.(type) {
	case RelationshipRequested:
		r.ID, r.PartnerID, r.CustomerID, r.Attempt = e.RelationshipID, e.PartnerID, e.CustomerID, e.Attempt
		r.Message, r.RequestedAt, r.ExpiresAt = e.Message, e.RequestedAt, e.ExpiresAt
		r.Status = Pending
	case RelationshipAccepted:
		r.Status = Accepted
	case RelationshipDeclined:
		r.Status = Declined
	case RelationshipExpired:
		r.Status = Expired
	case RelationshipTerminated:
		r.Status = Terminated
	default:
		return fmt.Errorf("relationship: cannot apply %s: %w", e.EventType(), ErrUnknownEventType)
	}
	r.Version++
	return nil
}

// RequestRelationship decides requestResellerRelationship of partner to
// customer at now. pair is the pair's attempts in order (none when the pair
// has none); customerIsPartner is whether partner-<customer id> exists. The
// new request's attempt is the latest's + 1, so that its id is fresh and
// its stream is appended with NoStream: a concurrent twin loses that race.
// Every attempt counts for the CONFLICT, as for visibility (see
// Ties.Accepted): an ACCEPTED one need not be the latest.
func RequestRelationship(partner *Partner, customer *Customer, customerIsPartner bool, pair []*Relationship, message *string, now time.Time) ([]Event, error) {
	if !partner.Exists() {
		return nil, Errorf(CodeForbidden, "only an enrolled partner may request a relationship")
	}
	if !customer.Exists() {
		return nil, Errorf(CodeNotFound, "customer not found")
	}
	if partner.Cloud != customer.Cloud {
		return nil, Errorf(CodeCloudMismatch, "the customer is in the %s cloud, the partner in %s", customer.Cloud, partner.Cloud)
	}
	if customer.IsCSPPartner(customerIsPartner) {
		return nil, Errorf(CodePartnerToPartnerResale, "the customer is a CSP partner: a CSP partner can't resell online services to another CSP partner")
	}
	attempt := 0
	for _, r := range pair {
		if !r.Exists() {
			continue
		}
		if r.Holds(now) {
			return nil, Errorf(CodeConflict, "the partner already has a %s relationship with this customer", r.EffectiveStatus(now))
		}
		attempt = max(attempt, r.Attempt+1)
	}
	at := AtAPIPrecision(now)
	return []Event{RelationshipRequested{
		RelationshipID: RelationshipID(partner.ID, customer.ID, attempt),
		PartnerID:      partner.ID,
		CustomerID:     customer.ID,
		Attempt:        attempt,
		Message:        message,
		RequestedAt:    at,
		ExpiresAt:      at.Add(RelationshipTTL),
	}}, nil
}

// answerable: only a PENDING request before its expiresAt may be answered.
func (r *Relationship) answerable(now time.Time) error {
	if !r.Exists() {
		return Errorf(CodeNotFound, "relationship not found")
	}
	if s := r.EffectiveStatus(now); s != Pending {
		return Errorf(CodeInvalidState, "the request is %s, not PENDING", s)
	}
	return nil
}

// Accept decides the customer's acceptance at now.
func (r *Relationship) Accept(now time.Time) ([]Event, error) {
	if err := r.answerable(now); err != nil {
		return nil, err
	}
	return []Event{RelationshipAccepted{RelationshipID: r.ID, PartnerID: r.PartnerID, CustomerID: r.CustomerID}}, nil
}

// Decline decides the customer's refusal at now.
func (r *Relationship) Decline(now time.Time) ([]Event, error) {
	if err := r.answerable(now); err != nil {
		return nil, err
	}
	return []Event{RelationshipDeclined{RelationshipID: r.ID, PartnerID: r.PartnerID, CustomerID: r.CustomerID}}, nil
}

// Terminate ends an ACCEPTED relationship.
func (r *Relationship) Terminate() ([]Event, error) {
	if !r.Exists() {
		return nil, Errorf(CodeNotFound, "relationship not found")
	}
	if r.Status != Accepted {
		return nil, Errorf(CodeInvalidState, "only an ACCEPTED relationship can be terminated (it is %s)", r.Status)
	}
	return []Event{RelationshipTerminated{RelationshipID: r.ID, PartnerID: r.PartnerID, CustomerID: r.CustomerID}}, nil
}

// Expire records the expiry of a request still PENDING at or after its
// expiresAt; in any other case it changes nothing and returns no events.
func (r *Relationship) Expire(now time.Time) []Event {
	if !r.Exists() || r.Status != Pending || now.Before(r.ExpiresAt) {
		return nil
	}
	return []Event{RelationshipExpired{RelationshipID: r.ID, PartnerID: r.PartnerID, CustomerID: r.CustomerID, ExpiredAt: r.ExpiresAt}}
}
