package e2e

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/internal/app"
	"github.com/partnercenter/multichannel/internal/audit"
)

type modelDigest struct {
	Position   string `json:"position"`
	Digest     string `json:"digest"`
	EventCount int    `json:"eventCount"`
}

// TestSnapshotStart: a server started from a read-model snapshot (written
// at the previous server's clean shutdown) and then folding the events
// after it has the same readModelDigest as a server folded from position
// zero, on both stores.
func TestSnapshotStart(t *testing.T) {
	for name, opts := range stores(t) {
		t.Run(name, func(t *testing.T) {
			dbPath := filepath.Join(t.TempDir(), "events.db")
			snapDir := t.TempDir()
			var storeCfg app.StoreConfig
			withStore := func(s *setup) { s.EventsDB = dbPath }
			for _, o := range opts {
				var probe setup
				o(&probe)
				storeCfg.URL = probe.EventStoreURL
			}
			storeCfg.EventsDB = dbPath
			generate := func(n int64, more bool) {
				t.Helper()
				st, err := app.OpenStore(t.Context(), storeCfg, false)
				if err != nil {
					t.Fatal(err)
				}
				defer st.Close()
				if _, err := audit.Generate(t.Context(), st, n, audit.GenerateOptions{Seed: 7, Workers: 16, AllowNonEmpty: more}); err != nil {
					t.Fatal(err)
				}
			}
			run := func(snapshots app.SnapshotConfig, want int) modelDigest {
				t.Helper()
				all := append([]serverOption{withStore, func(s *setup) {
					s.Snapshots = snapshots
					// The generated log starts on 2025-01-01: at that clock no
					// request has expired, so the expiry sweep appends nothing.
					s.opts = append(s.opts, app.WithClock(func() time.Time { return time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC) }))
				}}, opts...)
				ts := startServer(t, all...)
				auditor := ts.user(uuid.Must(uuid.NewV7()), domain.RoleAuditor)
				var d struct{ ReadModelDigest modelDigest }
				for deadline := time.Now().Add(30 * time.Second); ; {
					auditor.ok(&d, `{ readModelDigest { position digest eventCount } }`, nil)
					if d.ReadModelDigest.EventCount == want || time.Now().After(deadline) {
						break
					}
					time.Sleep(20 * time.Millisecond)
				}
				if d.ReadModelDigest.EventCount != want {
					t.Fatalf("read models hold %d events, want %d", d.ReadModelDigest.EventCount, want)
				}
				ts.cancel()
				err := <-ts.done
				ts.done <- err // for the cleanup
				if err != nil {
					t.Fatalf("shutdown: %v", err)
				}
				return d.ReadModelDigest
			}
			on := app.SnapshotConfig{Dir: snapDir, Every: 1 << 30, Interval: time.Hour}

			generate(3000, false)
			first := run(on, 3000)
			files, _ := filepath.Glob(filepath.Join(snapDir, "snapshot-*.snap"))
			if len(files) != 1 {
				t.Fatalf("after a clean shutdown, snapshot files %v", files)
			}
			generate(700, true)
			fromSnapshot := run(on, 3700)
			fromZero := run(app.SnapshotConfig{}, 3700)
			if fromSnapshot != fromZero {
				t.Fatalf("from a snapshot %+v, from zero %+v", fromSnapshot, fromZero)
			}
			if fromSnapshot.Position == first.Position {
				t.Fatal("the events after the snapshot were not folded")
			}

			// A snapshot that does not verify is passed over: the server
			// folds from the start and answers the same digest.
			files, _ = filepath.Glob(filepath.Join(snapDir, "snapshot-*.snap"))
			for _, f := range files {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				b[len(b)/2] ^= 0xff
				if err := os.WriteFile(f, b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if afterCorrupt := run(on, 3700); afterCorrupt != fromZero {
				t.Fatalf("with corrupt snapshots %+v, from zero %+v", afterCorrupt, fromZero)
			}
		})
	}
}
