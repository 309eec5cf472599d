package graph_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/partnercenter/multichannel/graph"
)

// countingReader counts the bytes the server read of a body.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// postCounting sends body to h and returns the answer's first error code
// and how much of the body h read.
func postCounting(t *testing.T, h http.Handler, body string) (string, int) {
	t.Helper()
	cr := &countingReader{r: strings.NewReader(body)}
	req := httptest.NewRequest(http.MethodPost, "/graphql", cr)
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var out struct {
		Errors []struct {
			Extensions map[string]any `json:"extensions"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatalf("answer is not JSON: %q", rec.Body.String())
	}
	if len(out.Errors) == 0 {
		return "", cr.n
	}
	code, _ := out.Errors[0].Extensions["code"].(string)
	if _, ok := out.Errors[0].Extensions["correlationId"]; !ok {
		t.Fatalf("error without a correlation id: %q", rec.Body.String())
	}
	return code, cr.n
}

// A body whose query passes MAX_DOCUMENT_BYTES is refused while it is
// read: the server reads about the bound of it, not the whole 1 MiB, and
// decodes none of it.
func TestPostStopsReadingAQueryOverTheBound(t *testing.T) {
	t.Parallel()
	h := graph.NewServer(&graph.Resolver{}, graph.Options{Development: true})
	doc := "{ " + strings.Repeat("__typename ", (1<<20)/11) + "}"
	body, _ := json.Marshal(map[string]any{"query": doc})
	code, read := postCounting(t, h, string(body))
	if code != graph.CodeComplexityLimitExceeded {
		t.Fatalf("code %q, want %s", code, graph.CodeComplexityLimitExceeded)
	}
	if limit := graph.DefaultMaxDocumentBytes + 64<<10; read > limit {
		t.Fatalf("read %d bytes of a %d-byte body, want at most %d", read, len(body), limit)
	}
	// Members before the query are skipped over, strings and nesting alike.
	body2 := `{"operationName": "x}\"{", "extensions": {"a": [1, {"b": "}"}]}, "query": "` + doc + `"}`
	if code, read := postCounting(t, h, body2); code != graph.CodeComplexityLimitExceeded || read > graph.DefaultMaxDocumentBytes+64<<10 {
		t.Fatalf("after other members: code %q, read %d", code, read)
	}
}

// The bound is on the decoded text, as the document bounds count it: an
// escape counts the bytes it decodes to, so a document at the bound
// passes the transport whatever its spelling.
func TestPostCountsTheDecodedQuery(t *testing.T) {
	t.Parallel()
	const limit = 100
	h := graph.NewServer(&graph.Resolver{}, graph.Options{Development: true, MaxDocumentBytes: limit})
	// "{ __typename }" (14 bytes), a comment of é (2 bytes each, as
	// \u00e9: 6 in the body), a \n, and padding to exactly the limit.
	base := `{ __typename } #` + strings.Repeat(`\u00e9`, 20) + `\n`
	decoded := 16 + 40 + 1
	atLimit := base + strings.Repeat(" ", limit-decoded)
	if code, _ := postCounting(t, h, `{"query": "`+atLimit+`"}`); code != "" {
		t.Fatalf("a document of exactly %d bytes: %q", limit, code)
	}
	if code, _ := postCounting(t, h, `{"query": "`+atLimit+` "}`); code != graph.CodeComplexityLimitExceeded {
		t.Fatalf("a document of %d bytes: %q", limit+1, code)
	}
	// Not an object, or not JSON: the decoder's refusal, as before.
	for _, body := range []string{`[1]`, `"x"`, `{"query": 1}`, `{`} {
		if code, _ := postCounting(t, h, body); code != "BAD_USER_INPUT" {
			t.Errorf("%s: %q, want BAD_USER_INPUT", body, code)
		}
	}
}
