package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/eventstore"
	"github.com/partnercenter/multichannel/internal/auth"
)

// The measured documents select what a client's page shows, so that the
// figure includes the read model's lookups and the answer's encoding.
const (
	customerQuery = `query Customer($id: ID!) { customer(id: $id) { id name domain cloud isCspPartner
  subscriptions { id offer billingModel channel sellerPartnerId quantity status createdAt termEndsAt cancelledAt
    services { id name status } } } }`
	eventsQuery = `query Events($first: Int) { events(first: $first) {
  edges { cursor node { id stream revision position type schemaVersion recordedAt
    actor { userId tenantId role } correlationId causationId } }
  pageInfo { hasNextPage endCursor } totalCount } }`
	// customersQuery lists the partner's first customers, to pick the
	// measured one (not timed).
	customersQuery = `query Customers { customers(first: 100) { edges { node { id subscriptions { id } } } } }`
)

// tokenTTL outlives any run.
const tokenTTL = 12 * time.Hour

// requestTimeout bounds one request: far above any latency worth
// measuring, it only keeps a stuck server from hanging the run.
const requestTimeout = 30 * time.Second

// fixture is what the queries ask about: a partner of the generated log
// and one of its customers, chosen by what the log holds (see pick).
type fixture struct {
	Partner, Customer uuid.UUID
	// Subscriptions is how many subscriptions the answer about the
	// customer lists; PartnerEvents the events page's totalCount, the
	// events the partner sees.
	Subscriptions, PartnerEvents int
}

// latency is a query's client-side latency over loopback.
type latency struct{ P50, P99 time.Duration }

// client posts GraphQL requests to one server over one kept-alive
// connection, as the partner's Global admin.
type client struct {
	http  *http.Client
	url   string
	token string
}

func newClient(s *server, partner uuid.UUID) (*client, error) {
	a := domain.Actor{UserID: "growthbench-admin", TenantID: partner, Role: domain.RoleGlobalAdmin}
	tok, err := auth.MintHS256(s.secret, a, tokenTTL, time.Now())
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 2, DisableCompression: true}
	return &client{http: &http.Client{Transport: tr, Timeout: requestTimeout}, url: s.url + "/graphql", token: tok}, nil
}

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

// post sends body, reads the whole answer into buf and returns how long
// that took; an answer other than 200 without GraphQL errors fails.
func (c *client) post(ctx context.Context, body []byte, buf *bytes.Buffer) (time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.token)
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	buf.Reset()
	_, err = buf.ReadFrom(resp.Body)
	d := time.Since(start)
	resp.Body.Close()
	if err != nil {
		return 0, fmt.Errorf("read the answer: %w", err)
	}
	return d, checkAnswer(resp.StatusCode, buf.Bytes())
}

// checkAnswer fails a status other than 200 and an answer with GraphQL
// errors.
func checkAnswer(status int, body []byte) error {
	if status != http.StatusOK {
		s := string(body)
		if len(s) > 300 {
			s = s[:300] + "..."
		}
		return fmt.Errorf("HTTP %d: %s", status, strings.TrimSpace(s))
	}
	// Decoding every answer would spend CPU the server shares with this
	// process; only one that may carry errors is decoded.
	if !bytes.Contains(body, []byte(`"errors"`)) {
		return nil
	}
	var a struct {
		Errors []struct {
			Message    string         `json:"message"`
			Extensions map[string]any `json:"extensions"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(body, &a); err != nil {
		return fmt.Errorf("decode the answer: %w", err)
	}
	if len(a.Errors) > 0 {
		return fmt.Errorf("GraphQL error: %s (%v)", a.Errors[0].Message, a.Errors[0].Extensions["code"])
	}
	return nil
}

// do sends one request and decodes its data into out.
func (c *client) do(ctx context.Context, query string, vars map[string]any, out any) error {
	body, err := encodeRequest(query, vars)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if _, err := c.post(ctx, body, &buf); err != nil {
		return err
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

// pickPartner is the first partner of the public cloud to enroll: nine
// partners in ten are in it (audit.Generate), so it is a typical one at
// every size.
func pickPartner(first []eventstore.RecordedEvent) (uuid.UUID, error) {
	for _, e := range first {
		if e.Type != domain.TypePartnerEnrolled {
			continue
		}
		var p domain.PartnerEnrolled
		if err := json.Unmarshal(e.Data, &p); err != nil {
			return uuid.Nil, fmt.Errorf("decode %s at %s: %w", e.Type, e.Stream, err)
		}
		if p.Cloud == domain.CloudPublic {
			return p.PartnerID, nil
		}
	}
	return uuid.Nil, errors.New("no partner of the public cloud among the log's first events")
}

// pick chooses the measured customer: among the partner's first 100
// customers, the one the partner sees the most subscriptions of (the
// ones it onboarded or holds an accepted relationship with show them
// all). It also checks that both queries answer what the log holds.
func pick(ctx context.Context, c *client, partner uuid.UUID, page int) (fixture, error) {
	f := fixture{Partner: partner}
	var cs struct {
		Customers struct {
			Edges []struct {
				Node struct {
					ID            string
					Subscriptions []struct{ ID string }
				}
			}
		}
	}
	if err := c.do(ctx, customersQuery, nil, &cs); err != nil {
		return f, fmt.Errorf("list the partner's customers: %w", err)
	}
	for _, e := range cs.Customers.Edges {
		if n := len(e.Node.Subscriptions); n > f.Subscriptions {
			id, err := uuid.Parse(e.Node.ID)
			if err != nil {
				return f, fmt.Errorf("customer id %q: %w", e.Node.ID, err)
			}
			f.Customer, f.Subscriptions = id, n
		}
	}
	if f.Customer == uuid.Nil {
		return f, fmt.Errorf("partner %s sees no customer with a subscription", partner)
	}
	var cu struct {
		Customer *struct {
			ID            string
			Subscriptions []struct{ ID string }
		}
	}
	if err := c.do(ctx, customerQuery, map[string]any{"id": f.Customer.String()}, &cu); err != nil {
		return f, fmt.Errorf("read the customer: %w", err)
	}
	if cu.Customer == nil || len(cu.Customer.Subscriptions) != f.Subscriptions {
		return f, fmt.Errorf("customer %s: got %+v, want %d subscriptions", f.Customer, cu.Customer, f.Subscriptions)
	}
	var ev struct {
		Events struct {
			Edges      []struct{ Cursor string }
			TotalCount int
		}
	}
	if err := c.do(ctx, eventsQuery, map[string]any{"first": page}, &ev); err != nil {
		return f, fmt.Errorf("read the partner's events: %w", err)
	}
	if len(ev.Events.Edges) != min(page, ev.Events.TotalCount) || ev.Events.TotalCount == 0 {
		return f, fmt.Errorf("the partner's events page has %d edges of %d events", len(ev.Events.Edges), ev.Events.TotalCount)
	}
	f.PartnerEvents = ev.Events.TotalCount
	return f, nil
}

// measureQueries picks each log's fixture and times both queries on
// every server (rows[i] is servers[i]'s log), o.Runs times. The requests
// go one at a time, interleaved across the servers: request k of every
// log is sent before request k+1 of any, so that what else runs on the
// machine meanwhile weighs on every size alike and the p99 ratios between
// sizes hold under that noise. Each query is sent o.Warmup times
// untimed, then o.Queries times timed; the rows get the medians over the
// runs of each run's p50 and p99.
func measureQueries(ctx context.Context, o options, servers []*server, rows []row) error {
	clients := make([]*client, len(servers))
	cust := make([][]byte, len(servers))
	evs, err := encodeRequest(eventsQuery, map[string]any{"first": o.Page})
	if err != nil {
		return err
	}
	for i, s := range servers {
		c, err := newClient(s, rows[i].partner)
		if err != nil {
			return err
		}
		defer c.http.CloseIdleConnections()
		if rows[i].Fixture, err = pick(ctx, c, rows[i].partner, o.Page); err != nil {
			return fmt.Errorf("%d events: %w", rows[i].Events, err)
		}
		if cust[i], err = encodeRequest(customerQuery, map[string]any{"id": rows[i].Fixture.Customer.String()}); err != nil {
			return err
		}
		clients[i] = c
	}
	gc0 := make([]int64, len(servers))
	for i, s := range servers {
		if gc0[i], err = s.gcCount(ctx); err != nil {
			return err
		}
	}
	custRuns := make([][]latency, len(servers))
	evRuns := make([][]latency, len(servers))
	for range o.Runs {
		ls, err := timeInterleaved(ctx, clients, cust, o.Warmup, o.Queries)
		if err != nil {
			return fmt.Errorf("customer(id): %w", err)
		}
		for i, l := range ls {
			custRuns[i] = append(custRuns[i], l)
		}
		bodies := make([][]byte, len(servers))
		for i := range bodies {
			bodies[i] = evs
		}
		if ls, err = timeInterleaved(ctx, clients, bodies, o.Warmup, o.Queries); err != nil {
			return fmt.Errorf("events page: %w", err)
		}
		for i, l := range ls {
			evRuns[i] = append(evRuns[i], l)
		}
	}
	for i, s := range servers {
		rows[i].Customer, rows[i].EventsPage = medianLatency(custRuns[i]), medianLatency(evRuns[i])
		gc, err := s.gcCount(ctx)
		if err != nil {
			return err
		}
		rows[i].QueryGCs = gc - gc0[i]
	}
	return nil
}

// timeInterleaved sends bodies[i] to clients[i], round after round (one
// request of each client per round), warmup rounds untimed and then n
// timed, and returns each client's p50 and p99.
func timeInterleaved(ctx context.Context, clients []*client, bodies [][]byte, warmup, n int) ([]latency, error) {
	var buf bytes.Buffer
	ds := make([][]time.Duration, len(clients))
	for round := range warmup + n {
		for i, c := range clients {
			d, err := c.post(ctx, bodies[i], &buf)
			if err != nil {
				return nil, err
			}
			if round >= warmup {
				ds[i] = append(ds[i], d)
			}
		}
	}
	out := make([]latency, len(clients))
	for i, d := range ds {
		slices.Sort(d)
		out[i] = latency{P50: percentile(d, 0.50), P99: percentile(d, 0.99)}
	}
	return out, nil
}

func medianLatency(ls []latency) latency {
	p50s, p99s := make([]time.Duration, len(ls)), make([]time.Duration, len(ls))
	for i, l := range ls {
		p50s[i], p99s[i] = l.P50, l.P99
	}
	return latency{P50: median(p50s), P99: median(p99s)}
}

// percentile is the nearest-rank percentile of sorted durations.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
