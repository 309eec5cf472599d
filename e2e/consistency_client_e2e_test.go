package e2e

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
)

// TestConsistencyLinkApolloClient runs the Apollo Client link that
// docs/frontend.md gives frontend teams (clients/consistency-link.mjs holds
// the same code): after a mutation, the next request carries the token
// the mutation answered, and the first carried none.
func TestConsistencyLinkApolloClient(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := nodeScript(t, ctx, "consistency-link.mjs")
	ts := startServer(t)
	w := newWorld(t, ts)
	vars, _ := json.Marshal(map[string]any{"in": map[string]any{
		"customerId": w.c.String(), "offer": "link", "billingModel": "USAGE_BASED", "channel": "OPEN", "quantity": 1}})
	cmd.Env = append(os.Environ(), "GRAPHQL_URL="+ts.url+"/graphql", "GRAPHQL_TOKEN="+w.cGA.token,
		"MUTATION="+mRecordOffer, "MUTATION_VARIABLES="+string(vars), "QUERY={ viewer { role } }")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("consistency-link.mjs: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var got struct {
		Answered *string
		Sent     []*string
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if got.Answered == nil || !strings.HasPrefix(*got.Answered, "ct1.") {
		t.Fatalf("the mutation answered no token to the link: %s", out)
	}
	if len(got.Sent) != 2 || got.Sent[0] != nil || got.Sent[1] == nil || *got.Sent[1] != *got.Answered {
		t.Fatalf("headers sent %s, want none on the mutation and %s on the query", out, *got.Answered)
	}
}
