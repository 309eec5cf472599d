package baseline

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkPing prices one { ping } request through the handler, in
// process (no sockets), with and without the query cache.
func BenchmarkPing(b *testing.B) {
	for _, bc := range []struct {
		name  string
		cache bool
	}{{"cache", true}, {"no-cache", false}} {
		b.Run(bc.name, func(b *testing.B) {
			h := newHandler(bc.cache)
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(`{"query":"{ ping }"}`))
				req.Header.Set("Content-Type", "application/json")
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d", rec.Code)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
		})
	}
}
