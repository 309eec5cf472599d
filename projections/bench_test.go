package projections_test

import (
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/eventstore"
	"github.com/partnercenter/multichannel/projections"
)

// corpus is a synthetic log with the product's mix: partners, customers
// with several subscriptions each, relationship requests and answers,
// switches, cancellations and Azure replacements. Metadata carries a hash
// and a causation id, as written events do.
type corpus struct {
	events []eventstore.RecordedEvent
	bytes  int
}

var (
	corpusOnce sync.Once
	benchLog   corpus
)

const corpusSize = 200_000

func benchCorpus(tb testing.TB) corpus {
	tb.Helper()
	corpusOnce.Do(func() { benchLog = buildCorpus(tb, corpusSize) })
	return benchLog
}

func buildCorpus(tb testing.TB, n int) corpus { return buildCorpusOf(tb, n, 200) }

// foldCorpus applies every event of c to a new model and returns it with
// the id of the corpus's first partner (its first event enrolls it).
func foldCorpus(tb testing.TB, c corpus) (*projections.Model, uuid.UUID) {
	tb.Helper()
	m := projections.New(nil)
	for _, e := range c.events {
		if err := m.Apply(e); err != nil {
			tb.Fatal(err)
		}
	}
	_, pid, _ := domain.SplitStream(c.events[0].Stream)
	return m, pid
}

// buildCorpusOf is a corpus of n events with the given number of partners:
// each sees about 2/partners of the customers.
func buildCorpusOf(tb testing.TB, n, partnerCount int) corpus {
	var c corpus
	at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	revs := make(map[string]uint64)
	var seq uint64
	emit := func(stream string, actor domain.Actor, ev domain.Event) {
		data, version, err := domain.EncodeEvent(ev)
		if err != nil {
			tb.Fatal(err)
		}
		corr := uuid.Must(uuid.NewV7())
		sum := sha256.Sum256(data)
		md, err := domain.EncodeMetadata(domain.Metadata{
			SchemaVersion: version, RecordedAt: at, Actor: actor, CorrelationID: corr, CausationID: &corr,
			Hash: hex.EncodeToString(sum[:]),
		})
		if err != nil {
			tb.Fatal(err)
		}
		seq++
		c.events = append(c.events, eventstore.RecordedEvent{
			ID: uuid.Must(uuid.NewV7()), Stream: stream, Revision: revs[stream],
			Position: eventstore.Position{Commit: seq, Prepare: seq},
			Type:     ev.EventType(), Data: data, Metadata: md,
		})
		c.bytes += len(data) + len(md)
		revs[stream]++
		at = at.Add(time.Millisecond)
	}
	var partners []uuid.UUID
	for i := 0; i < partnerCount; i++ {
		p := uuid.Must(uuid.NewV7())
		partners = append(partners, p)
		emit(domain.PartnerStream(p), domain.Actor{UserID: "admin@" + p.String(), TenantID: p, Role: domain.RoleGlobalAdmin},
			domain.PartnerEnrolled{PartnerID: p, Name: "Partner " + p.String()[:8], Cloud: domain.CloudPublic})
	}
	for i := 0; len(c.events) < n; i++ {
		p := partners[i%len(partners)]
		q := partners[(i+7)%len(partners)]
		agent := domain.Actor{UserID: "agent@" + p.String(), TenantID: p, Role: domain.RoleSalesAgent}
		cid := uuid.Must(uuid.NewV7())
		admin := domain.Actor{UserID: "admin@" + cid.String(), TenantID: cid, Role: domain.RoleGlobalAdmin}
		emit(domain.CustomerStream(cid), agent, domain.CustomerOnboarded{
			CustomerID: cid, Name: "Customer " + cid.String()[:8], Domain: "c" + cid.String()[:8] + ".example",
			Cloud: domain.CloudPublic, OnboardedBy: p,
		})
		var subs []uuid.UUID
		for k := 0; k < 4; k++ {
			sid := uuid.Must(uuid.NewV7())
			ev := domain.ExternalSubscriptionRecorded{SubscriptionID: sid, CustomerID: cid, Offer: "Offer", Quantity: 10}
			switch k {
			case 0:
				end := at.Add(365 * 24 * time.Hour)
				ev.BillingModel, ev.Channel, ev.TermEndsAt = domain.LicenseBased, domain.ChannelMicrosoftDirect, &end
			case 1:
				end := at.Add(30 * 24 * time.Hour)
				ev.BillingModel, ev.Channel, ev.TermEndsAt, ev.SellerPartnerID = domain.LicenseBased, domain.ChannelCSPPartner, &end, &q
			default:
				ev.BillingModel, ev.Channel = domain.UsageBased, domain.ChannelEnterpriseAgreement
				ev.Services = []domain.Service{{ID: uuid.Must(uuid.NewV7()), Name: "Virtual machines"}, {ID: uuid.Must(uuid.NewV7()), Name: "SQL"}}
			}
			emit(domain.SubscriptionStream(sid), admin, ev)
			subs = append(subs, sid)
		}
		rid := domain.RelationshipID(q, cid, 0)
		msg := "Let us support you"
		emit(domain.RelationshipStream(rid), agent, domain.RelationshipRequested{
			RelationshipID: rid, PartnerID: q, CustomerID: cid, Message: &msg, RequestedAt: at, ExpiresAt: at.Add(domain.RelationshipTTL),
		})
		emit(domain.RelationshipStream(rid), admin, domain.RelationshipAccepted{RelationshipID: rid, PartnerID: q, CustomerID: cid})
		repl := domain.ReplacementID(subs[2], q)
		emit(domain.SubscriptionStream(repl), agent, domain.AzureSubscriptionCreated{
			SubscriptionID: repl, CustomerID: cid, PartnerID: q, LegacySubscriptionID: subs[2], Offer: "Azure plan",
			LegacyDetails: domain.LegacyDetails{AzureSubscriptionID: "legacy-" + subs[2].String()[:8]},
		})
		emit(domain.SubscriptionStream(subs[2]), agent, domain.LegacyServiceCancelled{SubscriptionID: subs[2], CustomerID: cid, PartnerID: q})
		emit(domain.SubscriptionStream(subs[3]), agent, domain.SubscriptionSwitched{SubscriptionID: subs[3], CustomerID: cid, ToPartnerID: q})
		emit(domain.SubscriptionStream(subs[0]), admin, domain.SubscriptionCancelled{SubscriptionID: subs[0], CustomerID: cid})
	}
	c.events = c.events[:n]
	return c
}

// BenchmarkApply folds the synthetic log into a fresh model per iteration
// (a rebuild from position zero) and reports the replay rate.
func BenchmarkApply(b *testing.B) {
	c := benchCorpus(b)
	b.SetBytes(int64(c.bytes))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		m := projections.New(nil)
		for _, e := range c.events {
			if err := m.Apply(e); err != nil {
				b.Fatal(err)
			}
		}
	}
	elapsed := time.Since(start).Seconds()
	b.ReportMetric(float64(b.N*len(c.events))/elapsed, "events/s")
	b.ReportMetric(float64(c.bytes)/float64(len(c.events)), "bytes/event")
}

// BenchmarkEventsQuery measures an `events` page over the whole index for a
// partner (visibility decided per stream) with totalCount.
func BenchmarkEventsQuery(b *testing.B) {
	c := benchCorpus(b)
	m := projections.New(nil)
	m.ReadLogFrom(newCorpusLog(c.events))
	for _, e := range c.events {
		if err := m.Apply(e); err != nil {
			b.Fatal(err)
		}
	}
	v := c.events[0] // the first partner
	_, pid, _ := domain.SplitStream(v.Stream)
	viewer := domain.Actor{UserID: "agent", TenantID: pid, Role: domain.RoleSalesAgent}
	b.ResetTimer()
	for b.Loop() {
		conn, err := m.Events(b.Context(), viewer, projections.EventFilter{}, nil, nil)
		if err != nil || conn.TotalCount == 0 {
			b.Fatal(err, conn.TotalCount)
		}
	}
	b.ReportMetric(float64(len(c.events)), "indexed-events")
}

// BenchmarkReplayMillion folds a one-million-event log once per iteration:
// the startup rebuild the product promises in under ten seconds. It needs
// about 1 GB of memory for the synthetic log; run it on its own:
// go test -run XXX -bench ReplayMillion -benchtime 1x ./projections/
func BenchmarkReplayMillion(b *testing.B) {
	c := buildCorpus(b, 1_000_000)
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		m := projections.New(nil)
		for _, e := range c.events {
			if err := m.Apply(e); err != nil {
				b.Fatal(err)
			}
		}
	}
	elapsed := time.Since(start).Seconds() / float64(b.N)
	b.ReportMetric(elapsed, "s/replay")
	b.ReportMetric(float64(len(c.events))/elapsed, "events/s")
}

// BenchmarkFoldDecoded times the fold alone, the part of a rebuild that
// runs on one goroutine (Run decodes on every core, then folds in log
// order): the synthetic log is decoded once, and each iteration folds it
// into a fresh model in batches of FoldBatch, as a Folder does. Run it
// with -cpu 1 to count the collector's work in the time too.
func BenchmarkFoldDecoded(b *testing.B) {
	c := benchCorpus(b)
	ds := make([]projections.Decoded, len(c.events))
	dec := projections.New(nil)
	for i, e := range c.events {
		dec.Decode(&ds[i], e)
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		m := projections.New(nil)
		for i := 0; i < len(ds); i += projections.FoldBatch {
			if err := m.ApplyDecoded(ds[i:min(i+projections.FoldBatch, len(ds))]); err != nil {
				b.Fatal(err)
			}
		}
	}
	elapsed := time.Since(start).Seconds()
	b.ReportMetric(float64(b.N*len(ds))/elapsed, "events/s")
}
