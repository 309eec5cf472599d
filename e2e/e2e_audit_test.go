package e2e

import (
	"bufio"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/partnercenter/multichannel/domain"
)

// testAuditExport: GET /audit/export streams the log as NDJSON to auditors
// only (401 without a token, 403 for other roles).
func testAuditExport(t *testing.T, ts *testServer) {
	w := newWorld(t, ts)
	get := func(u *user, query string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, ts.url+"/audit/export"+query, nil)
		if u != nil && u.token != "" {
			req.Header.Set("Authorization", "Bearer "+u.token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	if r := get(nil, ""); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no token: HTTP %d", r.StatusCode)
	}
	if r := get(w.aGA, ""); r.StatusCode != http.StatusForbidden {
		t.Fatalf("a partner: HTTP %d", r.StatusCode)
	}
	if r := get(ts.user(w.a, domain.RoleAuditor), "?fromPosition=zzz"); r.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad position: HTTP %d", r.StatusCode)
	}
	r := get(ts.user(w.a, domain.RoleAuditor), "?stream=customer-"+w.c.String())
	if r.StatusCode != http.StatusOK || r.Header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("auditor: HTTP %d %s", r.StatusCode, r.Header.Get("Content-Type"))
	}
	var lines []map[string]any
	sc := bufio.NewScanner(r.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		lines = append(lines, m)
	}
	if len(lines) != 1 || lines[0]["type"] != domain.TypeCustomerOnboarded || lines[0]["stream"] != "customer-"+w.c.String() {
		t.Fatalf("exported %v", lines)
	}
}
