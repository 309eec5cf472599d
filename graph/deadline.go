package graph

import (
	"context"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/eventstore"
)

// The request deadline (the server's -request-timeout) is carried as an
// instant in the context, not as a context deadline: a context deadline
// costs a timer and a registration with the request's context on every
// request, and most requests are queries answered from memory in
// microseconds, which never wait on anything a deadline could cut short.
// The deadline becomes a context deadline where a request may wait: on
// the store (DeadlineStore), and in the command handlers, which take it
// with the mutation (command.Request's Deadline) and make one timer for
// it and their own timeout together. Before an operation runs, the
// instant itself is checked.

func requestDeadline(ctx context.Context) (time.Time, bool) {
	if r := requestFrom(ctx); r != nil && !r.Deadline.IsZero() {
		return r.Deadline, true
	}
	return time.Time{}, false
}

// bounded returns ctx with the request deadline as its context deadline
// (ctx itself when the request has none).
func bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	if t, ok := requestDeadline(ctx); ok {
		return context.WithDeadline(ctx, t)
	}
	return ctx, func() {}
}

// pastDeadline reports whether the request may no longer run: its context
// ended (the client went away, or a context deadline passed) or its
// request deadline passed.
func pastRequestDeadline(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	t, ok := requestDeadline(ctx)
	return ok && !time.Now().Before(t)
}

// DeadlineStore gives each read of the store the request's deadline, for
// the resolvers that read it (history, events, as-of folds, verification):
// a store that stalls then fails the request instead of holding it. The
// live feed's subscriptions come over WebSockets, which have no deadline.
func DeadlineStore(s eventstore.Store) eventstore.Store { return deadlineStore{s} }

type deadlineStore struct{ eventstore.Store }

func (s deadlineStore) Append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	ctx, cancel := bounded(ctx)
	defer cancel()
	return s.Store.Append(ctx, stream, expected, events...)
}

func (s deadlineStore) ReadStream(ctx context.Context, stream string, dir eventstore.Direction, from uint64, max int) ([]eventstore.RecordedEvent, error) {
	ctx, cancel := bounded(ctx)
	defer cancel()
	return s.Store.ReadStream(ctx, stream, dir, from, max)
}

func (s deadlineStore) ReadAll(ctx context.Context, after eventstore.Position, max int) ([]eventstore.RecordedEvent, error) {
	ctx, cancel := bounded(ctx)
	defer cancel()
	return s.Store.ReadAll(ctx, after, max)
}

func (s deadlineStore) SubscribeAll(ctx context.Context, after eventstore.Position, fn func(eventstore.RecordedEvent) error) error {
	ctx, cancel := bounded(ctx)
	defer cancel()
	return s.Store.SubscribeAll(ctx, after, fn)
}

// deadline answers UNAVAILABLE for a request whose deadline has passed
// before its operation runs: gqlgen itself would answer a bare null to an
// operation whose context has ended, which tells the client nothing. A
// mutation's waits (on the store and on the read models) are in the
// command handlers, which end them at the request deadline themselves.
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
