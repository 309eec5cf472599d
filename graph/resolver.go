// Package graph is the GraphQL layer: the schema (schema/), generated
// execution code (generated/), and thin resolvers that turn arguments into
// commands or read-model queries and results into output types. No business
// rule lives here: commands decide in package command and domain, reads and
// visibility are the read models' (package projections).
package graph

//go:generate go tool gqlgen generate

import (
	"github.com/partnercenter/multichannel/eventstore"
	"github.com/partnercenter/multichannel/internal/command"
	"github.com/partnercenter/multichannel/internal/livefeed"
	"github.com/partnercenter/multichannel/projections"
)

// Resolver holds the application's entry points for the resolvers.
type Resolver struct {
	Commands *command.Handlers
	Model    *projections.Model
	Store    eventstore.Store
	// Feed serves eventAppended from one reader of the log; without it,
	// each subscription reads the log for itself (livefeed.Follow).
	Feed *livefeed.Hub
}
