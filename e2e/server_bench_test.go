package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/cmd/loadbench/requests"
	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/internal/app"
	"github.com/partnercenter/multichannel/internal/auth"
)

// BenchmarkServer drives the server's root handler in process, without
// sockets or a client, so that its figures (and -cpuprofile, -memprofile)
// are the server's own cost per request: the HTTP handler chain, GraphQL,
// the command side and the store, with the operational features on (the
// production defaults) and off. loadbench measures the same requests over
// loopback; this is the tool for finding where their time goes.
//
//	go test -run '^$' -bench 'Server/query/(on|off)' -benchmem ./e2e
//
// cpu-µs/op is the CPU the process spent per request (see reportCPU), the
// steadiest figure for comparing two versions of the code.
//
// GOGC is the runtime's default here unless set: the server's main sets
// its own (see app.TuneGC), so compare with GOGC=400 for the server's figures.
func BenchmarkServer(b *testing.B) {
	sides := []struct {
		name string
		args []string
	}{
		{"on", nil},
		{"off", []string{"-metrics=false", "-request-log=false", "-limits=false"}},
		// One feature off at a time: what each costs.
		{"no-metrics", []string{"-metrics=false"}},
		{"no-log", []string{"-request-log=false"}},
		{"no-limits", []string{"-limits=false"}},
	}
	for _, side := range sides {
		b.Run("query/"+side.name, func(b *testing.B) {
			bs := startBenchServer(b, side.args)
			bs.measure(b, bs.body(requests.Partner, map[string]any{"id": bs.partner.String()}), 1)
		})
		b.Run("mutation/"+side.name, func(b *testing.B) {
			bs := startBenchServer(b, side.args)
			// 64 requests in flight, as loadbench's clients: appends commit
			// in groups.
			bs.measure(b, bs.body(requests.Record, map[string]any{"in": requests.RecordInput(bs.customer)}),
				max(1, 64/runtime.GOMAXPROCS(0)))
		})
	}
}

// BenchmarkConsistencyToken is what an X-Consistency-Token costs a query
// when the server has already applied its position (the usual case: the
// token comes from a write some milliseconds ago), against the same query
// without one, on one server in one run:
//
//	go test -run '^$' -bench ConsistencyToken -count 5 ./e2e
func BenchmarkConsistencyToken(b *testing.B) {
	bs := startBenchServer(b, nil)
	w := bs.post(b, bs.customerAdmin, bs.body(requests.Record, map[string]any{"in": requests.RecordInput(bs.customer)}))
	token := w.Header().Get("X-Consistency-Token")
	if token == "" {
		b.Fatal("a mutation answered no X-Consistency-Token")
	}
	query := bs.body(requests.Partner, map[string]any{"id": bs.partner.String()})
	for _, side := range []struct {
		name    string
		headers []string
	}{{"without", nil}, {"with", []string{"X-Consistency-Token", token}}} {
		b.Run(side.name, func(b *testing.B) {
			b.ReportAllocs()
			b.ResetTimer()
			cpu := processCPU()
			for b.Loop() {
				bs.post(b, bs.customerAdmin, query, side.headers...)
			}
			reportCPU(b, cpu)
		})
	}
}

// measure posts body as the customer's Global admin b.N times, from
// parallelism goroutines per GOMAXPROCS, and reports allocations and the
// CPU per request.
func (bs *benchServer) measure(b *testing.B, body []byte, parallelism int) {
	b.ReportAllocs()
	b.SetParallelism(parallelism)
	b.ResetTimer()
	cpu := processCPU()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			bs.post(b, bs.customerAdmin, body)
		}
	})
	reportCPU(b, cpu)
}

// reportCPU adds the process's CPU time per request since start, as
// cpu-µs/op: wall time per request hides the CPU when the cores are not
// all busy (a mutation waits for its commit), and the CPU is what the
// clients and the server share under load. It includes the in-process
// client's small part (building each request and recorder).
func reportCPU(b *testing.B, start time.Duration) {
	if end := processCPU(); end > 0 && b.N > 0 {
		b.ReportMetric(float64(end-start)/float64(b.N)/1e3, "cpu-µs/op")
	}
}

// benchServer is the server in process, set up as loadbench sets it up: a
// partner, a customer it onboarded, and the customer's Global admin; the
// requests are loadbench's (package requests).
type benchServer struct {
	handler       http.Handler
	partner       uuid.UUID
	customer      uuid.UUID
	customerAdmin string // bearer token
}

func startBenchServer(b *testing.B, extra []string) *benchServer {
	b.Helper()
	// The server's start and stop lines would break up the benchmark's.
	slog.SetDefault(slog.New(slog.DiscardHandler))
	args := append([]string{
		"-env=production", "-addr=127.0.0.1:0", "-events-db=" + filepath.Join(b.TempDir(), "events.db"),
		"-jwt-secret=" + testSecret, "-rate-limit=1000000",
	}, extra...)
	cfg, err := app.ParseConfig(args)
	if err != nil {
		b.Fatal(err)
	}
	a, err := app.New(cfg, app.WithRequestLogTo(io.Discard))
	if err != nil {
		b.Fatalf("server did not start: %v", err)
	}
	b.Cleanup(func() {
		if err := a.Close(); err != nil {
			b.Errorf("server shutdown: %v", err)
		}
	})
	bs := &benchServer{handler: a.Handler(), partner: uuid.New(), customer: uuid.New()}
	token := func(tenant uuid.UUID, role domain.Role) string {
		tok, err := auth.MintHS256([]byte(testSecret), domain.Actor{UserID: "bench-" + string(role), TenantID: tenant, Role: role}, time.Hour, time.Now())
		if err != nil {
			b.Fatal(err)
		}
		return tok
	}
	partnerAdmin := token(bs.partner, domain.RoleGlobalAdmin)
	bs.customerAdmin = token(bs.customer, domain.RoleGlobalAdmin)
	bs.post(b, partnerAdmin, bs.body(requests.Enroll, map[string]any{"in": map[string]any{"name": "Bench CSP", "cloud": "PUBLIC"}}))
	bs.post(b, token(bs.partner, domain.RoleSalesAgent), bs.body(requests.Onboard, map[string]any{"in": requests.OnboardInput(bs.customer)}))
	return bs
}

func (bs *benchServer) body(doc string, vars map[string]any) []byte {
	b, err := json.Marshal(map[string]any{"query": doc, "variables": vars})
	if err != nil {
		panic(err)
	}
	return b
}

// post sends one request to the handler and fails on anything but a 200
// without GraphQL errors.
func (bs *benchServer) post(b *testing.B, token string, body []byte, headers ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	bs.handler.ServeHTTP(w, req)
	if w.Code != http.StatusOK || strings.Contains(w.Body.String(), `"errors"`) {
		b.Errorf("status %d: %s", w.Code, w.Body.String())
		b.FailNow()
	}
	return w
}
