package graph

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/eventstore"
)

// The consistency token: every successful mutation answer carries, in
// extensions.consistencyToken and the X-Consistency-Token response header,
// an opaque string naming the log position of its last event. A request
// that sends it back in the X-Consistency-Token header is answered, by any
// server on the same log, only once that server's read models include the
// position (read-your-writes across servers); past the request's deadline
// it is UNAVAILABLE, and a malformed token is BAD_USER_INPUT.

// ConsistencyHeader is the request and response header of the token.
const ConsistencyHeader = "X-Consistency-Token"

// tokenPrefix versions the token's form; the rest is the position in
// base64url, so that clients treat it as opaque.
const tokenPrefix = "ct1."

// EncodeConsistencyToken is the token naming pos.
func EncodeConsistencyToken(pos eventstore.Position) string {
	return tokenPrefix + base64.RawURLEncoding.EncodeToString([]byte(pos.String()))
}

// errBadToken is the answer to a token the server did not issue.
var errBadToken = errors.New("the X-Consistency-Token is not a token this API issued")

// ParseConsistencyToken decodes a token made by EncodeConsistencyToken.
func ParseConsistencyToken(s string) (eventstore.Position, error) {
	rest, ok := strings.CutPrefix(s, tokenPrefix)
	if !ok || len(rest) > 64 {
		return eventstore.Position{}, errBadToken
	}
	b, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil {
		return eventstore.Position{}, errBadToken
	}
	pos, err := eventstore.ParsePosition(string(b))
	if err != nil {
		return eventstore.Position{}, fmt.Errorf("%w: %w", errBadToken, err)
	}
	return pos, nil
}

// recordToken is the command.Request's Recorded hook: it puts the token in
// the answer's extensions and response header. A document's mutation
// fields run one after another, so the last one's token (the latest
// position) is the answer's: the extension is registered once, as a
// holder the later fields overwrite (gqlgen refuses a second
// registration of one key).
func recordToken(ctx context.Context, req *Request) func(eventstore.Position) {
	return func(pos eventstore.Position) {
		tok := EncodeConsistencyToken(pos)
		if held, ok := graphql.GetExtension(ctx, "consistencyToken").(*string); ok {
			*held = tok
		} else {
			graphql.RegisterExtension(ctx, "consistencyToken", &tok)
		}
		if req != nil && req.SetConsistencyToken != nil {
			req.SetConsistencyToken(tok)
		}
	}
}

// PositionWaiter waits until the read models include a position.
type PositionWaiter interface {
	WaitFor(ctx context.Context, pos eventstore.Position) error
}

// awaitToken is the operation middleware that holds a request carrying a
// consistency token until the read models include its position.
func awaitToken(w PositionWaiter) graphql.OperationMiddleware {
	return func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		req := requestFrom(ctx)
		if req == nil || req.ConsistencyToken == "" || w == nil {
			return next(ctx)
		}
		pos, err := ParseConsistencyToken(req.ConsistencyToken)
		if err != nil {
			return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{{
				Message:    err.Error(),
				Extensions: map[string]any{"code": string(domain.CodeBadUserInput)},
			}}})
		}
		// The request's context ends at its deadline (see deadline.go).
		if err := w.WaitFor(ctx, pos); err != nil {
			return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{{
				Message:    "the read models did not reach the X-Consistency-Token's position before the request's deadline; try again",
				Extensions: map[string]any{"code": string(domain.CodeUnavailable)},
			}}})
		}
		return next(ctx)
	}
}
