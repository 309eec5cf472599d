package app

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/partnercenter/multichannel/eventstore"
	"github.com/partnercenter/multichannel/projections"
)

// loadModel returns the read models from the newest valid snapshot in the
// configured directory, or a new model (folded from the start) when there
// is none; projections.LoadSnapshot logs each snapshot it passes over.
func loadModel(ctx context.Context, cfg SnapshotConfig, store eventstore.Store, now func() time.Time) (*projections.Model, *snapshotter, error) {
	s := &snapshotter{cfg: cfg, savedAt: time.Now(), done: make(chan struct{})}
	if cfg.Dir == "" {
		close(s.done)
		return projections.New(now), nil, nil
	}
	start := time.Now()
	restoreGC := loadingGC()
	m, info, err := projections.LoadSnapshot(ctx, cfg.Dir, store, now, slog.Default())
	restoreGC()
	if err != nil {
		return nil, nil, fmt.Errorf("read-model snapshot: %w", err)
	}
	if m == nil {
		slog.Info("read models: no usable snapshot; folding the log from the start", "dir", cfg.Dir)
		m = projections.New(now)
	} else {
		slog.Info("read models loaded from a snapshot; folding the events after it",
			"path", info.Path, "position", info.Position.String(), "events", info.Events,
			"bytes", info.Bytes, "took", time.Since(start).Round(time.Millisecond).String())
		s.savedPos, s.savedEvents = info.Position, info.Events
	}
	s.model = m
	return m, s, nil
}

// loadGOGC is the collector's target while a snapshot is loaded. A load
// allocates almost nothing it does not keep, so each collection the
// growing heap sets off (at every doubling, with foldGOGC) marks what has
// been loaded so far and frees nothing: a third of the load's time at a
// million events. The peak is what is loaded either way, and a memory
// limit still bounds it.
const loadGOGC = 800

// loadingGC sets loadGOGC for a snapshot's load, when TuneGC ran and the
// operator did not set GOGC, and returns what puts the previous target
// (foldingGC's, for the fold of the events after the snapshot) back.
func loadingGC() (restore func()) {
	gcTuning.mu.Lock()
	defer gcTuning.mu.Unlock()
	if !gcTuning.tuned || gcTuning.gogcSet {
		return func() {}
	}
	prev := debug.SetGCPercent(loadGOGC)
	return func() { debug.SetGCPercent(prev) }
}

// snapshotter writes a snapshot of the read models every cfg.Every events,
// or cfg.Interval after the last one if an event came since, and once more
// at a clean shutdown. A write holds the fold only while the model's state
// is copied (projections.Model.WriteSnapshot); encoding and writing run on
// this goroutine.
type snapshotter struct {
	cfg   SnapshotConfig
	model *projections.Model
	done  chan struct{}

	mu          sync.Mutex // one write at a time
	savedPos    eventstore.Position
	savedEvents int
	savedAt     time.Time
}

// snapshotPoll is how often the snapshotter looks at the model's progress.
const snapshotPoll = time.Second

func (s *snapshotter) run(ctx context.Context) {
	defer close(s.done)
	t := time.NewTicker(min(snapshotPoll, s.cfg.Interval))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.mu.Lock()
		due := s.model.Position() != s.savedPos &&
			(s.model.EventCount()-s.savedEvents >= s.cfg.Every || time.Since(s.savedAt) >= s.cfg.Interval)
		s.mu.Unlock()
		if due {
			s.save("periodic")
		}
	}
}

// save writes a snapshot unless the last one is at the model's position.
func (s *snapshotter) save(reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.model.Position() == s.savedPos {
		return
	}
	start := time.Now()
	info, err := projections.SaveSnapshot(s.cfg.Dir, s.model)
	s.savedAt = time.Now()
	if err != nil {
		slog.Warn("read-model snapshot not written", "dir", s.cfg.Dir, "err", err)
		return
	}
	s.savedPos, s.savedEvents = info.Position, info.Events
	slog.Info("read-model snapshot written", "reason", reason, "path", info.Path, "position", info.Position.String(),
		"events", info.Events, "bytes", info.Bytes, "fold_held", info.Held.String(),
		"took", time.Since(start).Round(time.Millisecond).String())
}
