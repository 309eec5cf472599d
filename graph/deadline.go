package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/partnercenter/multichannel/domain"
)

// The request deadline (the server's -request-timeout) is decided in one
// place, the HTTP layer (internal/httpapi), which gives each GraphQL
// request over HTTP a context that ends at it (WebSockets get none: they
// live as long as their subscriptions). Everything below waits on that
// context: the store's reads, the read models' waits, the command
// handlers. This extension only turns a request already past it into an
// answer a client can act on.

// pastRequestDeadline reports whether the request may no longer run: its
// context ended (the client went away, or the deadline passed).
func pastRequestDeadline(ctx context.Context) bool { return ctx.Err() != nil }

// deadline answers UNAVAILABLE for a request whose deadline has passed
// before its operation runs: gqlgen itself would answer a bare null to an
// operation whose context has ended, which tells the client nothing. A
// mutation's waits (on the store and on the read models) are in the
// command handlers, which end them with the request's context.
// There is no check before each root field: a query's root fields start
// together (gqlgen resolves them concurrently), so such a check would only
// repeat this one, and each of a mutation's root fields ends at the
// deadline in its handler.
type deadline struct{}

func (deadline) ExtensionName() string                   { return "Deadline" }
func (deadline) Validate(graphql.ExecutableSchema) error { return nil }

func (deadline) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	if oc.Operation != nil && oc.Operation.Operation == ast.Subscription {
		return next(ctx) // a subscription ends with its context
	}
	if pastRequestDeadline(ctx) {
		return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{pastDeadline()}})
	}
	h := next(ctx)
	answered := false
	return func(ctx context.Context) *graphql.Response {
		if answered {
			return h(ctx)
		}
		answered = true
		if ctx.Err() != nil {
			return &graphql.Response{Errors: gqlerror.List{pastDeadline()}}
		}
		return h(ctx)
	}
}

func pastDeadline() *gqlerror.Error {
	return &gqlerror.Error{
		Message:    "the request ran past its deadline; retry later",
		Extensions: map[string]any{"code": string(domain.CodeUnavailable)},
	}
}
