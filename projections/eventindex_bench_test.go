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

// BenchmarkEventsTenSandStreams is `events(first: 20)` for a partner that
// sees about 10,000 streams (a corpus of 200,000 events with 20 partners)
// with its list of events and through its streams, in the same run, and
// the fold's cost per event with no list held and with 20 (every
// partner's). go test -run XXX -bench EventsTenSandStreams -count 3 ./projections/
func BenchmarkEventsTenSandStreams(b *testing.B) {
	c := buildCorpusOf(b, 200_000, 20)
	m, pid := foldCorpus(b, c)
	v := domain.Actor{UserID: "admin", TenantID: pid, Role: domain.RoleGlobalAdmin}
	first := 20
	b.Run("page/list", func(b *testing.B) {
		var got projections.EventsPage
		for b.Loop() {
			got, _ = m.EventsIndexed(v, projections.EventFilter{}, &first, nil)
		}
		b.ReportMetric(float64(got.Total), "visible-events")
	})
	b.Run("page/streams", func(b *testing.B) {
		for b.Loop() {
			m.EventsStreams(v, projections.EventFilter{}, &first, nil)
		}
	})
	var partners []domain.Actor
	for _, e := range c.events[:20] {
		_, id, _ := domain.SplitStream(e.Stream)
		partners = append(partners, domain.Actor{UserID: "admin", TenantID: id, Role: domain.RoleGlobalAdmin})
	}
	fold := func(b *testing.B, listed int) {
		for b.Loop() {
			b.StopTimer()
			m := projections.New(nil)
			half := len(c.events) / 2
			for _, e := range c.events[:half] {
				if err := m.Apply(e); err != nil {
					b.Fatal(err)
				}
			}
			for _, p := range partners[:listed] {
				m.EventsIndexed(p, projections.EventFilter{}, &first, nil)
			}
			b.StartTimer()
			for _, e := range c.events[half:] {
				if err := m.Apply(e); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*(len(c.events)-len(c.events)/2)), "ns/event")
	}
	b.Run("fold/lists=0", func(b *testing.B) { fold(b, 0) })
	b.Run("fold/lists=20", func(b *testing.B) { fold(b, 20) })
}
