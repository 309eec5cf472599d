package command

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
)

// EnrollPartner is the input of enrollPartner.
type EnrollPartner struct {
	Name  string
	Cloud domain.Cloud
}

// OnboardCustomer is the input of onboardCustomer; ID nil makes a new id.
type OnboardCustomer struct {
	ID           *string
	Name, Domain string
	Cloud        domain.Cloud
	IsCSPPartner bool
}

// RecordExternalSubscription is the input of recordExternalSubscription.
type RecordExternalSubscription struct {
	CustomerID, Offer string
	BillingModel      domain.BillingModel
	Channel           domain.Channel
	SellerPartnerID   *string
	TermEndsAt        *time.Time
	Quantity          int
	Services          []string
}

// RequestResellerRelationship is the input of requestResellerRelationship.
type RequestResellerRelationship struct {
	CustomerID string
	Message    *string
}

// CreateAzureSubscription is the input of createAzureSubscription.
type CreateAzureSubscription struct {
	CustomerID, LegacySubscriptionID, Offer string
	LegacyDetails                           domain.LegacyDetails
}

// CancelLegacyService is the input of cancelLegacyService; ServiceID nil
// cancels the whole legacy subscription.
type CancelLegacyService struct {
	LegacySubscriptionID string
	ServiceID            *string
}

// EnrollPartner registers the caller's tenant as a partner and returns its id.
func (h *Handlers) EnrollPartner(ctx context.Context, r Request, in EnrollPartner) (uuid.UUID, error) {
	if err := domain.ValidateEnrollPartner(in.Name, in.Cloud); err != nil {
		return uuid.Nil, err
	}
	id := r.Caller.TenantID
	return h.run(ctx, r, useCase{
		// The caller's tenant is what is being enrolled: its role is all
		// there is to check, and its partner stream is the decision's.
		actorOnly: true,
		authorize: domain.AuthorizeEnrollPartner,
		target:    fixedTarget(domain.PartnerStream(id)),
		decide: func(ctx context.Context, _ caller, now time.Time) (decision, error) {
			p := new(domain.Partner)
			l, err := h.load(ctx, domain.PartnerStream(id), p)
			if err != nil {
				return decision{}, err
			}
			events, err := p.Enroll(id, in.Name, in.Cloud)
			return decision{stream: l, events: events, result: id}, err
		},
	})
}

// OnboardCustomer registers a customer tenant for the calling partner and
// returns the customer's id.
func (h *Handlers) OnboardCustomer(ctx context.Context, r Request, in OnboardCustomer) (uuid.UUID, error) {
	var given *uuid.UUID
	if in.ID != nil {
		id, err := domain.ParseID("id", *in.ID)
		if err != nil {
			return uuid.Nil, err
		}
		given = &id
	}
	if err := domain.ValidateOnboardCustomer(in.Name, in.Domain, in.Cloud); err != nil {
		return uuid.Nil, err
	}
	// The customer's id: the one given, or the one chosen for the request.
	idOf := func(c caller) uuid.UUID {
		if given != nil {
			return *given
		}
		return c.id
	}
	return h.run(ctx, r, useCase{
		authorize: domain.AuthorizePartnerAction,
		target: func(_ context.Context, c caller) (string, error) {
			return domain.CustomerStream(idOf(c)), nil
		},
		decide: func(ctx context.Context, c caller, now time.Time) (decision, error) {
			p, id := c.partner, idOf(c)
			cust := new(domain.Customer)
			l, err := h.load(ctx, domain.CustomerStream(id), cust)
			if err != nil {
				return decision{}, err
			}
			events, err := cust.Onboard(p, id, in.Name, in.Domain, in.Cloud, in.IsCSPPartner)
			return decision{stream: l, events: events, result: id}, err
		},
	})
}

// RecordExternalSubscription records a subscription the customer bought
// elsewhere and returns its id.
func (h *Handlers) RecordExternalSubscription(ctx context.Context, r Request, in RecordExternalSubscription) (uuid.UUID, error) {
	customerID, err := domain.ParseID("customerId", in.CustomerID)
	if err != nil {
		return uuid.Nil, err
	}
	seller, err := domain.ParseOptionalID("sellerPartnerId", in.SellerPartnerID)
	if err != nil {
		return uuid.Nil, err
	}
	purchase := domain.ExternalPurchase{
		CustomerID: customerID, Offer: in.Offer, BillingModel: in.BillingModel, Channel: in.Channel,
		SellerPartnerID: seller, TermEndsAt: in.TermEndsAt, Quantity: in.Quantity,
		Services: make([]domain.Service, len(in.Services)),
	}
	for i, name := range in.Services {
		if purchase.Services[i].ID, err = newID(); err != nil {
			return uuid.Nil, err
		}
		purchase.Services[i].Name = name
	}
	if err := purchase.Validate(); err != nil {
		return uuid.Nil, err
	}
	return h.run(ctx, r, useCase{
		authorize: domain.AuthorizeRecordSubscription,
		target: func(_ context.Context, c caller) (string, error) {
			return domain.SubscriptionStream(c.id), nil
		},
		decide: func(ctx context.Context, c caller, now time.Time) (decision, error) {
			// The id chosen for the request: a repeat that repairs an
			// abandoned one appends to the same stream, with NoStream.
			id := c.id
			cust := new(domain.Customer)
			if _, err := h.load(ctx, domain.CustomerStream(customerID), cust); err != nil {
				return decision{}, err
			}
			view := domain.ViewNone
			if c.IsPartner && cust.Exists() {
				rels, err := h.pairRelationships(ctx, c.TenantID, customerID)
				if err != nil {
					return decision{}, err
				}
				ties := domain.TiesOf(c.TenantID, cust, rels...)
				if ties.View() == domain.ViewNone && h.sales != nil {
					ties.Sells = h.sales.SellsAnyTo(c.TenantID, customerID)
				}
				view = ties.View()
			}
			if err := domain.CheckRecordAccess(c.Caller, cust, view); err != nil {
				return decision{}, err
			}
			var sp *domain.Partner
			if seller != nil {
				sp = new(domain.Partner)
				if _, err := h.load(ctx, domain.PartnerStream(*seller), sp); err != nil {
					return decision{}, err
				}
			}
			events, err := new(domain.Subscription).Record(id, purchase, cust, sp)
			return decision{stream: newStream(domain.SubscriptionStream(id)), events: events, result: id}, err
		},
	})
}

// RequestResellerRelationship asks a customer for a reseller relationship
// on behalf of the calling partner and returns the relationship's id.
func (h *Handlers) RequestResellerRelationship(ctx context.Context, r Request, in RequestResellerRelationship) (uuid.UUID, error) {
	customerID, err := domain.ParseID("customerId", in.CustomerID)
	if err != nil {
		return uuid.Nil, err
	}
	if err := domain.ValidateRelationshipMessage(in.Message); err != nil {
		return uuid.Nil, err
	}
	return h.run(ctx, r, useCase{
		authorize: domain.AuthorizePartnerAction,
		target: func(ctx context.Context, c caller) (string, error) {
			return h.latestAttemptStream(ctx, c.TenantID, customerID)
		},
		decide: func(ctx context.Context, c caller, now time.Time) (decision, error) {
			p := c.partner
			// Step 4 does not apply: any existing customer may be asked.
			cust := new(domain.Customer)
			if _, err := h.load(ctx, domain.CustomerStream(customerID), cust); err != nil {
				return decision{}, err
			}
			enrolled, err := h.exists(ctx, domain.PartnerStream(customerID))
			if err != nil {
				return decision{}, err
			}
			pair, err := h.pairRelationships(ctx, p.ID, customerID)
			if err != nil {
				return decision{}, err
			}
			events, err := domain.RequestRelationship(p, cust, enrolled, pair, in.Message, now)
			if err != nil {
				return decision{}, err
			}
			// The new attempt's stream must not exist: appending it with
			// NoStream lets one of two concurrent requests win.
			id := events[0].(domain.RelationshipRequested).RelationshipID
			return decision{stream: newStream(domain.RelationshipStream(id)), events: events, result: id}, nil
		},
	})
}

// AcceptResellerRelationship is the customer's Global admin accepting a
// pending request.
func (h *Handlers) AcceptResellerRelationship(ctx context.Context, r Request, relationshipID string) (uuid.UUID, error) {
	return h.answer(ctx, r, relationshipID, (*domain.Relationship).Accept)
}

// DeclineResellerRelationship is the customer's Global admin declining a
// pending request.
func (h *Handlers) DeclineResellerRelationship(ctx context.Context, r Request, relationshipID string) (uuid.UUID, error) {
	return h.answer(ctx, r, relationshipID, (*domain.Relationship).Decline)
}

func (h *Handlers) answer(ctx context.Context, r Request, relationshipID string, decide func(*domain.Relationship, time.Time) ([]domain.Event, error)) (uuid.UUID, error) {
	id, err := domain.ParseID("relationshipId", relationshipID)
	if err != nil {
		return uuid.Nil, err
	}
	return h.run(ctx, r, useCase{
		authorize: domain.AuthorizeAnswerRelationship,
		target:    fixedTarget(domain.RelationshipStream(id)),
		decide: func(ctx context.Context, c caller, now time.Time) (decision, error) {
			rel := new(domain.Relationship)
			l, err := h.load(ctx, domain.RelationshipStream(id), rel)
			if err != nil {
				return decision{}, err
			}
			if err := domain.CheckAnswerAccess(c.Caller, rel); err != nil {
				return decision{}, err
			}
			events, err := decide(rel, now)
			return decision{stream: l, events: events, result: id}, err
		},
	})
}

// TerminateResellerRelationship ends an accepted relationship, by the
// customer's Global admin or the partner.
func (h *Handlers) TerminateResellerRelationship(ctx context.Context, r Request, relationshipID string) (uuid.UUID, error) {
	id, err := domain.ParseID("relationshipId", relationshipID)
	if err != nil {
		return uuid.Nil, err
	}
	return h.run(ctx, r, useCase{
		authorize: domain.AuthorizeTerminateRelationship,
		target:    fixedTarget(domain.RelationshipStream(id)),
		decide: func(ctx context.Context, c caller, now time.Time) (decision, error) {
			rel := new(domain.Relationship)
			l, err := h.load(ctx, domain.RelationshipStream(id), rel)
			if err != nil {
				return decision{}, err
			}
			if err := domain.CheckTerminateAccess(c.Caller, rel); err != nil {
				return decision{}, err
			}
			events, err := rel.Terminate()
			return decision{stream: l, events: events, result: id}, err
		},
	})
}

// CancelSubscription cancels a subscription, by the customer's admins or
// the partner that sells it.
func (h *Handlers) CancelSubscription(ctx context.Context, r Request, subscriptionID string) (uuid.UUID, error) {
	id, err := domain.ParseID("subscriptionId", subscriptionID)
	if err != nil {
		return uuid.Nil, err
	}
	return h.run(ctx, r, useCase{
		authorize: domain.AuthorizeCancelSubscription,
		target:    fixedTarget(domain.SubscriptionStream(id)),
		decide: func(ctx context.Context, c caller, now time.Time) (decision, error) {
			sub := new(domain.Subscription)
			l, err := h.load(ctx, domain.SubscriptionStream(id), sub)
			if err != nil {
				return decision{}, err
			}
			view := domain.ViewNone
			if c.IsPartner && sub.Exists() && !sub.SoldBy(c.TenantID) {
				// Only to tell FORBIDDEN (sees it) from NOT_FOUND.
				if view, err = h.viewOf(ctx, c.TenantID, sub.CustomerID); err != nil {
					return decision{}, err
				}
			}
			if err := domain.CheckCancelAccess(c.Caller, sub, view); err != nil {
				return decision{}, err
			}
			events, err := sub.Cancel()
			return decision{stream: l, events: events, result: id}, err
		},
	})
}

// viewOf folds what partner sees of customer.
func (h *Handlers) viewOf(ctx context.Context, partner, customer uuid.UUID) (domain.CustomerView, error) {
	cust := new(domain.Customer)
	if _, err := h.load(ctx, domain.CustomerStream(customer), cust); err != nil {
		return domain.ViewNone, err
	}
	if !cust.Exists() || cust.OnboardedBy == partner {
		// Its relationships cannot change the answer.
		return domain.TiesOf(partner, cust).View(), nil
	}
	rels, err := h.pairRelationships(ctx, partner, customer)
	if err != nil {
		return domain.ViewNone, err
	}
	return domain.TiesOf(partner, cust, rels...).View(), nil
}

// SwitchSubscription moves a subscription sold by another partner to the
// calling partner; it keeps its id, history and channel.
func (h *Handlers) SwitchSubscription(ctx context.Context, r Request, subscriptionID string) (uuid.UUID, error) {
	id, err := domain.ParseID("subscriptionId", subscriptionID)
	if err != nil {
		return uuid.Nil, err
	}
	return h.run(ctx, r, useCase{
		authorize: domain.AuthorizePartnerAction,
		target:    fixedTarget(domain.SubscriptionStream(id)),
		decide: func(ctx context.Context, c caller, now time.Time) (decision, error) {
			sub, l, st, err := h.partnerOnSubscription(ctx, c, id)
			if err != nil {
				return decision{}, err
			}
			events, err := sub.Switch(st, now)
			return decision{stream: l, events: events, result: id}, err
		},
	})
}

// partnerOnSubscription is step 4 of a partner's action on a subscription
// (the pipeline checked step 3, an acting role): the caller sees it.
func (h *Handlers) partnerOnSubscription(ctx context.Context, c caller, id uuid.UUID) (*domain.Subscription, loaded, domain.Standing, error) {
	sub := new(domain.Subscription)
	l, err := h.load(ctx, domain.SubscriptionStream(id), sub)
	if err != nil {
		return nil, loaded{}, domain.Standing{}, err
	}
	st, view, err := h.standing(ctx, c.partner, sub)
	if err != nil {
		return nil, loaded{}, domain.Standing{}, err
	}
	if err := domain.CheckSubscriptionVisible(c.Caller, sub, view); err != nil {
		return nil, loaded{}, domain.Standing{}, err
	}
	return sub, l, st, nil
}

// CreateAzureSubscription makes the calling partner's Azure subscription
// that replaces a legacy usage-based one, and returns the new id.
func (h *Handlers) CreateAzureSubscription(ctx context.Context, r Request, in CreateAzureSubscription) (uuid.UUID, error) {
	customerID, err := domain.ParseID("customerId", in.CustomerID)
	if err != nil {
		return uuid.Nil, err
	}
	legacyID, err := domain.ParseID("legacySubscriptionId", in.LegacySubscriptionID)
	if err != nil {
		return uuid.Nil, err
	}
	if err := domain.ValidateReplacement(in.Offer, in.LegacyDetails); err != nil {
		return uuid.Nil, err
	}
	return h.run(ctx, r, useCase{
		authorize: domain.AuthorizePartnerAction,
		target: func(_ context.Context, c caller) (string, error) {
			return domain.SubscriptionStream(domain.ReplacementID(legacyID, c.TenantID)), nil
		},
		decide: func(ctx context.Context, c caller, now time.Time) (decision, error) {
			legacy, _, st, err := h.partnerOnSubscription(ctx, c, legacyID)
			if err != nil {
				return decision{}, err
			}
			events, err := legacy.Replace(customerID, in.Offer, in.LegacyDetails, st)
			if err != nil {
				return decision{}, err
			}
			// One replacement per (legacy, partner): its derived stream is
			// created with NoStream, so a concurrent twin gets CONFLICT.
			id := domain.ReplacementID(legacyID, st.Partner.ID)
			return decision{stream: newStream(domain.SubscriptionStream(id)), events: events, result: id}, nil
		},
	})
}

// CancelLegacyService cancels one service of a legacy subscription the
// caller replaced, or the whole subscription, and returns the legacy id.
func (h *Handlers) CancelLegacyService(ctx context.Context, r Request, in CancelLegacyService) (uuid.UUID, error) {
	legacyID, err := domain.ParseID("legacySubscriptionId", in.LegacySubscriptionID)
	if err != nil {
		return uuid.Nil, err
	}
	serviceID, err := domain.ParseOptionalID("serviceId", in.ServiceID)
	if err != nil {
		return uuid.Nil, err
	}
	return h.run(ctx, r, useCase{
		authorize: domain.AuthorizePartnerAction,
		target:    fixedTarget(domain.SubscriptionStream(legacyID)),
		decide: func(ctx context.Context, c caller, now time.Time) (decision, error) {
			legacy, l, st, err := h.partnerOnSubscription(ctx, c, legacyID)
			if err != nil {
				return decision{}, err
			}
			events, err := legacy.CancelLegacyService(serviceID, st)
			return decision{stream: l, events: events, result: legacyID}, err
		},
	})
}

// ExpireRelationship records RelationshipExpired with domain.SystemActor for
// a PENDING request past expiresAt (the sweep calls it); no-op (nil)
// otherwise, unknown ids included.
func (h *Handlers) ExpireRelationship(ctx context.Context, relationshipID uuid.UUID) error {
	correlation, err := newID()
	if err != nil {
		return err
	}
	r := Request{Caller: domain.SystemActor, CorrelationID: correlation}
	_, err = h.run(ctx, r, useCase{
		actorOnly: true, // the system may expire any request
		decide: func(ctx context.Context, _ caller, now time.Time) (decision, error) {
			rel := new(domain.Relationship)
			l, err := h.load(ctx, domain.RelationshipStream(relationshipID), rel)
			if err != nil {
				return decision{}, err
			}
			return decision{stream: l, events: rel.Expire(now), result: relationshipID}, nil
		},
	})
	return err
}

// fixedTarget is the target of a mutation whose stream the input names.
func fixedTarget(stream string) func(context.Context, caller) (string, error) {
	return func(context.Context, caller) (string, error) { return stream, nil }
}

// latestAttemptStream names the stream of the pair's latest relationship
// request ("" when it has none): where a request that an abandoned claim
// made would be.
func (h *Handlers) latestAttemptStream(ctx context.Context, partner, customer uuid.UUID) (string, error) {
	latest := ""
	for attempt := 0; ; attempt++ {
		stream := domain.RelationshipStream(domain.RelationshipID(partner, customer, attempt))
		ok, err := h.exists(ctx, stream)
		if err != nil || !ok {
			return latest, err
		}
		latest = stream
	}
}
