package graph

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/partnercenter/multichannel/domain"
)

// post is the POST transport. It answers as gqlgen's transport.POST does
// (the same content types and documents; post_test.go compares them),
// except where the GraphQL-over-HTTP specification says otherwise (the
// status of a refused request, and the data entry of one that never ran
// under application/graphql-response+json: see replyStatus), with less
// work per request, since every query and mutation over HTTP comes through
// it:
//
//   - the body is decoded as it is read, instead of being read whole
//     first and then copied into the decoder;
//   - the response's one header is set without building and merging maps;
//   - an answer that is only data is written as it is. gqlgen marshals
//     the whole response with encoding/json, which scans the data it has
//     already encoded and copies it again (and turns <, > and & in
//     strings into \u escapes; this one leaves them as they are, the same
//     JSON).
type post struct {
	// maxDocumentBytes bounds the body's query while it is read (see
	// readParams); 0 is no bound.
	maxDocumentBytes int
}

var _ graphql.Transport = post{}

const (
	contentJSON         = "application/json"
	contentGraphQLReply = "application/graphql-response+json"
)

func (post) Supports(r *http.Request) bool {
	if r.Method == http.MethodPost && r.Header.Get("Content-Type") == contentJSON && r.Header.Get("Upgrade") == "" {
		return true // the usual request, without parsing the media type
	}
	return transport.POST{}.Supports(r)
}

func (p post) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	ctx := r.Context()
	contentType := replyContentType(r.Header.Get("Accept"))
	w.Header()["Content-Type"] = []string{contentType}

	start := graphql.Now()
	var params graphql.RawParams
	err := readParams(r.Body, p.maxDocumentBytes, &params)
	if errors.Is(err, errQueryTooLong) {
		// Refused as the document bounds refuse it, before the rest of
		// the body is read or decoded.
		resp := exec.DispatchError(ctx, gqlerror.List{boundsError("document is over the limit of %d bytes", p.maxDocumentBytes)})
		w.WriteHeader(replyStatus(contentType, resp))
		writeReply(w, contentType, resp)
		return
	}
	if err != nil {
		// Not a GraphQL-over-HTTP request at all: 400 under either type.
		w.WriteHeader(http.StatusBadRequest)
		writeReply(w, contentType, exec.DispatchError(ctx, gqlerror.List{badRequest("json request body could not be decoded: %+v", err)}))
		return
	}
	if params.Query == "" && params.Extensions["persistedQuery"] == nil {
		// Nor is a request without a document (a persisted query's hash
		// stands for one).
		w.WriteHeader(http.StatusBadRequest)
		writeReply(w, contentType, exec.DispatchError(ctx, gqlerror.List{badRequest("the request has no query: a GraphQL document is required")}))
		return
	}
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}

	oc, errs := exec.CreateOperationContext(ctx, &params)
	if errs != nil {
		resp := exec.DispatchError(graphql.WithOperationContext(ctx, oc), errs)
		w.WriteHeader(replyStatus(contentType, resp))
		writeReply(w, contentType, resp)
		return
	}
	responses, ctx := exec.DispatchOperation(ctx, oc)
	if defers(oc.Operation) {
		if acceptsMultipart(r.Header.Get("Accept")) {
			writeMultipart(ctx, w, oc.Operation, responses)
			return
		}
		resp := completeDeferred(ctx, responses(ctx), responses)
		if status := replyStatus(contentType, resp); status != http.StatusOK {
			w.WriteHeader(status)
		}
		writeReply(w, contentType, resp)
		return
	}
	resp := responses(ctx)
	if status := replyStatus(contentType, resp); status != http.StatusOK {
		w.WriteHeader(status)
	}
	writeReply(w, contentType, resp)
}

// badRequest is a transport's refusal of a request that is not a
// GraphQL-over-HTTP request: BAD_USER_INPUT, as every error has a code.
func badRequest(format string, args ...any) *gqlerror.Error {
	err := gqlerror.Errorf(format, args...)
	err.Extensions = map[string]any{"code": string(domain.CodeBadUserInput)}
	return err
}

// replyContentType is transport.POST's choice of the response's media type
// from the Accept header: JSON unless the client asks for the GraphQL
// response type, or accepts neither.
func replyContentType(accept string) string {
	if accept == "" || accept == contentJSON {
		return contentJSON
	}
	for part := range strings.SplitSeq(accept, ",") {
		mediaType, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mediaType {
		case "*/*", "application/*", contentJSON:
			return contentJSON
		case contentGraphQLReply:
			return contentGraphQLReply
		}
	}
	return contentGraphQLReply
}

// replyStatus is the status of a well-formed request's answer, as the
// GraphQL-over-HTTP specification gives it for each media type:
//
//   - application/json: 200, whatever the errors (a document that does not
//     parse or validate, variables that do not coerce, a refused
//     operation): a client that accepts JSON reads the errors from the
//     body, and one sending Accept: */* would otherwise see only a network
//     error;
//   - application/graphql-response+json: 200 once the operation ran (its
//     answer has a data entry, null included); a request refused before it
//     ran has none, and gets a 4xx (or 5xx) by its first error's code.
func replyStatus(contentType string, resp *graphql.Response) int {
	if contentType != contentGraphQLReply || !notExecuted(resp) {
		return http.StatusOK
	}
	code, _ := resp.Errors[0].Extensions["code"].(string)
	switch code {
	case string(domain.CodeUnauthenticated):
		return http.StatusUnauthorized
	case string(domain.CodeForbidden):
		return http.StatusForbidden
	case codePersistedQueryNotFound:
		// Apollo Client's persisted-query link stops hashing on a 400 or
		// a 500; a 404 tells it to send the document, as a 200 did.
		return http.StatusNotFound
	case CodeRateLimited:
		return http.StatusTooManyRequests
	case string(domain.CodeUnavailable):
		return http.StatusServiceUnavailable
	case string(domain.CodeInternal):
		return http.StatusInternalServerError
	}
	return http.StatusBadRequest
}

// codePersistedQueryNotFound is the code of gqlgen's APQ extension for a
// hash it does not know (unexported there).
const codePersistedQueryNotFound = "PERSISTED_QUERY_NOT_FOUND"

// notExecuted reports whether resp is the answer of a request refused
// before it ran: errors and no data at all (an operation that ran has
// data, JSON null when its errors reached the root).
func notExecuted(resp *graphql.Response) bool {
	return resp != nil && len(resp.Errors) > 0 && len(resp.Data) == 0 && resp.HasNext == nil
}

// writeReply writes resp as JSON. Under application/graphql-response+json
// the answer of a request that never ran has no data entry (GraphQL-over-
// HTTP, and the GraphQL specification's "Response"); under
// application/json it keeps gqlgen's "data": null, as clients of this
// API have always read it.
func writeReply(w io.Writer, contentType string, resp *graphql.Response) {
	if resp != nil && len(resp.Errors) == 0 && len(resp.Extensions) == 0 &&
		resp.Label == "" && resp.Path == nil && resp.HasNext == nil {
		data := []byte(resp.Data)
		if len(data) == 0 {
			data = []byte("null")
		}
		// Three writes into the response's buffer, no copy of the data.
		io.WriteString(w, `{"data":`)
		w.Write(data)
		io.WriteString(w, "}")
		return
	}
	var v any = resp
	if contentType == contentGraphQLReply && notExecuted(resp) {
		v = &struct {
			Errors     gqlerror.List  `json:"errors"`
			Extensions map[string]any `json:"extensions,omitempty"`
		}{resp.Errors, resp.Extensions}
	}
	b, err := json.Marshal(v)
	if err != nil {
		// Only data that is not JSON fails, which the executor never makes.
		b, _ = json.Marshal(&graphql.Response{Errors: gqlerror.List{gqlerror.Errorf("could not encode the response: %v", err)}})
	}
	w.Write(b)
}
