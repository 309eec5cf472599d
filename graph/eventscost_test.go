package graph_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/partnercenter/multichannel/graph"
)

// TestEventsComplexityCountsThePass: each `events` is a pass over what the
// caller may see (the whole log for an auditor with a filter), so a
// document cannot repeat it thirty times under the default budget, while
// one page, or a dozen, still runs.
func TestEventsComplexityCountsThePass(t *testing.T) {
	t.Parallel()
	api := newAuditAPI(t, 200)
	doc := func(n int) string {
		var b strings.Builder
		b.WriteString("{ ")
		for i := range n {
			fmt.Fprintf(&b, "e%d: events(first: 1, filter: {types: [\"CustomerOnboarded\"]}) { totalCount } ", i)
		}
		b.WriteString("}")
		return b.String()
	}
	if r := api.do(theAuditor, doc(30), nil); code(r) != graph.CodeComplexityLimitExceeded {
		t.Errorf("30 events passes in one document: %+v", r.Errors)
	}
	if r := api.do(theAuditor, doc(12), nil); len(r.Errors) != 0 {
		t.Errorf("12 events passes in one document: %+v", r.Errors)
	}
	q := `{ events(first: 100) { totalCount edges { node { id type data } } } }`
	if r := api.do(theAuditor, q, nil); len(r.Errors) != 0 {
		t.Errorf("a full page of events: %+v", r.Errors)
	}
}
