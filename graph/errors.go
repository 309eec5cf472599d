package graph

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/eventstore"
	"github.com/partnercenter/multichannel/graph/scalar"
	"github.com/partnercenter/multichannel/internal/auth"
)

// Error codes of the API that are not domain refusals.
const (
	CodeRateLimited             = "RATE_LIMITED"
	CodeComplexityLimitExceeded = "COMPLEXITY_LIMIT_EXCEEDED"
)

// internalMessage is all a client learns of an unexpected failure: never a
// stack, a query or a file name.
const internalMessage = "internal error; quote the correlation id to the operator"

// CodeOf classifies err into the API's error codes.
func CodeOf(err error) string {
	var de *domain.Error
	switch {
	case errors.As(err, &de):
		return string(de.Code)
	case errors.Is(err, auth.ErrUnauthenticated):
		return string(domain.CodeUnauthenticated)
	case errors.Is(err, scalar.ErrInvalid):
		return string(domain.CodeBadUserInput)
	case errors.Is(err, eventstore.ErrUnavailable), errors.Is(err, eventstore.ErrClosed),
		errors.Is(err, context.DeadlineExceeded):
		return string(domain.CodeUnavailable)
	}
	return string(domain.CodeInternal)
}

// presentError is the one place where errors become GraphQL errors: every
// error gets an extensions.code from the contract's ErrorCode enum (or
// gqlgen's own codes for parse and validation errors, which it sets itself)
// and the request's extensions.correlationId.
func presentError(ctx context.Context, err error) *gqlerror.Error {
	var gqlErr *gqlerror.Error
	if errors.As(err, &gqlErr) && gqlErr.Err == nil {
		// gqlgen's own errors (parse, validation, complexity, persisted
		// queries) mostly carry their code already; see decorate for
		// those that do not.
		if gqlErr.Path == nil {
			gqlErr.Path = graphql.GetPath(ctx)
		}
		return decorate(ctx, gqlErr)
	}
	out := graphql.DefaultErrorPresenter(ctx, err)
	code := CodeOf(err)
	switch code {
	case string(domain.CodeInternal):
		slog.ErrorContext(ctx, "internal error", "err", err, "correlation_id", CorrelationID(ctx).String())
		out.Message = internalMessage
	case string(domain.CodeUnavailable):
		slog.WarnContext(ctx, "store unavailable", "err", err)
		out.Message = "the event store is unavailable; retry later"
	default:
		var de *domain.Error
		switch {
		case errors.As(err, &de):
			out.Message = de.Message
		case errors.Is(err, auth.ErrUnauthenticated):
			out.Message = err.Error()
		case errors.Is(err, scalar.ErrInvalid):
			// A scalar's refusal knows the value, not where it was given:
			// the path does (the argument, or the input field in it).
			out.Message = argumentName(out.Path) + ": " + out.Message
		}
	}
	if out.Extensions == nil {
		out.Extensions = map[string]any{}
	}
	out.Extensions["code"] = code
	return decorate(ctx, out)
}

// decorate gives err the request's correlation id, so that a user can
// quote it, and a code when it has none: the errors gqlgen makes without
// one (a persisted query whose hash does not match its text, a body that
// is not JSON) are all the client's request.
func decorate(ctx context.Context, err *gqlerror.Error) *gqlerror.Error {
	if err.Extensions == nil {
		err.Extensions = map[string]any{}
	}
	if _, ok := err.Extensions["code"]; !ok {
		err.Extensions["code"] = string(domain.CodeBadUserInput)
	}
	if _, ok := err.Extensions["correlationId"]; !ok {
		err.Extensions["correlationId"] = CorrelationID(ctx).String()
	}
	return err
}

// decorateResponses is the outermost operation middleware: it decorates
// the errors that operation middlewares answer without the presenter
// (UNAUTHENTICATED, a past deadline).
func decorateResponses(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	h := next(ctx)
	return func(ctx context.Context) *graphql.Response {
		r := h(ctx)
		if r != nil {
			for _, e := range r.Errors {
				decorate(ctx, e)
			}
		}
		return r
	}
}

// argumentName names the argument or input field at the end of path, as a
// client wrote it: `at`, or `input.termEndsAt`, or `input.services[2].name`.
// The path starts at the field whose argument it is.
func argumentName(path ast.Path) string {
	if len(path) < 2 {
		return path.String()
	}
	var b strings.Builder
	for i, el := range path[1:] {
		switch el := el.(type) {
		case ast.PathName:
			if i > 0 {
				b.WriteByte('.')
			}
			b.WriteString(string(el))
		case ast.PathIndex:
			b.WriteString("[" + strconv.Itoa(int(el)) + "]")
		}
	}
	return b.String()
}
