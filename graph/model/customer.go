// Package model holds the GraphQL types that have no read-model struct of
// their own: the generated inputs and enums (models_gen.go) and wrappers.
package model

import "github.com/partnercenter/multichannel/projections"

// Customer is a customer as the API shows it. AsOf is set on a customer
// answered by customerAsOf, so that its subscriptions and relationships are
// those of the same instant rather than today's.
type Customer struct {
	projections.Customer
	AsOf *projections.AsOf
}
