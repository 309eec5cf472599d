package graph

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/partnercenter/multichannel/domain"
)

// coded wraps a gqlgen transport whose refusals of a request (a query
// string that does not decode, a mutation over GET) are written straight
// to the response, without the error presenter: it gives those errors
// extensions.code (BAD_USER_INPUT: the request is the client's mistake;
// the HTTP status stays the transport's) and the correlation id, as every
// error of the API has.
type coded struct{ graphql.Transport }

func (c coded) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	cw := &codeWriter{ResponseWriter: w, r: r}
	c.Transport.Do(cw, r, exec)
	cw.finish()
}

// codeWriter passes a response through, except one with an error status,
// which it holds until finish decorates its errors.
type codeWriter struct {
	http.ResponseWriter
	r      *http.Request
	status int
	held   bytes.Buffer
}

func (w *codeWriter) WriteHeader(status int) {
	if status >= http.StatusBadRequest {
		w.status = status // written by finish, with the decorated body
		return
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *codeWriter) Write(b []byte) (int, error) {
	if w.status != 0 {
		return w.held.Write(b)
	}
	return w.ResponseWriter.Write(b)
}

func (w *codeWriter) finish() {
	if w.status == 0 {
		return
	}
	body := w.held.Bytes()
	var resp graphql.Response
	if err := json.Unmarshal(body, &resp); err == nil && len(resp.Errors) > 0 {
		for _, e := range resp.Errors {
			decorate(w.r.Context(), e)
		}
		if b, err := json.Marshal(&resp); err == nil {
			body = b
		}
	}
	w.ResponseWriter.WriteHeader(w.status)
	w.ResponseWriter.Write(body)
}

// unsupported answers the requests no transport takes (another method, a
// POST that is not JSON), last: as gqlgen's server does, with 400, but
// with a code and a message that says what is served.
type unsupported struct{}

func (unsupported) Supports(*http.Request) bool { return true }

func (unsupported) Do(w http.ResponseWriter, r *http.Request, _ graphql.GraphExecutor) {
	err := gqlerror.Errorf("transport not supported: send a POST with Content-Type application/json, a GET for a query, or a graphql-transport-ws WebSocket")
	err.Extensions = map[string]any{"code": string(domain.CodeBadUserInput)}
	b, _ := json.Marshal(&graphql.Response{Errors: gqlerror.List{decorate(r.Context(), err)}})
	w.Header().Set("Content-Type", contentJSON)
	w.WriteHeader(http.StatusBadRequest)
	w.Write(b)
}
