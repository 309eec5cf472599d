package main

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/cmd/loadbench/requests"
	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/internal/auth"
)

// tokenTTL outlives any run.
const tokenTTL = 12 * time.Hour

// partnerName is the load partner's name, checked by the setup's query.
const partnerName = "Load Test CSP"

// fixture is the data the measured operations act on, and the tokens of
// the users who act.
type fixture struct {
	Partner, Customer uuid.UUID
	// PartnerAdmin is the partner's Global admin, PartnerSales its sales
	// agent, CustomerAdmin the customer's Global admin.
	PartnerAdmin, PartnerSales, CustomerAdmin string
}

func mint(secret []byte, tenant uuid.UUID, role domain.Role) (string, error) {
	a := domain.Actor{UserID: "loadbench-" + string(role), TenantID: tenant, Role: role}
	return auth.MintHS256(secret, a, tokenTTL, time.Now())
}

// setUp enrolls a partner, has it onboard a customer, records one
// subscription for that customer as its Global admin, and reads the
// partner back: every measured operation is thus known to work before the
// clock starts.
func setUp(ctx context.Context, c *gqlClient, secret []byte) (*fixture, error) {
	f := &fixture{Partner: uuid.Must(uuid.NewV7()), Customer: uuid.Must(uuid.NewV7())}
	var err error
	if f.PartnerAdmin, err = mint(secret, f.Partner, domain.RoleGlobalAdmin); err != nil {
		return nil, err
	}
	if f.PartnerSales, err = mint(secret, f.Partner, domain.RoleSalesAgent); err != nil {
		return nil, err
	}
	if f.CustomerAdmin, err = mint(secret, f.Customer, domain.RoleGlobalAdmin); err != nil {
		return nil, err
	}
	if err := c.do(ctx, f.PartnerAdmin, requests.Enroll, map[string]any{"in": map[string]any{"name": partnerName, "cloud": "PUBLIC"}}, nil); err != nil {
		return nil, fmt.Errorf("setup: enroll the partner: %w", err)
	}
	if err := c.do(ctx, f.PartnerSales, requests.Onboard, map[string]any{"in": requests.OnboardInput(f.Customer)}, nil); err != nil {
		return nil, fmt.Errorf("setup: onboard the customer: %w", err)
	}
	if err := c.do(ctx, f.CustomerAdmin, requests.Record, map[string]any{"in": requests.RecordInput(f.Customer)}, nil); err != nil {
		return nil, fmt.Errorf("setup: record a subscription: %w", err)
	}
	var got struct{ Partner *struct{ ID, Name string } }
	if err := c.do(ctx, f.CustomerAdmin, requests.Partner, map[string]any{"id": f.Partner.String()}, &got); err != nil {
		return nil, fmt.Errorf("setup: read the partner: %w", err)
	}
	if got.Partner == nil || got.Partner.ID != f.Partner.String() || got.Partner.Name != partnerName {
		return nil, fmt.Errorf("setup: read the partner: got %+v", got.Partner)
	}
	return f, nil
}

// mutations are the measured mutations by name (-mutation): each request a
// real durable append.
var mutations = map[string]func(f *fixture) (workload, error){
	// Every request records a new subscription (a new stream) for the one
	// customer, as its Global admin.
	"record": func(f *fixture) (workload, error) {
		b, err := encodeRequest(requests.Record, map[string]any{"in": requests.RecordInput(f.Customer)})
		if err != nil {
			return workload{}, err
		}
		return workload{Name: "recordExternalSubscription", Token: f.CustomerAdmin, Body: staticBody(b)}, nil
	},
	// Every request onboards a new customer with a fresh UUIDv7 id, as
	// the partner's sales agent.
	"onboard": func(f *fixture) (workload, error) {
		return workload{Name: "onboardCustomer", Token: f.PartnerSales, Body: func(int) ([]byte, error) {
			id, err := uuid.NewV7()
			if err != nil {
				return nil, err
			}
			return encodeRequest(requests.Onboard, map[string]any{"in": requests.OnboardInput(id)})
		}}, nil
	},
}

// queries are the measured queries by name (-query).
var queries = map[string]func(f *fixture) (workload, error){
	// A partner's profile, read by the customer's Global admin: visible to
	// every authenticated caller.
	"partner": func(f *fixture) (workload, error) {
		b, err := encodeRequest(requests.Partner, map[string]any{"id": f.Partner.String()})
		if err != nil {
			return workload{}, err
		}
		return workload{Name: "partner(id) { id name }", Token: f.CustomerAdmin, Body: staticBody(b)}, nil
	},
	"viewer": func(f *fixture) (workload, error) {
		b, err := encodeRequest(requests.Viewer, nil)
		if err != nil {
			return workload{}, err
		}
		return workload{Name: "viewer { role }", Token: f.PartnerAdmin, Body: staticBody(b)}, nil
	},
}

// pingWorkload is the baseline's only operation.
func pingWorkload() (workload, error) {
	b, err := encodeRequest(requests.Ping, nil)
	if err != nil {
		return workload{}, err
	}
	return workload{Name: "{ ping }", Body: staticBody(b)}, nil
}
