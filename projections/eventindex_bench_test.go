package projections_test

import (
	"testing"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/projections"
)

// BenchmarkEventsMillion is `events(first: 20) { totalCount }` on a log of
// 1,000,000 events folded in memory, for a partner that sees about 1% of
// it and for a tenant that sees nothing: through Events (the index and the
// page's 20 payloads read from the store), the index alone, and the scan
// of the whole log that the index replaced, in the same run. It needs
// about 1.5 GB; run it on its own:
// go test -run XXX -bench EventsMillion -benchtime 20x ./projections/
func BenchmarkEventsMillion(b *testing.B) {
	c := buildCorpus(b, 1_000_000)
	m := projections.New(nil)
	m.ReadLogFrom(newCorpusLog(c.events))
	for _, e := range c.events {
		if err := m.Apply(e); err != nil {
			b.Fatal(err)
		}
	}
	_, pid, _ := domain.SplitStream(c.events[0].Stream)
	callers := []struct {
		name string
		v    domain.Actor
	}{
		{"partner1pct", domain.Actor{UserID: "agent", TenantID: pid, Role: domain.RoleSalesAgent}},
		{"seesNothing", domain.Actor{UserID: "agent", TenantID: newID(), Role: domain.RoleSalesAgent}},
	}
	first := 20
	for _, cl := range callers {
		want, err := m.EventsScanned(cl.v, projections.EventFilter{}, &first, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(cl.name+"/events", func(b *testing.B) {
			for b.Loop() {
				conn, err := m.Events(b.Context(), cl.v, projections.EventFilter{}, &first, nil)
				if err != nil || conn.TotalCount != want.Total {
					b.Fatal(err, conn.TotalCount, want.Total)
				}
			}
			b.ReportMetric(float64(want.Total), "visible-events")
		})
		b.Run(cl.name+"/index", func(b *testing.B) {
			var got projections.EventsPage
			for b.Loop() {
				got, _ = m.EventsIndexed(cl.v, projections.EventFilter{}, &first, nil)
			}
			b.ReportMetric(float64(got.Examined), "headers-read/op")
		})
		b.Run(cl.name+"/scan", func(b *testing.B) {
			var got projections.EventsPage
			for b.Loop() {
				got, _ = m.EventsScanned(cl.v, projections.EventFilter{}, &first, nil)
			}
			b.ReportMetric(float64(got.Examined), "headers-read/op")
		})
	}
}
