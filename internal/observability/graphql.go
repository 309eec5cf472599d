package observability

import (
	"context"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/internal/auth"
)

// Outcomes that are not error codes: an operation without errors, and one
// that got no answer because its request's context ended first.
const (
	codeOK        = "OK"
	codeCancelled = "CANCELLED"
)

// Extension is the gqlgen extension that sees every operation and how it
// ended: metrics by operation name and outcome code, the live-feed gauge,
// and the operation's part of the request's log line. Install it before
// every other extension (graph.Options.Extensions) so that it also sees
// the refusals of the limits and of authentication.
//
// An operation that runs is followed through InterceptOperation, which
// wraps its response handler; a document refused before it runs (parse,
// validation, limits) never reaches InterceptOperation and is seen by
// InterceptResponse instead.
type Extension struct {
	// Metrics, when not nil, records every operation.
	Metrics *Metrics
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationInterceptor
	graphql.ResponseInterceptor
} = Extension{}

type inOperationKey struct{}

// ExtensionName names the extension for gqlgen.
func (Extension) ExtensionName() string { return "Observability" }

// Validate accepts any schema.
func (Extension) Validate(graphql.ExecutableSchema) error { return nil }

// InterceptOperation follows an operation to its (first, for queries and
// mutations; last, for subscriptions) response.
func (e Extension) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	name, typ := operationOf(oc)
	start := oc.Stats.OperationStart
	if start.IsZero() {
		start = time.Now()
	}
	caller, hasCaller := auth.CallerFrom(ctx)

	if typ != "subscription" {
		h := next(context.WithValue(ctx, inOperationKey{}, true))
		done := false
		return func(ctx context.Context) *graphql.Response {
			resp := h(ctx)
			if !done {
				done = true
				code := codeCancelled // no answer: the client went away
				if resp != nil {
					code = responseCode(resp)
				}
				e.finish(ctx, name, typ, code, start, caller, hasCaller)
			}
			return resp
		}
	}

	// A subscription is counted once, when it ends, with the first error
	// code it answered; the gauge counts it while it is open.
	e.Metrics.SubscriberStarted()
	ended := false
	code := codeOK
	end := func(ctx context.Context) {
		if !ended {
			ended = true
			e.Metrics.SubscriberEnded()
			e.finish(ctx, name, typ, code, start, caller, hasCaller)
		}
	}
	var h graphql.ResponseHandler
	func() {
		defer func() {
			if r := recover(); r != nil {
				end(ctx)
				panic(r)
			}
		}()
		h = next(context.WithValue(ctx, inOperationKey{}, true))
	}()
	return func(ctx context.Context) (resp *graphql.Response) {
		defer func() {
			if r := recover(); r != nil {
				end(ctx)
				panic(r)
			}
			if resp == nil {
				end(ctx)
			}
		}()
		resp = h(ctx)
		if resp != nil && code == codeOK && len(resp.Errors) > 0 {
			code = responseCode(resp)
		}
		return resp
	}
}

// finish records an operation that ended with code.
func (e Extension) finish(ctx context.Context, name, typ, code string, start time.Time, caller domain.Actor, hasCaller bool) {
	e.Metrics.ObserveOperation(name, typ, code, time.Since(start))
	noteOperation(ctx, name, typ, code, caller, hasCaller)
}

// InterceptResponse records the documents refused before they ran.
func (e Extension) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	if ctx.Value(inOperationKey{}) != nil {
		return next(ctx)
	}
	resp := next(ctx)
	var oc *graphql.OperationContext
	if graphql.HasOperationContext(ctx) {
		oc = graphql.GetOperationContext(ctx)
	}
	name, typ := operationOf(oc)
	start := graphql.GetStartTime(ctx)
	if oc != nil && !oc.Stats.OperationStart.IsZero() {
		start = oc.Stats.OperationStart
	}
	var d time.Duration
	if !start.IsZero() {
		d = time.Since(start)
	}
	code := codeOK
	if resp != nil {
		code = responseCode(resp)
	}
	e.Metrics.ObserveOperation(name, typ, code, d)
	caller, hasCaller := auth.CallerFrom(ctx)
	noteOperation(ctx, name, typ, code, caller, hasCaller)
	return resp
}

// operationOf names an operation and its type; a document that did not
// parse has the name the request gave and the type "unknown".
func operationOf(oc *graphql.OperationContext) (name, typ string) {
	if oc == nil {
		return "", "unknown"
	}
	name = oc.OperationName
	typ = "unknown"
	if oc.Operation != nil {
		if oc.Operation.Name != "" {
			name = oc.Operation.Name
		}
		typ = string(oc.Operation.Operation)
	}
	if len(name) > 128 {
		name = name[:128]
	}
	return name, typ
}

// responseCode is the first error's extensions.code, OK without errors,
// and UNKNOWN for an error without a code (none of the server's own).
func responseCode(resp *graphql.Response) string {
	if len(resp.Errors) == 0 {
		return codeOK
	}
	if c, ok := resp.Errors[0].Extensions["code"].(string); ok && c != "" {
		return c
	}
	return "UNKNOWN"
}
