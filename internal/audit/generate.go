package audit

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/eventstore"
	"github.com/partnercenter/multichannel/internal/record"
)

// GenerateOptions shapes the log Generate writes.
type GenerateOptions struct {
	// Partners is how many partners enroll first (default: one per 2,000
	// events, between 4 and 500).
	Partners int
	// Workers is how many appends run at once (default 256, fewer for a
	// log under 16,384 events). The embedded
	// store commits every waiting append in one transaction, so many
	// concurrent writers are what makes generation fast.
	Workers int
	// Start is the simulated clock's first instant (default 2025-01-01 UTC).
	// recordedAt advances from there, a few seconds per append.
	Start time.Time
	// Seed makes the mix of scenarios reproducible (ids are still UUIDv7).
	Seed uint64
	// Progress, when set, is called now and then with the events written.
	Progress func(written int64)
	// AllowNonEmpty lets Generate add to a store that holds events (new
	// partners and customers only). Off by default, so that a mistyped
	// path never pollutes a real log.
	AllowNonEmpty bool
	// BatchEvents is how many events go in one batch on a store that
	// appends batches (default DefaultBatchEvents); see Generate.
	BatchEvents int
}

// ErrNotEmpty is returned by Generate and Import for a store that already
// holds events.
var ErrNotEmpty = errors.New("audit: the store is not empty")

// Generate writes a realistic log of exactly n events into an empty store:
// partners enroll, then each scenario onboards a customer with three to five
// subscriptions bought through the various channels, and a partner asks for
// a reseller relationship that is accepted (mostly), declined, left to
// expire (recorded by the SYSTEM actor) or left pending; with an accepted
// one the partner switches a partner-sold Azure subscription, replaces a
// legacy Azure one and cancels its services, and some subscriptions are
// cancelled and some relationships terminated. Every event is encoded,
// stamped and sealed into its stream's hash chain exactly as the command
// layer does (package record), and appended with the exact expected
// revision. The last scenario is cut short to stop at n events.
//
// On a store that appends batches (eventstore.BatchAppender: the embedded
// store) the workers hand their appends to one goroutine that writes them
// in batches of about opts.BatchEvents events across many streams, in the
// order they were handed over (so each stream's appends stay in order):
// the workers know their streams' heads and need not wait for a commit,
// and a commit costs one fsync per batch instead of one per group of
// concurrent appends. Otherwise each worker appends and waits.
func Generate(ctx context.Context, store eventstore.Store, n int64, opts GenerateOptions) (int64, error) {
	if n <= 0 {
		return 0, nil
	}
	if evs, err := store.ReadAll(ctx, eventstore.Start, 1); err != nil {
		return 0, fmt.Errorf("audit: generate: %w", err)
	} else if len(evs) > 0 && !opts.AllowNonEmpty {
		return 0, fmt.Errorf("audit: generate: %w", ErrNotEmpty)
	}
	if opts.Partners <= 0 {
		opts.Partners = int(min(max(n/2000, 4), 500))
	}
	if opts.Workers <= 0 {
		// Scenarios run side by side and the last ones are cut short at n
		// events: keep them few enough for a small log to hold mostly
		// whole stories.
		opts.Workers = int(min(256, max(1, n/64)))
	}
	if opts.Start.IsZero() {
		opts.Start = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	g := &generator{store: store, opts: opts}
	g.budget.Store(n)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	fail := func(err error) {
		errOnce.Do(func() { firstErr = err; cancel() })
	}
	var batched chan struct{} // closed when the batch writer is done
	if _, ok := store.(eventstore.BatchAppender); ok {
		g.batches = make(chan eventstore.StreamAppend, max(opts.BatchEvents, DefaultBatchEvents))
		batched = make(chan struct{})
		go func() {
			defer close(batched)
			if err := g.writeBatches(ctx); err != nil {
				fail(err)
			}
		}()
	}
	run := func(count int, job func(rng *rand.Rand, i int) error) {
		next := atomic.Int64{}
		for w := 0; w < opts.Workers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(opts.Seed, uint64(w)))
				for {
					i := int(next.Add(1) - 1)
					if (count >= 0 && i >= count) || g.budget.Load() <= 0 || ctx.Err() != nil {
						return
					}
					if err := job(rng, i); err != nil {
						fail(err)
						return
					}
				}
			}(w)
		}
		wg.Wait()
	}

	// Partners first, so that every scenario can pick sellers among them.
	g.partners = make([]partnerInfo, opts.Partners)
	for i := range g.partners {
		id := uuid.Must(uuid.NewV7())
		cloud := domain.CloudPublic
		if i%10 == 9 {
			cloud = domain.CloudUSGovernment
		}
		g.partners[i] = partnerInfo{id: id, cloud: cloud}
	}
	g.byCloud = make(map[domain.Cloud][]partnerInfo)
	for _, p := range g.partners {
		g.byCloud[p.cloud] = append(g.byCloud[p.cloud], p)
	}
	run(len(g.partners), func(_ *rand.Rand, i int) error { return g.enroll(ctx, i) })
	if firstErr == nil {
		run(-1, func(rng *rand.Rand, i int) error { return g.scenario(ctx, rng, i) })
	}
	if g.batches != nil {
		close(g.batches) // every worker has returned: nothing more is sent
		<-batched
	}
	written := g.written.Load()
	if firstErr != nil {
		return written, fmt.Errorf("audit: generate: %w", firstErr)
	}
	if opts.Progress != nil {
		opts.Progress(written)
	}
	return written, nil
}

type partnerInfo struct {
	id    uuid.UUID
	cloud domain.Cloud
}

type generator struct {
	store    eventstore.Store
	opts     GenerateOptions
	batches  chan eventstore.StreamAppend // nil: the workers append themselves
	partners []partnerInfo
	byCloud  map[domain.Cloud][]partnerInfo
	budget   atomic.Int64 // events still to write
	written  atomic.Int64
	reported atomic.Int64
}

// errBudget ends a scenario when the log has its n events.
var errBudget = errors.New("event budget spent")

// reserve takes up to k events from the budget.
func (g *generator) reserve(k int) int {
	for {
		left := g.budget.Load()
		if left <= 0 {
			return 0
		}
		take := min(int64(k), left)
		if g.budget.CompareAndSwap(left, left-take) {
			return int(take)
		}
	}
}

// append seals events into h's chain and appends them as one request of
// actor at `at`, the way the command layer does.
func (g *generator) append(ctx context.Context, h *record.Head, actor domain.Actor, at time.Time, events ...domain.Event) error {
	k := g.reserve(len(events))
	if k == 0 {
		return errBudget
	}
	short := k < len(events)
	events = events[:k]
	corr := uuid.Must(uuid.NewV7())
	causation := corr
	sealed, err := record.Events(*h, domain.Metadata{
		RecordedAt: domain.AtAPIPrecision(at), Actor: actor,
		CorrelationID: corr, CausationID: &causation,
	}, events)
	if err != nil {
		return err
	}
	e := eventstore.StreamAppend{Stream: h.Stream, Expected: h.Expected(), Events: sealed.Events}
	if g.batches != nil {
		select {
		case g.batches <- e:
		case <-ctx.Done():
			return ctx.Err()
		}
	} else {
		if _, err := g.store.Append(ctx, e.Stream, e.Expected, e.Events...); err != nil {
			return fmt.Errorf("append to %s: %w", h.Stream, err)
		}
		g.wrote(len(e.Events))
	}
	h.Next += uint64(len(e.Events))
	h.Hash = sealed.Hash
	if short {
		return errBudget
	}
	return nil
}

// wrote counts events made durable and reports progress now and then.
func (g *generator) wrote(n int) {
	w := g.written.Add(int64(n))
	if g.opts.Progress != nil && w-g.reported.Load() >= 10_000 {
		g.reported.Store(w)
		g.opts.Progress(w)
	}
}

// writeBatches writes what the workers hand over, in batches, until the
// channel is closed (then what is left) or ctx ends.
func (g *generator) writeBatches(ctx context.Context) error {
	w := newBatchWriter(g.store, g.opts.BatchEvents, g.wrote)
	for {
		select {
		case e, ok := <-g.batches:
			if !ok {
				if err := w.flush(ctx); err != nil {
					return err
				}
				return w.wait()
			}
			if err := w.add(ctx, e); err != nil {
				return err
			}
		case <-ctx.Done():
			_ = w.wait() // a batch in flight ends with ctx
			return ctx.Err()
		}
	}
}

func (g *generator) enroll(ctx context.Context, i int) error {
	p := g.partners[i]
	admin := domain.Actor{UserID: "admin@partner-" + p.id.String()[:8], TenantID: p.id, Role: domain.RoleGlobalAdmin}
	h := &record.Head{Stream: domain.PartnerStream(p.id)}
	err := g.append(ctx, h, admin, g.opts.Start, domain.PartnerEnrolled{
		PartnerID: p.id, Name: fmt.Sprintf("Partner %03d (%s)", i, p.id.String()[:8]), Cloud: p.cloud,
	})
	if errors.Is(err, errBudget) {
		return nil
	}
	return err
}

// scenario writes one customer's story. Its streams are its own, so the
// scenarios of different workers never contend for a stream.
func (g *generator) scenario(ctx context.Context, rng *rand.Rand, i int) error {
	err := g.story(ctx, rng, i)
	if errors.Is(err, errBudget) {
		return nil
	}
	return err
}

func (g *generator) story(ctx context.Context, rng *rand.Rand, i int) error {
	// Each scenario gets its own stretch of simulated time: a minute apart,
	// a few seconds per step, so recordedAt mostly follows the log.
	now := g.opts.Start.Add(time.Duration(i) * time.Minute)
	step := func() time.Time { now = now.Add(time.Duration(1+rng.IntN(5)) * time.Second); return now }

	owner := g.partners[rng.IntN(len(g.partners))]
	// The seller and the requesting partner share the owner's cloud and,
	// when the cloud has another partner, are not the owner.
	cloudmates := g.byCloud[owner.cloud]
	peer := func() partnerInfo {
		for {
			p := cloudmates[rng.IntN(len(cloudmates))]
			if p.id != owner.id || len(cloudmates) == 1 {
				return p
			}
		}
	}
	seller, requester := peer(), peer()
	agent := domain.Actor{UserID: "agent@" + owner.id.String()[:8], TenantID: owner.id, Role: domain.RoleSalesAgent}
	reqAgent := domain.Actor{UserID: "sales@" + requester.id.String()[:8], TenantID: requester.id, Role: domain.RoleSalesAgent}

	cid := uuid.Must(uuid.NewV7())
	admin := domain.Actor{UserID: "admin@" + cid.String()[:8], TenantID: cid, Role: domain.RoleGlobalAdmin}
	ch := &record.Head{Stream: domain.CustomerStream(cid)}
	if err := g.append(ctx, ch, agent, step(), domain.CustomerOnboarded{
		CustomerID: cid, Name: fmt.Sprintf("Contoso %d", i), Domain: fmt.Sprintf("contoso%d.example", i),
		Cloud: owner.cloud, OnboardedBy: owner.id,
	}); err != nil {
		return err
	}

	type sub struct {
		id       uuid.UUID
		h        *record.Head
		kind     int // 0 license other channel, 1 license CSP, 2 usage other channel, 3 usage CSP
		services []domain.Service
	}
	channels := []domain.Channel{domain.ChannelMicrosoftDirect, domain.ChannelAdvisor, domain.ChannelOpen,
		domain.ChannelEnterpriseAgreement, domain.ChannelThirdParty}
	var subs []*sub
	nsubs := 3 + rng.IntN(3)
	for k := 0; k < nsubs; k++ {
		s := &sub{id: uuid.Must(uuid.NewV7()), kind: k % 4}
		s.h = &record.Head{Stream: domain.SubscriptionStream(s.id)}
		at := step()
		ev := domain.ExternalSubscriptionRecorded{SubscriptionID: s.id, CustomerID: cid, Quantity: 1 + rng.IntN(50), Services: []domain.Service{}}
		switch s.kind {
		case 0:
			end := domain.AtAPIPrecision(at.Add(time.Duration(30+rng.IntN(700)) * 24 * time.Hour))
			ev.Offer, ev.BillingModel, ev.Channel, ev.TermEndsAt = "Microsoft 365 E3", domain.LicenseBased, channels[rng.IntN(len(channels))], &end
		case 1:
			end := domain.AtAPIPrecision(at.Add(time.Duration(30+rng.IntN(300)) * 24 * time.Hour))
			sp := seller.id
			ev.Offer, ev.BillingModel, ev.Channel, ev.TermEndsAt, ev.SellerPartnerID = "Dynamics 365 Sales", domain.LicenseBased, domain.ChannelCSPPartner, &end, &sp
		case 2, 3:
			ev.Offer, ev.BillingModel, ev.Quantity = "Azure plan", domain.UsageBased, 1
			ev.Channel = domain.ChannelEnterpriseAgreement
			if s.kind == 3 {
				sp := seller.id
				ev.Channel, ev.SellerPartnerID = domain.ChannelCSPPartner, &sp
			}
			for _, name := range []string{"Virtual Machines", "Azure SQL Database", "Blob Storage"}[:1+rng.IntN(3)] {
				s.services = append(s.services, domain.Service{ID: uuid.Must(uuid.NewV7()), Name: name})
			}
			ev.Services = s.services
		}
		// Recorded by the customer's admin or by the onboarding partner.
		who := admin
		if rng.IntN(2) == 0 {
			who = agent
		}
		if err := g.append(ctx, s.h, who, at, ev); err != nil {
			return err
		}
		subs = append(subs, s)
	}

	// The requesting partner asks for a reseller relationship.
	rid := domain.RelationshipID(requester.id, cid, 0)
	rh := &record.Head{Stream: domain.RelationshipStream(rid)}
	requestedAt := domain.AtAPIPrecision(step())
	msg := "We would like to support your subscriptions."
	if err := g.append(ctx, rh, reqAgent, requestedAt, domain.RelationshipRequested{
		RelationshipID: rid, PartnerID: requester.id, CustomerID: cid, Attempt: 0, Message: &msg,
		RequestedAt: requestedAt, ExpiresAt: requestedAt.Add(domain.RelationshipTTL),
	}); err != nil {
		return err
	}
	switch r := rng.IntN(10); {
	case r == 0: // declined
		return g.append(ctx, rh, admin, step(), domain.RelationshipDeclined{RelationshipID: rid, PartnerID: requester.id, CustomerID: cid})
	case r == 1: // nobody answered: the sweep records the expiry
		expiresAt := requestedAt.Add(domain.RelationshipTTL)
		return g.append(ctx, rh, domain.SystemActor, expiresAt.Add(17*time.Second), domain.RelationshipExpired{
			RelationshipID: rid, PartnerID: requester.id, CustomerID: cid, ExpiredAt: expiresAt,
		})
	case r == 2: // still pending
		return nil
	}
	if err := g.append(ctx, rh, admin, step(), domain.RelationshipAccepted{RelationshipID: rid, PartnerID: requester.id, CustomerID: cid}); err != nil {
		return err
	}
	for _, s := range subs {
		switch {
		case s.kind == 3 && requester.id != seller.id:
			from := seller.id
			if err := g.append(ctx, s.h, reqAgent, step(), domain.SubscriptionSwitched{
				SubscriptionID: s.id, CustomerID: cid, FromPartnerID: &from, ToPartnerID: requester.id,
			}); err != nil {
				return err
			}
		case s.kind == 2:
			repl := domain.ReplacementID(s.id, requester.id)
			nh := &record.Head{Stream: domain.SubscriptionStream(repl)}
			agreement := fmt.Sprintf("EA-%07d", rng.IntN(10_000_000))
			if err := g.append(ctx, nh, reqAgent, step(), domain.AzureSubscriptionCreated{
				SubscriptionID: repl, CustomerID: cid, PartnerID: requester.id, LegacySubscriptionID: s.id, Offer: "Azure plan",
				LegacyDetails: domain.LegacyDetails{AzureSubscriptionID: "legacy-" + s.id.String()[:13], AgreementNumber: &agreement},
			}); err != nil {
				return err
			}
			// Cancel the services one by one, or the whole legacy
			// subscription at once.
			if rng.IntN(3) == 0 {
				ids := make([]uuid.UUID, len(s.services))
				for j, sv := range s.services {
					ids[j] = sv.ID
				}
				if err := g.append(ctx, s.h, reqAgent, step(), domain.LegacyServiceCancelled{
					SubscriptionID: s.id, CustomerID: cid, PartnerID: requester.id, ServiceIDs: ids,
				}); err != nil {
					return err
				}
				continue
			}
			for _, sv := range s.services {
				id := sv.ID
				if err := g.append(ctx, s.h, reqAgent, step(), domain.LegacyServiceCancelled{
					SubscriptionID: s.id, CustomerID: cid, PartnerID: requester.id, ServiceID: &id, ServiceIDs: []uuid.UUID{id},
				}); err != nil {
					return err
				}
			}
		case s.kind == 0 && rng.IntN(4) == 0:
			if err := g.append(ctx, s.h, admin, step(), domain.SubscriptionCancelled{SubscriptionID: s.id, CustomerID: cid}); err != nil {
				return err
			}
		}
	}
	if rng.IntN(20) == 0 {
		return g.append(ctx, rh, admin, step(), domain.RelationshipTerminated{RelationshipID: rid, PartnerID: requester.id, CustomerID: cid})
	}
	return nil
}
