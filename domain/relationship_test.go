package domain_test

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
)

func TestRequestRelationship(t *testing.T) {
	t.Parallel()
	now := t0.Add(1500 * time.Microsecond) // truncated to the millisecond
	at := domain.AtAPIPrecision(now)
	msg := ptr("Let us help")
	want := func(attempt int) []domain.Event {
		return []domain.Event{domain.RelationshipRequested{
			RelationshipID: domain.RelationshipID(pB, custC, attempt), PartnerID: pB, CustomerID: custC, Attempt: attempt,
			Message: msg, RequestedAt: at, ExpiresAt: at.Add(90 * 24 * time.Hour),
		}}
	}
	rel := func(events ...domain.Event) *domain.Relationship { return fold[domain.Relationship](t, events...) }
	terminated := domain.RelationshipTerminated{RelationshipID: domain.RelationshipID(pB, custC, 0), PartnerID: pB, CustomerID: custC}
	declined := domain.RelationshipDeclined{RelationshipID: domain.RelationshipID(pB, custC, 0), PartnerID: pB, CustomerID: custC}
	tests := []struct {
		name     string
		partner  *domain.Partner
		customer *domain.Customer
		enrolled bool
		latest   *domain.Relationship
		want     []domain.Event
		wantErr  error
	}{
		// Decision table: license-based from another channel -> request.
		{"first request", partner(t, pB, domain.CloudPublic), customer(t, custC, domain.CloudPublic, false), false, nil, want(0), nil},
		{"after a declined one", partner(t, pB, domain.CloudPublic), customer(t, custC, domain.CloudPublic, false), false, rel(requested(pB, custC, 0, t0), declined), want(1), nil},
		{"after a terminated one", partner(t, pB, domain.CloudPublic), customer(t, custC, domain.CloudPublic, false), false, rel(requested(pB, custC, 0, t0), accepted(pB, custC, 0), terminated), want(1), nil},
		{"after an expired one (not yet recorded)", partner(t, pB, domain.CloudPublic), customer(t, custC, domain.CloudPublic, false), false, rel(requested(pB, custC, 0, now.Add(-domain.RelationshipTTL))), want(1), nil},
		{"unknown customer", partner(t, pB, domain.CloudPublic), nil, false, nil, nil, domain.ErrNotFound},
		{"cloud mismatch", partner(t, pG, domain.CloudUSGovernment), customer(t, custC, domain.CloudPublic, false), false, nil, nil, domain.ErrCloudMismatch},
		{"customer is CSP by flag", partner(t, pB, domain.CloudPublic), customer(t, custC, domain.CloudPublic, true), false, nil, nil, domain.ErrPartnerToPartnerResale},
		{"customer is an enrolled partner", partner(t, pB, domain.CloudPublic), customer(t, custC, domain.CloudPublic, false), true, nil, nil, domain.ErrPartnerToPartnerResale},
		{"pending one", partner(t, pB, domain.CloudPublic), customer(t, custC, domain.CloudPublic, false), false, rel(requested(pB, custC, 0, t0)), nil, domain.ErrConflict},
		{"accepted one", partner(t, pB, domain.CloudPublic), customer(t, custC, domain.CloudPublic, false), false, rel(requested(pB, custC, 0, t0), accepted(pB, custC, 0)), nil, domain.ErrConflict},
		{"accepted attempt behind a later declined one", partner(t, pB, domain.CloudPublic), customer(t, custC, domain.CloudPublic, false), false, rel(requested(pB, custC, 0, t0), accepted(pB, custC, 0)), nil, domain.ErrConflict},
		{"pending one a millisecond before expiry", partner(t, pB, domain.CloudPublic), customer(t, custC, domain.CloudPublic, false), false, rel(requested(pB, custC, 0, now.Add(-domain.RelationshipTTL+time.Millisecond))), nil, domain.ErrConflict},
		// Check order.
		{"order: cloud before CSP", partner(t, pG, domain.CloudUSGovernment), customer(t, custC, domain.CloudPublic, true), true, nil, nil, domain.ErrCloudMismatch},
		{"order: CSP before conflict", partner(t, pB, domain.CloudPublic), customer(t, custC, domain.CloudPublic, true), false, rel(requested(pB, custC, 0, t0)), nil, domain.ErrPartnerToPartnerResale},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pair := []*domain.Relationship{}
			if tt.latest != nil {
				pair = append(pair, tt.latest)
			}
			if tt.name == "accepted attempt behind a later declined one" {
				// Attempt 0 accepted as attempt 1 was requested (see
				// domain.Ties), and attempt 1 then declined.
				pair = append(pair, rel(requested(pB, custC, 1, t0), domain.RelationshipDeclined{RelationshipID: domain.RelationshipID(pB, custC, 1), PartnerID: pB, CustomerID: custC}))
			}
			got, err := domain.RequestRelationship(tt.partner, tt.customer, tt.enrolled, pair, msg, now)
			if tt.wantErr == nil && tt.latest != nil {
				// The request continues the pair's numbering.
				tt.want = want(tt.latest.Attempt + 1)
			}
			then(t, got, err, tt.want, tt.wantErr)
		})
	}
}

func TestAnswerRelationship(t *testing.T) {
	t.Parallel()
	id := domain.RelationshipID(pB, custC, 0)
	pending := []domain.Event{requested(pB, custC, 0, t0)}
	expiresAt := t0.Add(domain.RelationshipTTL)
	acc := domain.RelationshipAccepted{RelationshipID: id, PartnerID: pB, CustomerID: custC}
	dec := domain.RelationshipDeclined{RelationshipID: id, PartnerID: pB, CustomerID: custC}
	expired := domain.RelationshipExpired{RelationshipID: id, PartnerID: pB, CustomerID: custC, ExpiredAt: expiresAt}
	tests := []struct {
		name       string
		given      []domain.Event
		now        time.Time
		wantAccept []domain.Event
		wantDec    []domain.Event
		wantErr    error
	}{
		{"pending", pending, t0.Add(time.Hour), []domain.Event{acc}, []domain.Event{dec}, nil},
		{"a millisecond before expiry", pending, expiresAt.Add(-time.Millisecond), []domain.Event{acc}, []domain.Event{dec}, nil},
		{"at expiresAt, expiry not yet recorded", pending, expiresAt, nil, nil, domain.ErrInvalidState},
		{"expiry recorded", append(pending, expired), expiresAt.Add(time.Hour), nil, nil, domain.ErrInvalidState},
		{"accepted", append(pending, acc), t0.Add(time.Hour), nil, nil, domain.ErrInvalidState},
		{"declined", append(pending, dec), t0.Add(time.Hour), nil, nil, domain.ErrInvalidState},
		{"unknown", nil, t0, nil, nil, domain.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := fold[domain.Relationship](t, tt.given...).Accept(tt.now)
			then(t, got, err, tt.wantAccept, tt.wantErr)
			got, err = fold[domain.Relationship](t, tt.given...).Decline(tt.now)
			then(t, got, err, tt.wantDec, tt.wantErr)
		})
	}
}

func TestTerminateRelationship(t *testing.T) {
	t.Parallel()
	id := domain.RelationshipID(pB, custC, 0)
	pending := requested(pB, custC, 0, t0)
	term := domain.RelationshipTerminated{RelationshipID: id, PartnerID: pB, CustomerID: custC}
	tests := []struct {
		name    string
		given   []domain.Event
		want    []domain.Event
		wantErr error
	}{
		{"accepted", []domain.Event{pending, accepted(pB, custC, 0)}, []domain.Event{term}, nil},
		{"pending", []domain.Event{pending}, nil, domain.ErrInvalidState},
		{"declined", []domain.Event{pending, domain.RelationshipDeclined{RelationshipID: id, PartnerID: pB, CustomerID: custC}}, nil, domain.ErrInvalidState},
		{"terminated", []domain.Event{pending, accepted(pB, custC, 0), term}, nil, domain.ErrInvalidState},
		{"unknown", nil, nil, domain.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := fold[domain.Relationship](t, tt.given...).Terminate()
			then(t, got, err, tt.want, tt.wantErr)
		})
	}
}

func TestExpireAndEffectiveStatus(t *testing.T) {
	t.Parallel()
	id := domain.RelationshipID(pB, custC, 0)
	expiresAt := t0.Add(domain.RelationshipTTL)
	expired := domain.RelationshipExpired{RelationshipID: id, PartnerID: pB, CustomerID: custC, ExpiredAt: expiresAt}
	tests := []struct {
		name   string
		given  []domain.Event
		now    time.Time
		status domain.RelationshipStatus
		want   []domain.Event
	}{
		{"pending before expiry", []domain.Event{requested(pB, custC, 0, t0)}, expiresAt.Add(-time.Millisecond), domain.Pending, nil},
		{"pending at expiresAt", []domain.Event{requested(pB, custC, 0, t0)}, expiresAt, domain.Expired, []domain.Event{expired}},
		{"pending long after", []domain.Event{requested(pB, custC, 0, t0)}, expiresAt.Add(48 * time.Hour), domain.Expired, []domain.Event{expired}},
		{"already expired: nothing to record", []domain.Event{requested(pB, custC, 0, t0), expired}, expiresAt.Add(time.Hour), domain.Expired, nil},
		{"accepted never expires", []domain.Event{requested(pB, custC, 0, t0), accepted(pB, custC, 0)}, expiresAt.Add(time.Hour), domain.Accepted, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := fold[domain.Relationship](t, tt.given...)
			if got := r.EffectiveStatus(tt.now); got != tt.status {
				t.Errorf("EffectiveStatus = %s, want %s", got, tt.status)
			}
			then(t, r.Expire(tt.now), nil, tt.want, nil)
		})
	}
	if got := new(domain.Relationship).Expire(t0); got != nil {
		t.Errorf("unknown relationship expired: %v", got)
	}
}

func TestRelationshipIDsAreDistinct(t *testing.T) {
	t.Parallel()
	seen := map[uuid.UUID]bool{}
	for _, p := range []uuid.UUID{pA, pB} {
		for _, c := range []uuid.UUID{custC, custCSP} {
			for attempt := 0; attempt < 3; attempt++ {
				id := domain.RelationshipID(p, c, attempt)
				if seen[id] {
					t.Fatalf("duplicate id %s", id)
				}
				seen[id] = true
			}
		}
	}
}
