package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/partnercenter/multichannel/domain"
)

// callerFirst refuses a request without a verified caller before its
// document is parsed and validated, where nothing but a caller's document
// can run (production: requireCaller lets no operation through without
// one). Parsing and validating a document that is within every bound still
// costs up to a hundred times what answering `{ __typename }` does
// (2,000 tokens of a valid literal list); anyone on the internet could
// otherwise have it paid for nothing. The bounds' pass (documentBounds)
// runs before this one, so an oversized document is still refused with
// its own code, token or not. In development, a document that only
// introspects runs without a caller, so the document must be parsed
// first and requireCaller decides.
type callerFirst struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
} = callerFirst{}

func (callerFirst) ExtensionName() string                   { return "CallerFirst" }
func (callerFirst) Validate(graphql.ExecutableSchema) error { return nil }

func (callerFirst) MutateOperationParameters(ctx context.Context, p *graphql.RawParams) *gqlerror.Error {
	if _, err := caller(ctx); err != nil {
		if graphql.HasOperationContext(ctx) {
			// As documentBounds does: the refusal is logged and counted
			// under the name the request gave (the document's own is not
			// read), with the type "unknown".
			oc := graphql.GetOperationContext(ctx)
			oc.RawQuery, oc.OperationName, oc.Extensions, oc.Headers = p.Query, p.OperationName, p.Extensions, p.Headers
		}
		return &gqlerror.Error{
			Message:    err.Error(),
			Extensions: map[string]any{"code": string(domain.CodeUnauthenticated)},
		}
	}
	return nil
}
