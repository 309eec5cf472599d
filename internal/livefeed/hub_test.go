package livefeed_test

import (
	"context"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/eventstore"
	"github.com/partnercenter/multichannel/eventstore/sqlite"
	"github.com/partnercenter/multichannel/internal/audit"
	"github.com/partnercenter/multichannel/internal/livefeed"
	"github.com/partnercenter/multichannel/projections"
)

// countingStore counts the reads of the global log.
type countingStore struct {
	eventstore.Store
	readAll, subscribe atomic.Int64
}

func (s *countingStore) ReadAll(ctx context.Context, after eventstore.Position, max int) ([]eventstore.RecordedEvent, error) {
	s.readAll.Add(1)
	return s.Store.ReadAll(ctx, after, max)
}

func (s *countingStore) SubscribeAll(ctx context.Context, after eventstore.Position, fn func(eventstore.RecordedEvent) error) error {
	s.subscribe.Add(1)
	return s.Store.SubscribeAll(ctx, after, fn)
}

type hubFixture struct {
	store *countingStore
	raw   *sqlite.Store
	model *projections.Model
	hub   *livefeed.Hub
}

// newHub makes a log of n generated events, read models that follow it,
// and a hub over both.
func newHub(t *testing.T, n int64) *hubFixture {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := audit.Generate(context.Background(), st, n, audit.GenerateOptions{Seed: 7}); err != nil {
		t.Fatal(err)
	}
	m := projections.New(nil)
	if _, err := audit.Replay(context.Background(), st, m, audit.ReplayOptions{}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	cs := &countingStore{Store: st}
	h := livefeed.NewHub(cs, m)
	wg.Add(2)
	go func() { defer wg.Done(); projections.Run(ctx, st, m) }()
	go func() { defer wg.Done(); h.Run(ctx) }()
	return &hubFixture{store: cs, raw: st, model: m, hub: h}
}

func (f *hubFixture) positions(t *testing.T) []eventstore.Position {
	t.Helper()
	var all []eventstore.Position
	after := eventstore.Start
	for {
		evs, err := f.raw.ReadAll(context.Background(), after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			return all
		}
		for _, e := range evs {
			all = append(all, e.Position)
		}
		after = evs[len(evs)-1].Position
	}
}

var auditor = domain.Actor{UserID: "auditor", TenantID: uuid.New(), Role: domain.RoleAuditor}

// take reads n events from ch, failing on a closed channel.
func take(t *testing.T, ch <-chan *projections.Event, n int) []eventstore.Position {
	t.Helper()
	got := make([]eventstore.Position, 0, n)
	timeout := time.After(60 * time.Second) // a hung feed fails instead of hanging CI
	for len(got) < n {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Errorf("feed closed after %d of %d events", len(got), n)
				return got
			}
			got = append(got, ev.Position)
		case <-timeout:
			t.Errorf("feed stalled after %d of %d events", len(got), n)
			return got
		}
	}
	return got
}

func samePositions(t *testing.T, who string, got, want []eventstore.Position) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d events, want %d", who, len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: event %d at %s, want %s", who, i, got[i], want[i])
		}
	}
}

func TestHubCatchUpsShareOneReaderOfTheLog(t *testing.T) {
	f := newHub(t, 3000)
	want := f.positions(t)
	before := runtime.NumGoroutine()
	const feeds = 200
	ctx, cancel := context.WithCancel(context.Background())
	zero := "0-0"
	var wg sync.WaitGroup
	for range feeds {
		ch, err := f.hub.Follow(ctx, auditor, projections.EventFilter{}, &zero)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			samePositions(t, "feed", take(t, ch, len(want)), want)
		}()
	}
	wg.Wait()
	// Each page of the log read about once, for all 200 feeds: one catch-up
	// each would be 200 times the pages.
	pages := int64(len(want)/256 + 1)
	if got := f.store.readAll.Load(); got > 3*pages {
		t.Errorf("%d reads of the log for %d feeds of %d pages; want about %d", got, feeds, pages, pages)
	}
	if got := f.store.subscribe.Load(); got != 1 {
		t.Errorf("%d subscriptions to the log, want 1 (the hub's tail)", got)
	}
	cancel()
	// Every feed's goroutine ends with its context.
	deadline := time.Now().Add(30 * time.Second)
	for runtime.NumGoroutine() > before+2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before+2 {
		t.Fatalf("%d goroutines after the feeds ended, %d before", n, before)
	}
}

func TestHubSlowFeedCatchesUpWithoutHoldingOthers(t *testing.T) {
	f := newHub(t, 500)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	slow, err := f.hub.Follow(ctx, auditor, projections.EventFilter{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	fast, err := f.hub.Follow(ctx, auditor, projections.EventFilter{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := len(f.positions(t))
	// Far more live events than a feed's buffer; the slow feed reads none
	// of them until the fast one has had them all.
	if _, err := audit.Generate(context.Background(), f.raw, 1500, audit.GenerateOptions{Seed: 8, AllowNonEmpty: true}); err != nil {
		t.Fatal(err)
	}
	want := f.positions(t)[start:]
	samePositions(t, "fast feed", take(t, fast, len(want)), want)
	samePositions(t, "slow feed", take(t, slow, len(want)), want)
}

func TestHubFeedSeesOnlyWhatItsViewerSees(t *testing.T) {
	f := newHub(t, 300)
	stranger := domain.Actor{UserID: "u", TenantID: uuid.New(), Role: domain.RoleGlobalAdmin}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	zero := "0-0"
	ch, err := f.hub.Follow(ctx, stranger, projections.EventFilter{}, &zero)
	if err != nil {
		t.Fatal(err)
	}
	// An auditor's feed from the same position reaches the head; the
	// stranger's, sharing its pages, gets nothing.
	all, err := f.hub.Follow(ctx, auditor, projections.EventFilter{}, &zero)
	if err != nil {
		t.Fatal(err)
	}
	take(t, all, len(f.positions(t)))
	select {
	case ev := <-ch:
		t.Fatalf("a tenant that sees nothing got %s %s", ev.Type, ev.Stream)
	default:
	}
}
