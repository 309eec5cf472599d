package app

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/partnercenter/multichannel/eventstore"
	"github.com/partnercenter/multichannel/eventstore/sqlite"
	"github.com/partnercenter/multichannel/internal/audit"
	"github.com/partnercenter/multichannel/projections"
)

// gatedStore withholds the events after position last from the read
// models' reader, by pages (a ReadAll of projections.CatchUpPage events
// from before last) or by a subscription, until open is closed: a rebuild
// caught in the middle. Other reads, such as the readiness probe's, see
// the whole log, as they would during a real rebuild.
type gatedStore struct {
	eventstore.Store
	last eventstore.Position
	open chan struct{}
}

func (g gatedStore) closed() bool {
	select {
	case <-g.open:
		return false
	default:
		return true
	}
}

func (g gatedStore) ReadAll(ctx context.Context, from eventstore.Position, max int) ([]eventstore.RecordedEvent, error) {
	evs, err := g.Store.ReadAll(ctx, from, max)
	if max == projections.CatchUpPage && from.Less(g.last) && g.closed() {
		for i, e := range evs {
			if g.last.Less(e.Position) {
				return evs[:i], err
			}
		}
	}
	return evs, err
}

func (g gatedStore) SubscribeAll(ctx context.Context, after eventstore.Position, fn func(eventstore.RecordedEvent) error) error {
	return g.Store.SubscribeAll(ctx, after, func(e eventstore.RecordedEvent) error {
		if g.last.Less(e.Position) {
			select {
			case <-g.open:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return fn(e)
	})
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// During a rebuild /readyz says how many events are applied of how many;
// once the read models catch up it is ready and one log line says so.
func TestReadyzDuringRebuild(t *testing.T) {
	var logs syncBuf
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	defer slog.SetDefault(old)

	db := filepath.Join(t.TempDir(), "events.db")
	st, err := sqlite.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := audit.Generate(context.Background(), st, 300, audit.GenerateOptions{Seed: 1}); err != nil {
		t.Fatal(err)
	}
	first, err := st.ReadAll(context.Background(), eventstore.Start, 120)
	if err != nil || len(first) != 120 {
		t.Fatalf("the first 120 events: %d, %v", len(first), err)
	}
	st.Close()

	cfg, err := ParseConfig([]string{"-env", "development", "-events-db", db, "-metrics=false", "-request-log=false"})
	if err != nil {
		t.Fatal(err)
	}
	gate := make(chan struct{})
	a, err := New(cfg, WithStdout(io.Discard), WithStoreWrapper(func(s eventstore.Store) eventstore.Store {
		return gatedStore{Store: s, last: first[119].Position, open: gate}
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	readyz := func() (int, string) {
		resp, err := http.Get(srv.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	waitFor(t, "120 events applied", func() bool { return a.model.EventCount() == 120 })
	// The count of the log runs in the background: wait for the total.
	want := "rebuilding read models: 120 of 300 events applied (40%)"
	waitFor(t, "/readyz with the total", func() bool { _, body := readyz(); return strings.Contains(body, want) })
	if code, body := readyz(); code != http.StatusServiceUnavailable || strings.Contains(body, " old") {
		t.Fatalf("/readyz during the rebuild: %d %s", code, body)
	}
	if strings.Contains(logs.String(), "read models ready") {
		t.Fatalf("ready logged during the rebuild:\n%s", logs.String())
	}
	close(gate)
	waitFor(t, "/readyz 200", func() bool { code, _ := readyz(); return code == http.StatusOK })
	waitFor(t, "the ready line", func() bool { return strings.Contains(logs.String(), `msg="read models ready" events=300`) })
}

// waitFor polls cond until it holds (the test's deadline bounds it).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		if d, ok := t.Deadline(); ok && time.Until(d) < time.Second {
			t.Fatal(fmt.Sprintf("timed out waiting for %s", what))
		}
		time.Sleep(10 * time.Millisecond)
	}
}
