package graph_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/graph"
	"github.com/partnercenter/multichannel/internal/auth"
)

// BenchmarkHostileDocuments measures the server's CPU to answer (mostly
// to refuse) the worst document of each kind, up to the 1 MiB body limit
// and just under the bounds, next to `{ __typename }` in the same run:
// cpu-ns/op is the process's CPU time (user and system, the collector's
// included) per request, and x-typename each one's over `{ __typename }`'s.
// The handler runs in this goroutine and nothing else runs in the process,
// so that is the server's CPU; unlike wall time, it does not count what
// other processes of a shared machine take (x-typename-wall is the ratio
// of wall times, and x-typename itself where CPU time is not measured).
// Run: go test -run '^$' -bench HostileDocuments -count 3 ./graph/
func BenchmarkHostileDocuments(b *testing.B) {
	// A production server, as the internet meets it. The baseline is a
	// caller's `{ __typename }`, answered; every hostile document is sent
	// without a token, as anyone may send it.
	secret := []byte("limits-test-secret-of-thirty-two-bytes")
	v := auth.NewHS256Verifier(secret)
	srv := graph.NewServer(&graph.Resolver{}, graph.Options{Verifier: v})
	h := auth.Middleware(v)(srv)
	tok, err := auth.MintHS256(secret, domain.Actor{UserID: "u1", TenantID: uuid.New(), Role: domain.RoleAdminAgent}, time.Hour, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	const mib = 1 << 20
	fill := func(prefix, unit, suffix string, size int) string {
		n := (size - len(prefix) - len(suffix)) / len(unit)
		return prefix + strings.Repeat(unit, n) + suffix
	}
	docs := []struct{ name, doc string }{
		{"typename", `{ __typename }`},
		// Up to the body limit: refused by the size bound.
		{"fields-1MiB", fill("{ ", "__typename ", "}", mib-100)},
		{"aliases-1MiB", fill("{ ", "a: __typename ", "}", mib-100)},
		{"nesting-1MiB", fill("", "{ a ", "", mib/2-100) + strings.Repeat("}", mib/8)},
		{"fragments-1MiB", fill("{ ...F } ", "fragment F on Query { __typename } ", "", mib-100)},
		{"string-1MiB", fill(`{ __type(name: "`, "x", `") { name } }`, mib-100)},
		{"directives-1MiB", fill("{ __typename ", "@include(if: true) ", "}", mib-100)},
		{"variables-1MiB", fill("query(", "$v: Int ", ") { __typename }", mib-100)},
		// Just under the bounds: they reach the parser and validation.
		{"fields-under-selections", "{ " + names("f", graph.DefaultMaxSelections) + "}"},
		{"same-field-10", "{ " + strings.Repeat("__typename ", 10) + "}"},
		{"same-field-nested-under-bounds", "{ " + strings.Repeat("customer(id: \"x\") { "+strings.Repeat("id ", 10)+names("f", 190)+"} ", 10) + "}"},
		{"repeats-at-every-level", nestedRepeats(3)},
		{"aliases-under-selections", "{ " + strings.ReplaceAll(names("a", graph.DefaultMaxSelections), " ", ": __typename ") + "}"},
		{"nesting-under-tokens", strings.Repeat("{ a ", graph.DefaultMaxTokens/3-1) + strings.Repeat("}", graph.DefaultMaxTokens/3-1)},
		{"fragments-under-selections", "{ " + strings.Repeat("...F ", graph.DefaultMaxSelections-1) + "} fragment F on Query { __typename }"},
		{"spread-pairs-under-selections", spreads(graph.DefaultMaxSelections - 1)},
		{"string-under-bytes", fill(`{ __type(name: "`, "x", `") { name } }`, graph.DefaultMaxDocumentBytes-100)},
		{"directives-under-tokens", "{ __typename " + strings.Repeat("@include(if: true) ", graph.DefaultMaxTokens/7-1) + "}"},
		{"variables-under-tokens", "query(" + strings.Repeat("$v: Int ", graph.DefaultMaxTokens/4-5) + ") { __typename }"},
		// The same kinds, each repeat its own: validation reports every one.
		{"distinct-variables-under-tokens", "query(" + strings.ReplaceAll(names("$v", graph.DefaultMaxTokens/4-5), " ", ": Int ") + ") { __typename }"},
		{"distinct-directives-under-tokens", "{ __typename " + strings.ReplaceAll(names("@d", graph.DefaultMaxTokens/2-5), " ", " ") + "}"},
		{"arguments-under-tokens", "{ __typename(" + strings.ReplaceAll(names("a", graph.DefaultMaxTokens/3-5), " ", ": 1 ") + ") }"},
		{"repeated-arguments-under-tokens", `{ customer(id: "x"` + strings.Repeat(`, id: "x"`, graph.DefaultMaxTokens/3-5) + ") { id } }"},
		{"list-nesting-under-tokens", "{ __typename(a: " + strings.Repeat("[", graph.DefaultMaxTokens/2-5) + strings.Repeat("]", graph.DefaultMaxTokens/2-5) + ") }"},
		{"undefined-variables-under-tokens", "{ events(filter: {types: [" + strings.Repeat("$x, ", graph.DefaultMaxTokens/2-10) + "]}) { totalCount } }"},
		// Values of the wrong type, each an error of its own.
		{"wrong-values-under-tokens", "{ events(filter: {types: [" + strings.Repeat("1, ", graph.DefaultMaxTokens-20) + "]}) { totalCount } }"},
		{"wrong-list-under-tokens", "{ events(first: [" + strings.Repeat(`"a", `, graph.DefaultMaxTokens-20) + "]) { totalCount } }"},
		// A valid document as large as the bounds let it be, sent without
		// a token: refused before it is parsed and validated (it would
		// cost a hundred times the baseline).
		{"string-list-under-tokens", "{ events(filter: {types: [" + strings.Repeat(`"a", `, graph.DefaultMaxTokens-20) + "]}) { totalCount } }"},
		// A string the JSON body escapes byte by byte.
		{"escaped-string-under-bytes", fill(`{ __type(name: "`, "\t", `") { name } }`, graph.DefaultMaxDocumentBytes-100)},
	}
	// The kinds whose requests each send a text of their own (a comment
	// numbers it), so that gqlgen's cache of parsed documents (1,000 of
	// them) never holds it: a valid document is parsed and validated once
	// per text, and a hostile client varies its text.
	distinct := map[string]bool{"string-list-under-tokens": true}
	var base, baseWall float64
	for _, d := range docs {
		bodies := make([][]byte, 1)
		if distinct[d.name] {
			bodies = make([][]byte, 1100)
		}
		for i := range bodies {
			doc := d.doc
			if distinct[d.name] {
				doc = "# " + itoa(i) + "\n" + doc
			}
			bodies[i], _ = json.Marshal(map[string]any{"query": doc})
		}
		b.Run(d.name, func(b *testing.B) {
			b.ReportAllocs()
			start, cpuStart := time.Now(), processCPU()
			i := 0
			for b.Loop() {
				body := bodies[i%len(bodies)]
				i++
				req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				if d.name == "typename" {
					req.Header.Set("Authorization", "Bearer "+tok)
				}
				h.ServeHTTP(httptest.NewRecorder(), req)
			}
			wall := float64(time.Since(start).Nanoseconds()) / float64(b.N)
			cpu := float64((processCPU() - cpuStart).Nanoseconds()) / float64(b.N)
			if cpu <= 0 {
				cpu = wall
			} else {
				b.ReportMetric(cpu, "cpu-ns/op")
			}
			if d.name == "typename" {
				base, baseWall = cpu, wall
			}
			if base > 0 {
				b.ReportMetric(cpu/base, "x-typename")
				b.ReportMetric(wall/baseWall, "x-typename-wall")
			}
		})
	}
}

// spreads is a document spreading n distinct fragments in one set, which
// validation compares pairwise.
func spreads(n int) string {
	var s strings.Builder
	s.WriteString("{ ")
	for i := range n {
		s.WriteString("...F" + itoa(i) + " ")
	}
	s.WriteString("}")
	for i := range n {
		s.WriteString(" fragment F" + itoa(i) + " on Query { __typename }")
	}
	return s.String()
}

func itoa(i int) string { return strconv.Itoa(i) }

func names(prefix string, n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(prefix + itoa(i) + " ")
	}
	return b.String()
}

// nestedRepeats is 10 copies of a field at each of depth levels.
func nestedRepeats(depth int) string {
	s := strings.Repeat("id ", 10)
	for range depth {
		s = strings.Repeat("customer(id: \"x\") { "+s+"} ", 10)
	}
	return "{ " + s + "}"
}
