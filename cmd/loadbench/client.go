package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
)

// requestTimeout bounds one request: far above any latency worth
// measuring, it only keeps a stuck server from hanging the run.
const requestTimeout = 30 * time.Second

// newHTTPClient returns a client tuned for many concurrent requests to one
// host: every client keeps its connection alive (idle connections per host
// above the number of clients, so none is closed between two requests),
// HTTP/1.1 as most GraphQL clients speak it, and no compression, which
// would only spend the shared CPU on both sides.
func newHTTPClient(clients int) *http.Client {
	idle := 2 * clients
	if idle < 64 {
		idle = 64
	}
	tr := &http.Transport{
		Proxy: nil, // loopback, whatever HTTP_PROXY says
		DialContext: (&net.Dialer{
			Timeout:   5 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		MaxIdleConns:        idle,
		MaxIdleConnsPerHost: idle,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
	return &http.Client{Transport: tr, Timeout: requestTimeout}
}

// StatusError is an answer other than 200 OK.
type StatusError struct {
	Status int
	Body   string // the start of the body
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("HTTP %d: %s", e.Status, e.Body)
}

// GraphQLError is a 200 answer that carries GraphQL errors.
type GraphQLError struct {
	Errors []gqlError
}

type gqlError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path,omitempty"`
	Extensions map[string]any `json:"extensions,omitempty"`
}

func (e *GraphQLError) Error() string {
	var b strings.Builder
	b.WriteString("GraphQL error")
	for i, ge := range e.Errors {
		if i == 3 {
			fmt.Fprintf(&b, "; and %d more", len(e.Errors)-i)
			break
		}
		if i > 0 {
			b.WriteString(";")
		}
		fmt.Fprintf(&b, " %s", ge.Message)
		if code, ok := ge.Extensions["code"]; ok {
			fmt.Fprintf(&b, " (%v)", code)
		}
	}
	return b.String()
}

// gqlClient posts GraphQL requests to one endpoint.
type gqlClient struct {
	http *http.Client
	url  string // .../graphql
}

// encodeRequest returns a GraphQL POST body.
func encodeRequest(query string, vars map[string]any) ([]byte, error) {
	b, err := json.Marshal(struct {
		Query     string         `json:"query"`
		Variables map[string]any `json:"variables,omitempty"`
	}{query, vars})
	if err != nil {
		return nil, fmt.Errorf("encode request: %w", err)
	}
	return b, nil
}

// post sends body with token and Idempotency-Key (none when empty), reads the answer into buf
// (reset first, so that a worker reuses one buffer) and checks it: 200 and
// no GraphQL errors.
func (c *gqlClient) post(ctx context.Context, token, key string, body []byte, buf *bytes.Buffer) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	buf.Reset()
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		return fmt.Errorf("read the answer: %w", err)
	}
	return checkAnswer(resp.StatusCode, buf.Bytes())
}

// checkAnswer fails a non-200 status or an answer with GraphQL errors.
func checkAnswer(status int, body []byte) error {
	if status != http.StatusOK {
		const max = 300
		s := string(body)
		if len(s) > max {
			s = s[:max] + "..."
		}
		return &StatusError{Status: status, Body: strings.TrimSpace(s)}
	}
	// Decoding every answer would spend the CPU the server shares with
	// the clients; only an answer that may carry errors is decoded.
	if !bytes.Contains(body, []byte(`"errors"`)) {
		return nil
	}
	var a struct {
		Errors []gqlError `json:"errors"`
	}
	if err := json.Unmarshal(body, &a); err != nil {
		return fmt.Errorf("decode the answer: %w", err)
	}
	if len(a.Errors) > 0 {
		return &GraphQLError{Errors: a.Errors}
	}
	return nil
}

// do sends one request and decodes its data into out (when not nil): the
// setup's path, where clarity beats speed.
func (c *gqlClient) do(ctx context.Context, token, query string, vars map[string]any, out any) error {
	body, err := encodeRequest(query, vars)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := c.post(ctx, token, "", body, &buf); err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	var a struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(buf.Bytes(), &a); err != nil {
		return fmt.Errorf("decode the answer: %w", err)
	}
	if err := json.Unmarshal(a.Data, out); err != nil {
		return fmt.Errorf("decode the answer's data: %w", err)
	}
	return nil
}
