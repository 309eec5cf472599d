package graph

import (
	"context"
	"errors"
	"log/slog"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/eventstore"
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
	case errors.Is(err, eventstore.ErrUnavailable), errors.Is(err, eventstore.ErrClosed),
		errors.Is(err, context.DeadlineExceeded):
		return string(domain.CodeUnavailable)
	}
	return string(domain.CodeInternal)
}

// presentError is the one place where errors become GraphQL errors: every
// error gets an extensions.code from the contract's ErrorCode enum (or
// gqlgen's own codes for parse and validation errors, which it sets itself).
func presentError(ctx context.Context, err error) *gqlerror.Error {
	var gqlErr *gqlerror.Error
	if errors.As(err, &gqlErr) && gqlErr.Err == nil {
		// gqlgen's own errors (parse, validation, complexity, APQ) already
		// carry their code.
		if gqlErr.Path == nil {
			gqlErr.Path = graphql.GetPath(ctx)
		}
		return gqlErr
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
		if errors.As(err, &de) {
			out.Message = de.Message
		} else if errors.Is(err, auth.ErrUnauthenticated) {
			out.Message = err.Error()
		}
	}
	if out.Extensions == nil {
		out.Extensions = map[string]any{}
	}
	out.Extensions["code"] = code
	return out
}
