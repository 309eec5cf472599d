package graph

import (
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// post is the POST transport. It answers as gqlgen's transport.POST does
// (the same statuses, content types and documents; post_test.go compares
// them), with less work per request, since every query and mutation over
// HTTP comes through it:
//
//   - the body is decoded as it is read, instead of being read whole
//     first and then copied into the decoder;
//   - the response's one header is set without building and merging maps;
//   - an answer that is only data is written as it is. gqlgen marshals
//     the whole response with encoding/json, which scans the data it has
//     already encoded and copies it again (and turns <, > and & in
//     strings into \u escapes; this one leaves them as they are, the same
//     JSON).
type post struct{}

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

func (post) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	ctx := r.Context()
	contentType := replyContentType(r.Header.Get("Accept"))
	w.Header()["Content-Type"] = []string{contentType}

	start := graphql.Now()
	var params graphql.RawParams
	dec := json.NewDecoder(r.Body)
	// Numbers stay json.Number, as gqlgen's own transports keep them, so
	// that an Int variable beyond 2^53 is not rounded.
	dec.UseNumber()
	if err := dec.Decode(&params); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		writeReply(w, exec.DispatchError(ctx, gqlerror.List{gqlerror.Errorf("json request body could not be decoded: %+v", err)}))
		return
	}
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}

	oc, errs := exec.CreateOperationContext(ctx, &params)
	if errs != nil {
		w.WriteHeader(replyStatus(contentType, errs))
		writeReply(w, exec.DispatchError(graphql.WithOperationContext(ctx, oc), errs))
		return
	}
	responses, ctx := exec.DispatchOperation(ctx, oc)
	writeReply(w, responses(ctx))
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

// replyStatus is the status of a request that did not become an operation:
// a protocol error (one that is not the client's input, such as a document
// that does not parse) is 422, or 400 under the GraphQL response type.
func replyStatus(contentType string, errs gqlerror.List) int {
	if errcode.GetErrorKind(errs) != errcode.KindProtocol {
		return http.StatusOK
	}
	if contentType == contentGraphQLReply {
		return http.StatusBadRequest
	}
	return http.StatusUnprocessableEntity
}

// writeReply writes resp as JSON.
func writeReply(w io.Writer, resp *graphql.Response) {
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
	b, err := json.Marshal(resp)
	if err != nil {
		// Only data that is not JSON fails, which the executor never makes.
		b, _ = json.Marshal(&graphql.Response{Errors: gqlerror.List{gqlerror.Errorf("could not encode the response: %v", err)}})
	}
	w.Write(b)
}
