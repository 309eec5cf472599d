package graph

import (
	"context"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/graph/model"
	"github.com/partnercenter/multichannel/internal/command"
	"github.com/partnercenter/multichannel/projections"
)

// The lookups below read one object as the caller sees it, answering
// NOT_FOUND for what does not exist or is not visible alike.

func (r *Resolver) partner(id uuid.UUID) (*projections.Partner, error) {
	p, ok := r.Model.Partner(id)
	if !ok {
		return nil, notFound("partner")
	}
	return &p, nil
}

func (r *Resolver) customer(v domain.Actor, id uuid.UUID) (*model.Customer, error) {
	c, ok := r.Model.Customer(v, id)
	if !ok {
		return nil, notFound("customer")
	}
	return customer(c), nil
}

func (r *Resolver) subscription(v domain.Actor, id uuid.UUID) (*projections.Subscription, error) {
	s, ok := r.Model.Subscription(v, id)
	if !ok {
		return nil, notFound("subscription")
	}
	return &s, nil
}

func (r *Resolver) relationship(v domain.Actor, id uuid.UUID) (*projections.Relationship, error) {
	rel, ok := r.Model.Relationship(v, id)
	if !ok {
		return nil, notFound("relationship")
	}
	return &rel, nil
}

// relatedCustomer answers the customer of an object the caller sees.
func (r *Resolver) relatedCustomer(ctx context.Context, id uuid.UUID) (*model.Customer, error) {
	v, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	return r.customer(v, id)
}

// relationshipCommand runs a command that takes a relationship id and
// answers the relationship.
func (r *Resolver) relationshipCommand(ctx context.Context, id string,
	run func(context.Context, command.Request, string) (uuid.UUID, error)) (*projections.Relationship, error) {
	req, err := commandRequest(ctx)
	if err != nil {
		return nil, err
	}
	rid, err := run(ctx, req, id)
	if err != nil {
		return nil, err
	}
	return r.relationship(req.Caller, rid)
}

// subscriptionCommand runs a command that takes a subscription id and
// answers the subscription.
func (r *Resolver) subscriptionCommand(ctx context.Context, id string,
	run func(context.Context, command.Request, string) (uuid.UUID, error)) (*projections.Subscription, error) {
	req, err := commandRequest(ctx)
	if err != nil {
		return nil, err
	}
	sid, err := run(ctx, req, id)
	if err != nil {
		return nil, err
	}
	return r.subscription(req.Caller, sid)
}
