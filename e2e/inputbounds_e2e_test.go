package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// Hostile input through the whole server: strings and lists over their
// bounds, Ints outside 32 bits, instants outside the years 1 to 9999, and
// several mutation fields under one Idempotency-Key are refused with their
// codes, and nothing is written.
func TestHostileInputWritesNothing(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	w := newWorld(t, ts)
	long := func(n int) string { return strings.Repeat("x", n) }
	services := func(n int) []any {
		s := make([]any, n)
		for i := range s {
			s[i] = map[string]any{"name": "svc"}
		}
		return s
	}
	usage := func(over map[string]any) map[string]any {
		in := map[string]any{"customerId": w.c.String(), "offer": "Azure plan", "billingModel": "USAGE_BASED", "channel": "OPEN", "quantity": 1}
		for k, v := range over {
			in[k] = v
		}
		return map[string]any{"in": in}
	}
	before := ts.eventCount(w.auditor)
	for _, tc := range []struct {
		name, code, query string
		vars              map[string]any
		caller            *user
	}{
		{"partner name of 257", "BAD_USER_INPUT", mEnroll, map[string]any{"in": map[string]any{"name": long(257), "cloud": "PUBLIC"}}, ts.user(uuid.New(), "GLOBAL_ADMIN")},
		{"customer name of 900,000", "BAD_USER_INPUT", mOnboard, map[string]any{"in": map[string]any{"name": long(900_000), "domain": "a.example.com", "cloud": "PUBLIC"}}, w.aSales},
		{"domain of 254", "BAD_USER_INPUT", mOnboard, map[string]any{"in": map[string]any{"name": "N", "domain": long(250) + ".com", "cloud": "PUBLIC"}}, w.aSales},
		{"offer of 257", "BAD_USER_INPUT", mRecord, usage(map[string]any{"offer": long(257)}), w.cGA},
		{"501 services", "BAD_USER_INPUT", mRecord, usage(map[string]any{"services": services(501)}), w.cGA},
		{"service name of 257", "BAD_USER_INPUT", mRecord, usage(map[string]any{"services": []any{map[string]any{"name": long(257)}}}), w.cGA},
		{"message of 2001", "BAD_USER_INPUT", mRequest, map[string]any{"in": map[string]any{"customerId": w.c.String(), "message": long(2001)}}, w.bGA},
		{"quantity 2^31", "GRAPHQL_VALIDATION_FAILED", mRecord, usage(map[string]any{"quantity": json.Number("2147483648")}), w.cGA},
		{"quantity 2^53+1", "GRAPHQL_VALIDATION_FAILED", mRecord, usage(map[string]any{"quantity": json.Number("9007199254740993")}), w.cGA},
		{"termEndsAt in year -1", "BAD_USER_INPUT", mRecord, usage(map[string]any{"billingModel": "LICENSE_BASED", "termEndsAt": "-0001-06-01T00:00:00Z"}), w.cGA},
		{"termEndsAt after 9999", "BAD_USER_INPUT", mRecord, usage(map[string]any{"billingModel": "LICENSE_BASED", "termEndsAt": "9999-12-31T23:30:00-01:00"}), w.cGA},
		{"termEndsAt not a time", "BAD_USER_INPUT", mRecord, usage(map[string]any{"billingModel": "LICENSE_BASED", "termEndsAt": "next year"}), w.cGA},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := *tc.caller
			u.ts = ts.forTest(t)
			r := u.do(tc.query, tc.vars)
			if r.code() != tc.code {
				t.Fatalf("code %q, want %s: %.300v", r.code(), tc.code, r.Errors)
			}
		})
	}
	// The same bounds hold at the limits themselves.
	w.aSales.ok(nil, mOnboard, map[string]any{"in": map[string]any{"name": long(256), "domain": "edge.example.com", "cloud": "PUBLIC"}})
	if got := ts.eventCount(w.auditor); got != before+1 {
		t.Fatalf("refused input wrote %d events", got-before-1)
	}

	// Filters: strings and lists over their bounds.
	for q, vars := range map[string]map[string]any{
		`query($s: String) { events(filter: {stream: $s}) { totalCount } }`:              {"s": long(257)},
		`query($t: [String!]) { events(filter: {types: $t}) { totalCount } }`:            {"t": make([]string, 101)},
		`query($n: String) { customers(filter: {nameContains: $n}) { totalCount } }`:     {"n": long(257)},
		`query($u: ID) { events(filter: {actorUserId: $u}) { totalCount } }`:             {"u": long(257)},
		`query($at: Time!) { customerAsOf(id: "` + w.c.String() + `", at: $at) { id } }`: {"at": "2026-12-03"},
	} {
		if r := w.auditor.do(q, vars); r.code() != "BAD_USER_INPUT" {
			t.Errorf("%s: %q %+v", q, r.code(), r.Errors)
		}
	}

	// Several mutation fields under one Idempotency-Key: nothing runs.
	before = ts.eventCount(w.auditor)
	d, e := uuid.New(), uuid.New()
	two := `mutation { a: onboardCustomer(input: {id: "` + d.String() + `", name: "D", domain: "d.example.com", cloud: PUBLIC}) { id } b: onboardCustomer(input: {id: "` + e.String() + `", name: "E", domain: "e.example.com", cloud: PUBLIC}) { id } }`
	r := w.aSales.do(two, nil, "Idempotency-Key", "k2")
	if r.code() != "BAD_USER_INPUT" || !strings.Contains(r.Errors[0].Message, "Idempotency-Key") {
		t.Fatalf("two mutation fields under one key: %q %+v", r.code(), r.Errors)
	}
	if got := ts.eventCount(w.auditor); got != before {
		t.Fatalf("refused document wrote %d events", got-before)
	}
	// Every error carries the request's correlation id, the one the
	// response's header echoes.
	corr := uuid.NewString()
	r = w.aSales.do(two, nil, "Idempotency-Key", "k2", "X-Correlation-ID", corr)
	if got := r.Errors[0].Extensions["correlationId"]; got != corr || r.header.Get("X-Correlation-ID") != corr {
		t.Errorf("correlationId %v, header %q, want %s", got, r.header.Get("X-Correlation-ID"), corr)
	}
	// Without a key the same document runs both.
	w.aSales.ok(nil, two, nil)
}

// A NOT_ELIGIBLE refusal says what applies instead, in Partner Center's
// words, and carries the correlation id.
func TestNotEligibleInPartnerCentersWords(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	w := newWorld(t, ts)
	sub := w.record(w.c, "LICENSE_BASED", "OPEN", nil, ptr(time.Now().Add(24*time.Hour)))
	r := w.aSales.refused("NOT_ELIGIBLE", mSwitch, map[string]any{"id": sub.ID})
	m := r.Errors[0].Message
	if strings.Contains(m, "LICENSE_FROM_OTHER_CHANNEL") || strings.Contains(m, "row") || !strings.Contains(m, "reseller relationship") {
		t.Errorf("message %q", m)
	}
	if _, err := uuid.Parse(fmt.Sprint(r.Errors[0].Extensions["correlationId"])); err != nil {
		t.Errorf("no correlation id: %v", r.Errors[0].Extensions)
	}
}

// A body over the limit is HTTP 413 with a GraphQL error that has a code
// and the correlation id, as every refusal of the API has.
func TestBodyLimitRefusalHasCode(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	body := `{"query":"{ viewer { userId } }` + strings.Repeat(" ", 1<<20) + `"}`
	resp, err := http.Post(ts.url+"/graphql", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out gqlResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("HTTP %d: %v", resp.StatusCode, err)
	}
	if resp.StatusCode != http.StatusRequestEntityTooLarge || out.code() != "BAD_USER_INPUT" ||
		out.Errors[0].Extensions["correlationId"] != resp.Header.Get("X-Correlation-ID") {
		t.Errorf("HTTP %d %+v", resp.StatusCode, out.Errors)
	}
}
