package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// @defer over HTTP: incremental delivery as the GraphQL-over-HTTP
// incremental-delivery proposal gives it (a multipart/mixed answer, the
// first part the initial payload, each later one {"incremental": [...],
// "hasNext": ...}), in the 2022-08-24 format that Apollo Client and urql
// read (deferSpec=20220824).
//
// gqlgen's own transport.MultipartMixed is not used: it parses the request
// again, answers a refused request with its own statuses (422 for a
// document that does not validate) instead of this API's (replyStatus), and
// writes decoding failures to the standard logger. Here the POST transport
// parses and validates once, and only an operation that defers and a client
// that accepts multipart/mixed get a multipart answer; everything before
// execution is answered as any other request.
//
// A client that does not accept multipart/mixed still gets every field it
// asked for: the deferred payloads are merged into the one JSON answer
// (the proposal lets a server deliver deferred data at once), so no
// deferred non-null field is left null.

const (
	multipartBoundary = "graphql"
	contentMultipart  = `multipart/mixed; boundary="` + multipartBoundary + `"; deferSpec=20220824`
)

// acceptsMultipart reports whether the Accept header allows a
// multipart/mixed answer (with a non-zero quality).
func acceptsMultipart(accept string) bool {
	if !strings.Contains(accept, "multipart/mixed") {
		return false
	}
	for part := range strings.SplitSeq(accept, ",") {
		mediaType, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err == nil && mediaType == "multipart/mixed" && params["q"] != "0" && !strings.HasPrefix(params["q"], "0.0") {
			return true
		}
	}
	return false
}

// defers reports whether the operation has a @defer (in its selections or
// the fragments they spread). @defer(if: false) counts too: the answer is
// then a multipart one with a single part, which a client that asked for
// multipart reads as well.
func defers(op *ast.OperationDefinition) bool {
	if op == nil {
		return false
	}
	seen := map[string]bool{}
	var walk func(ast.SelectionSet) bool
	walk = func(set ast.SelectionSet) bool {
		for _, sel := range set {
			switch s := sel.(type) {
			case *ast.Field:
				if walk(s.SelectionSet) {
					return true
				}
			case *ast.InlineFragment:
				if s.Directives.ForName("defer") != nil || walk(s.SelectionSet) {
					return true
				}
			case *ast.FragmentSpread:
				if s.Directives.ForName("defer") != nil {
					return true
				}
				if s.Definition != nil && !seen[s.Name] {
					seen[s.Name] = true
					if walk(s.Definition.SelectionSet) {
						return true
					}
				}
			}
		}
		return false
	}
	return walk(op.SelectionSet)
}

// writeMultipart writes an operation's answers as multipart/mixed parts,
// flushing each, until the last one (hasNext false) or the client leaves.
func writeMultipart(ctx context.Context, w http.ResponseWriter, op *ast.OperationDefinition, responses graphql.ResponseHandler) {
	flusher, _ := w.(http.Flusher)
	w.Header()["Content-Type"] = []string{contentMultipart}
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	part := func(body []byte) {
		fmt.Fprintf(w, "\r\n--%s\r\nContent-Type: application/json; charset=utf-8\r\n\r\n", multipartBoundary)
		w.Write(body)
		if flusher != nil {
			flusher.Flush()
		}
	}
	first := true
	for {
		resp := responses(ctx)
		if resp == nil {
			break
		}
		hasNext := resp.HasNext != nil && *resp.HasNext
		var body []byte
		if first {
			resp.Data = pruneDeferred(resp.Data, op)
			body = marshalResponse(resp)
			first = false
		} else {
			body = marshalResponse(struct {
				Incremental []*graphql.Response `json:"incremental"`
				HasNext     bool                `json:"hasNext"`
			}{[]*graphql.Response{resp}, hasNext})
		}
		part(body)
		if !hasNext || ctx.Err() != nil {
			break
		}
	}
	fmt.Fprintf(w, "\r\n--%s--\r\n", multipartBoundary)
}

func marshalResponse(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		// Only data that is not JSON fails, which the executor never makes.
		b, _ = json.Marshal(&graphql.Response{Errors: gqlerror.List{gqlerror.Errorf("could not encode the response: %v", err)}})
	}
	return b
}

// completeDeferred reads the deferred payloads that follow first and
// merges them into it: the one answer of a client that does not accept
// multipart/mixed.
func completeDeferred(ctx context.Context, first *graphql.Response, responses graphql.ResponseHandler) *graphql.Response {
	if first == nil || first.HasNext == nil {
		return first
	}
	var data any
	if len(first.Data) > 0 {
		dec := json.NewDecoder(bytes.NewReader(first.Data))
		dec.UseNumber()
		if err := dec.Decode(&data); err != nil {
			data = nil
		}
	}
	for more := *first.HasNext; more; {
		next := responses(ctx)
		if next == nil {
			break
		}
		more = next.HasNext != nil && *next.HasNext
		first.Errors = append(first.Errors, next.Errors...)
		if len(next.Data) == 0 || string(next.Data) == "null" {
			continue
		}
		var part map[string]any
		dec := json.NewDecoder(bytes.NewReader(next.Data))
		dec.UseNumber()
		if err := dec.Decode(&part); err != nil {
			continue
		}
		if target, ok := at(data, next.Path).(map[string]any); ok {
			for k, v := range part {
				target[k] = v
			}
		}
	}
	if b, err := json.Marshal(data); err == nil && data != nil {
		first.Data = b
	}
	first.HasNext = nil
	return first
}

// at walks path (field names and list indices) into a decoded answer.
func at(v any, path ast.Path) any {
	for _, el := range path {
		switch p := el.(type) {
		case ast.PathName:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[string(p)]
		case ast.PathIndex:
			l, ok := v.([]any)
			if !ok || int(p) < 0 || int(p) >= len(l) {
				return nil
			}
			v = l[p]
		}
	}
	return v
}

// pruneDeferred removes from the initial payload's data the fields of
// deferred fragments that are null there but cannot be null (non-null in
// the schema): gqlgen's executor writes a deferred field as null in the
// initial payload and sends its value in a later one, and a null in a
// non-null field is an error to a client that reads the initial payload
// (the proposal's initial payload leaves deferred fields out). A nullable
// field keeps its null, which may be its value; the later payload
// replaces it when it is not. Key order is kept.
func pruneDeferred(data json.RawMessage, op *ast.OperationDefinition) json.RawMessage {
	if len(data) == 0 || op == nil {
		return data
	}
	out, changed := pruneValue(data, op.SelectionSet)
	if !changed {
		return data
	}
	return out
}

// pruneValue prunes an object (or a list of them) answering set.
func pruneValue(raw json.RawMessage, set ast.SelectionSet) (json.RawMessage, bool) {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0 || len(set) == 0:
		return raw, false
	case raw[0] == '[':
		var items []json.RawMessage
		if json.Unmarshal(raw, &items) != nil {
			return raw, false
		}
		changed := false
		for i, it := range items {
			if p, c := pruneValue(it, set); c {
				items[i], changed = p, true
			}
		}
		if !changed {
			return raw, false
		}
		b, _ := json.Marshal(items)
		return b, true
	case raw[0] != '{':
		return raw, false
	}
	keys, vals, ok := objectFields(raw)
	if !ok {
		return raw, false
	}
	drop := map[string]bool{}
	sub := map[string]ast.SelectionSet{}
	var collect func(set ast.SelectionSet, deferred bool)
	collect = func(set ast.SelectionSet, deferred bool) {
		for _, sel := range set {
			switch s := sel.(type) {
			case *ast.Field:
				if deferred && s.Definition != nil && s.Definition.Type.NonNull {
					drop[s.Alias] = true
				}
				sub[s.Alias] = append(sub[s.Alias], s.SelectionSet...)
			case *ast.InlineFragment:
				collect(s.SelectionSet, deferred || s.Directives.ForName("defer") != nil)
			case *ast.FragmentSpread:
				if s.Definition != nil {
					collect(s.Definition.SelectionSet, deferred || s.Directives.ForName("defer") != nil)
				}
			}
		}
	}
	collect(set, false)
	changed := false
	var b bytes.Buffer
	b.WriteByte('{')
	first := true
	for i, k := range keys {
		v := vals[i]
		if drop[k] && string(bytes.TrimSpace(v)) == "null" {
			changed = true
			continue
		}
		if p, c := pruneValue(v, sub[k]); c {
			v, changed = p, true
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), changed
}

// objectFields splits a JSON object into its keys and raw values, in
// order.
func objectFields(raw json.RawMessage) (keys []string, vals []json.RawMessage, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, nil, false
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, nil, false
		}
		k, _ := t.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, nil, false
		}
		keys, vals = append(keys, k), append(vals, v)
	}
	return keys, vals, true
}
