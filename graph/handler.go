package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/google/uuid"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/graph/generated"
	"github.com/partnercenter/multichannel/graph/model"
	"github.com/partnercenter/multichannel/internal/auth"
)

// Options tune the GraphQL server.
type Options struct {
	// Development lets introspection run without a token.
	Development bool
	// Introspection enables the __schema and __type queries.
	Introspection bool
	// ComplexityLimit bounds a document's cost (each field costs 1, lists
	// multiply by their `first`); 0 means DefaultComplexityLimit.
	ComplexityLimit int
	// MaxDepth bounds how deeply a document's selection sets nest; 0 means
	// DefaultMaxDepth.
	MaxDepth int
	// MaxAliases bounds the aliased fields of a document; 0 means
	// DefaultMaxAliases.
	MaxAliases int
	// MaxDocumentBytes, MaxTokens and MaxSelections bound a document's
	// text before it is parsed (see documentBounds); 0 means
	// DefaultMaxDocumentBytes, DefaultMaxTokens and DefaultMaxSelections.
	// They stay on with NoLimits, as the body limit does: without them
	// one request can cost minutes of CPU.
	MaxDocumentBytes int
	MaxTokens        int
	MaxSelections    int
	// MaxRepeats bounds how often one response name is selected in one
	// selection set; 0 means DefaultMaxRepeats.
	MaxRepeats int
	// MaxValidationErrors bounds the errors answered for a document that
	// fails validation; 0 means DefaultMaxValidationErrors.
	MaxValidationErrors int
	// NoLimits turns the depth, alias and complexity limits off, and the
	// check that a root field does not start past the request's deadline
	// (the server's -limits=false, to measure what they cost).
	NoLimits bool
	// Extensions are installed first, so that they see every operation and
	// every refusal, the limits' and authentication's included (metrics and
	// request logs).
	Extensions []graphql.HandlerExtension
	// Verifier checks the token a WebSocket client sends in connection_init.
	Verifier *auth.Verifier
	// Websocket bounds the WebSocket connections.
	Websocket WebsocketLimits
	// RateLimiter, when set, counts every WebSocket operation against its
	// tenant's bucket (HTTP requests are counted by package httpapi, which
	// sees a WebSocket's upgrade only, not its operations).
	RateLimiter RateLimiter
	// Now is the clock WebSocket connections judge their token's expiry
	// by; time.Now when nil.
	Now func() time.Time
}

// DefaultComplexityLimit is generous for real screens (a page of 100
// customers with their subscriptions) and refuses abusive documents.
const DefaultComplexityLimit = 5000

// NewServer returns the gqlgen server for the API: POST and GET (for
// persisted queries), WebSocket (graphql-transport-ws) for the live feed.
func NewServer(r *Resolver, opts Options) *handler.Server {
	cfg := generated.Config{Resolvers: r}
	// A connection costs its page size times what each node asks for, so
	// that nesting pages cannot multiply unnoticed. Every function reads
	// only `first` (an Int): DocumentLimit keeps the figures of operations
	// without Int variables on that ground (figuresCacheable).
	cfg.Complexity.Query.Customers = func(child int, _ *model.CustomerFilter, first *int, _ *string) int { return page(first, child) }
	cfg.Complexity.Query.Subscriptions = func(child int, _ *model.SubscriptionFilter, first *int, _ *string) int { return page(first, child) }
	cfg.Complexity.Query.Relationships = func(child int, _ *model.RelationshipFilter, first *int, _ *string) int { return page(first, child) }
	// An events page reads each node's payload from the store (a node
	// costs one more), and counting it is a pass over what the caller may
	// see: its streams' index lists, or for an auditor with a filter every
	// event of the log. That pass is charged as eventsPass nodes, whatever
	// the filter, so that the figure never depends on a non-Int variable.
	cfg.Complexity.Query.Events = func(child int, _ *model.EventFilter, first *int, _ *string) int {
		return eventsPass + page(first, child+1)
	}
	// Nested lists have no page: count them as a typical 20.
	cfg.Complexity.Customer.Subscriptions = func(child int) int { return 1 + 20*child }
	cfg.Complexity.Customer.Relationships = func(child int) int { return 1 + 20*child }
	history := func(child int, first *int, _ *string, _ *bool) int { return page(first, child) }
	cfg.Complexity.Customer.History = history
	cfg.Complexity.Subscription.History = history
	cfg.Complexity.Relationship.History = history
	// A causation chain has no page: count it as a full one.
	cfg.Complexity.Query.Causation = func(child int, _ string) int { return 1 + 100*child }
	es := generated.NewExecutableSchema(cfg)
	srv := handler.New(es)
	// Outermost, so that every error answered gets its code and the
	// correlation id, whichever middleware answers it.
	srv.AroundOperations(decorateResponses)

	now := opts.Now
	if now == nil {
		now = time.Now
	}
	srv.AddTransport(newWebsocket(&wsGuard{
		limits:   opts.Websocket.withDefaults(),
		limiter:  opts.RateLimiter,
		verifier: opts.Verifier,
		now:      now,
		tenants:  map[uuid.UUID]int{},
	}))
	srv.AddTransport(transport.Options{})
	srv.AddTransport(coded{transport.GET{}})
	srv.AddTransport(post{maxDocumentBytes: orDefault(opts.MaxDocumentBytes, DefaultMaxDocumentBytes)})
	srv.AddTransport(unsupported{})

	queries := lru.New[*ast.QueryDocument](1000)
	srv.SetQueryCache(queries)
	maxTokens := orDefault(opts.MaxTokens, DefaultMaxTokens)
	// The parser's own bound, behind documentBounds' (which counts the
	// same tokens first).
	srv.SetParserTokenLimit(maxTokens)
	// "Did you mean" hints name fields: with introspection off, they
	// would disclose the schema to anyone, token or not.
	srv.SetDisableSuggestion(!opts.Introspection)
	srv.SetValidationRulesFn(boundedRules(orDefault(opts.MaxValidationErrors, DefaultMaxValidationErrors), opts.Introspection))
	for _, ext := range opts.Extensions {
		srv.Use(ext)
	}
	if opts.Introspection {
		srv.Use(extension.Introspection{})
	} else {
		srv.Use(noIntrospection{})
	}
	srv.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](1000)})
	srv.Use(documentBounds{
		maxBytes:      orDefault(opts.MaxDocumentBytes, DefaultMaxDocumentBytes),
		maxTokens:     maxTokens,
		maxSelections: orDefault(opts.MaxSelections, DefaultMaxSelections),
		maxRepeats:    orDefault(opts.MaxRepeats, DefaultMaxRepeats),
		schema:        es.Schema(),
		// As gqlgen's validation hints (SetDisableSuggestion above).
		suggest: opts.Introspection,
		parsed: func(ctx context.Context, q string) bool {
			_, ok := queries.Get(ctx, q)
			return ok
		},
	})
	if !opts.Development {
		srv.Use(callerFirst{})
	}
	srv.Use(&int32Variables{})
	srv.Use(oneKeyedMutation{})
	if !opts.NoLimits {
		srv.Use(&DocumentLimit{
			MaxDepth:      orDefault(opts.MaxDepth, DefaultMaxDepth),
			MaxAliases:    orDefault(opts.MaxAliases, DefaultMaxAliases),
			MaxComplexity: orDefault(opts.ComplexityLimit, DefaultComplexityLimit),
		})
		srv.Use(deadline{})
	}

	srv.SetErrorPresenter(presentError)
	srv.SetRecoverFunc(func(ctx context.Context, v any) error {
		slog.ErrorContext(ctx, "panic in resolver", "panic", fmt.Sprint(v), "correlation_id", CorrelationID(ctx).String())
		return errors.New("panic") // presented as INTERNAL with a generic message
	})
	srv.AroundOperations(requireCaller(opts.Development))
	// Inside requireCaller: a request without a valid token never waits.
	var w PositionWaiter
	if r.Model != nil {
		w = r.Model
	}
	srv.AroundOperations(awaitToken(w))
	return srv
}

func orDefault(n, def int) int {
	if n <= 0 {
		return def
	}
	return n
}

// page is the cost of a connection: its page size (20 by default, the
// contract's default) times the cost of one edge.
// eventsPass is what `events` costs beyond its page: at most about twenty
// of them fit the default budget.
const eventsPass = 250

func page(first *int, child int) int {
	n := 20
	if first != nil && *first > 0 && *first <= 100 {
		n = *first
	}
	return 1 + n*child
}

// requireCaller refuses every operation without a verified caller with
// UNAUTHENTICATED, except, in development mode, a document that only
// introspects.
func requireCaller(development bool) graphql.OperationMiddleware {
	return func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		if _, err := caller(ctx); err != nil {
			oc := graphql.GetOperationContext(ctx)
			if !(development && introspectionOnly(oc)) {
				return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{{
					Message:    err.Error(),
					Extensions: map[string]any{"code": string(domain.CodeUnauthenticated)},
				}}})
			}
		}
		return next(ctx)
	}
}

func introspectionOnly(oc *graphql.OperationContext) bool {
	if oc == nil || oc.Operation == nil {
		return false
	}
	for _, sel := range oc.Operation.SelectionSet {
		f, ok := sel.(*ast.Field)
		if !ok || !strings.HasPrefix(f.Name, "__") {
			return false
		}
	}
	return true
}
