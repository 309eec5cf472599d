package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/eventstore"
	"github.com/partnercenter/multichannel/internal/app"
	"github.com/partnercenter/multichannel/internal/audit"
)

// row is what one size measured. Durations, memory and latencies are
// medians over -runs starts.
type row struct {
	Events        int64
	FileBytes     int64         // the store file and its write-ahead log
	SnapshotBytes int64         // the snapshot replay wrote
	Generated     time.Duration // 0 when the log was reused
	RawRate       float64       // events/s, ReadAll page by page, nothing decoded
	Replay        modeRate
	Verify        modeRate
	ReadyCold     time.Duration // to /readyz 200 with no snapshot (whole log folded)
	ReadySnap     time.Duration // to /readyz 200 from the snapshot
	// ReadyColdAll and ReadySnapAll are every run's times, for the spread.
	ReadyColdAll, ReadySnapAll []time.Duration
	RSSCold                    int64 // resident bytes after the start with no snapshot
	RSSSnap                    int64 // resident bytes after the start from the snapshot
	// TouchSnap is how long touching RSSSnap bytes of new memory took this
	// process (touchTime): the part of a start the system's memory costs.
	TouchSnap  time.Duration
	Customer   latency // customer(id) with its subscriptions
	EventsPage latency // the partner's first events page
	QueryGCs   int64   // collections the server ran while the queries were sent
	Fixture    fixture

	partner uuid.UUID           // the partner the queries are asked as
	db      string              // the store file
	last    eventstore.Position // the log's last event when measured
}

// modeRate is a command-line mode's rate as it printed it, or as timed
// here when its output did not say (Timed).
type modeRate struct {
	Rate  float64 // events/s
	Timed bool
}

// measureSize makes or reuses the log of n events under o.Dir and
// measures it, all but the queries: it returns the server of its last
// start from the snapshot still running, for measureQueries.
func measureSize(ctx context.Context, o options, bin string, n int64, progress io.Writer) (row, *server, error) {
	r := row{Events: n}
	dir := filepath.Join(o.Dir, strconv.FormatInt(n, 10))
	db := filepath.Join(dir, "events.db")
	snapDir := filepath.Join(dir, "snapshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return r, nil, err
	}
	say := func(format string, args ...any) {
		fmt.Fprintf(progress, "[%d] "+format+"\n", append([]any{n}, args...)...)
	}

	// The first scan counts the log (is it the one asked for?) and warms
	// the page cache; the raw rate is the best of three, as the audit
	// benchmarks take it.
	var scans []scanResult
	if _, err := os.Stat(db); err == nil {
		s, err := rawScan(ctx, db)
		if err != nil {
			return r, nil, fmt.Errorf("read the kept log %s: %w", db, err)
		}
		if s.Events == n {
			say("reusing %s (%d events)", db, s.Events)
			scans = append(scans, s)
		} else {
			say("%s holds %d events, not %d: making it again", db, s.Events, n)
		}
	}
	if len(scans) == 0 {
		if err := removeLog(db, snapDir); err != nil {
			return r, nil, err
		}
		say("generating %d events into %s ...", n, db)
		start := time.Now()
		if err := runMode(ctx, bin, progress, "generate", "-events", strconv.FormatInt(n, 10), "-events-db", db); err != nil {
			return r, nil, err
		}
		r.Generated = time.Since(start)
		say("generated in %s", r.Generated.Round(time.Second))
		s, err := rawScan(ctx, db)
		if err != nil {
			return r, nil, err
		}
		if s.Events != n {
			return r, nil, fmt.Errorf("generate wrote %d events, not %d", s.Events, n)
		}
		scans = append(scans, s)
	}
	for len(scans) < 3 {
		s, err := rawScan(ctx, db)
		if err != nil {
			return r, nil, err
		}
		scans = append(scans, s)
	}
	for _, s := range scans {
		r.RawRate = max(r.RawRate, s.rate())
	}
	last := scans[0].Last
	say("raw read: %.0f events/s (best of %d scans)", r.RawRate, len(scans))
	var err error
	if r.FileBytes, err = fileBytes(db); err != nil {
		return r, nil, err
	}

	// replay -write-snapshot folds the whole log once, says at what rate,
	// and leaves the snapshot the second kind of start loads. The
	// directory is emptied first so that the start loads this one.
	if err := os.RemoveAll(snapDir); err != nil {
		return r, nil, err
	}
	out, d, err := captureMode(ctx, bin, "replay", "-events-db", db, "-write-snapshot", snapDir)
	if err != nil {
		return r, nil, err
	}
	r.Replay = parseRate(out, "rebuilt", n, d)
	if r.SnapshotBytes, err = dirBytes(snapDir); err != nil {
		return r, nil, err
	}
	say("replay: %.0f events/s, %.2f of the raw read rate; snapshot %s", r.Replay.Rate, r.Replay.Rate/r.RawRate, formatBytes(r.SnapshotBytes))
	out, d, err = captureMode(ctx, bin, "verify", "-events-db", db)
	if err != nil {
		return r, nil, err
	}
	r.Verify = parseRate(out, "verified", n, d)
	say("verify: %.0f events/s, %.2f of the raw read rate", r.Verify.Rate, r.Verify.Rate/r.RawRate)

	first, err := firstEvents(ctx, db)
	if err != nil {
		return r, nil, err
	}
	offset, err := clockOffset(first, time.Now())
	if err != nil {
		return r, nil, err
	}
	partner, err := pickPartner(first)
	if err != nil {
		return r, nil, err
	}
	r.partner, r.db, r.last = partner, db, last
	var (
		readyCold, readySnap []time.Duration
		rssCold, rssSnap     []int64
		touchSnap            []time.Duration
	)
	var kept *server
	for i := range o.Runs {
		cfg := serverConfig{Bin: bin, EventsDB: db, SnapshotDir: "off", ClockOffset: offset,
			Log: filepath.Join(dir, "server-no-snapshot.log"), Timeout: o.Timeout}
		s, err := startServer(ctx, cfg)
		if err != nil {
			return r, nil, fmt.Errorf("start with no snapshot: %w", err)
		}
		rss, err := s.settledRSS(ctx, o.Settle)
		if serr := s.stop(); err == nil {
			err = serr
		}
		if err != nil {
			return r, nil, err
		}
		readyCold, rssCold = append(readyCold, s.ready), append(rssCold, rss)
		say("run %d: ready in %s with no snapshot, %s resident", i+1, s.ready.Round(10*time.Millisecond), formatBytes(rss))

		cfg.SnapshotDir, cfg.Log = snapDir, filepath.Join(dir, "server-snapshot.log")
		if s, err = startServer(ctx, cfg); err != nil {
			return r, nil, fmt.Errorf("start from the snapshot: %w", err)
		}
		// Memory before any query: the queries leave garbage of their own.
		rss, err = s.settledRSS(ctx, o.Settle)
		if err == nil && i < o.Runs-1 {
			err = s.stop()
		}
		if err != nil {
			s.kill()
			return r, nil, err
		}
		readySnap, rssSnap = append(readySnap, s.ready), append(rssSnap, rss)
		say("run %d: ready in %s from the snapshot, %s resident", i+1, s.ready.Round(10*time.Millisecond), formatBytes(rss))
		touch, err := touchTime(rss)
		if err != nil {
			s.kill()
			return r, nil, fmt.Errorf("touch %s of memory: %w", formatBytes(rss), err)
		}
		touchSnap = append(touchSnap, touch)
		say("run %d: touching as much new memory took this process %s", i+1, touch.Round(10*time.Millisecond))
		kept = s
	}
	r.ReadyCold, r.ReadySnap = median(readyCold), median(readySnap)
	r.ReadyColdAll, r.ReadySnapAll = readyCold, readySnap
	r.RSSCold, r.RSSSnap = median(rssCold), median(rssSnap)
	r.TouchSnap = median(touchSnap)
	return r, kept, nil
}

// checkUnchanged fails when a log grew while its servers ran: every
// figure is of a log of exactly its count only if no server appended to
// it (the expiry sweep would: see serverConfig.ClockOffset).
func checkUnchanged(ctx context.Context, r row) error {
	grew, err := logGrew(ctx, r.db, r.last)
	if err != nil {
		return err
	}
	if grew {
		return fmt.Errorf("%s grew while the servers ran: the figures are not of a log of %d events", r.db, r.Events)
	}
	return nil
}

// scanResult is one raw read of the whole log.
type scanResult struct {
	Events  int64
	Elapsed time.Duration
	Last    eventstore.Position
}

func (s scanResult) rate() float64 { return float64(s.Events) / s.Elapsed.Seconds() }

// rawScan reads the log at path page by page, decoding nothing: the
// store's raw read rate, as BenchmarkReadAll in internal/audit measures
// it (the same page size).
func rawScan(ctx context.Context, path string) (scanResult, error) {
	st, err := app.OpenStore(ctx, app.StoreConfig{EventsDB: path}, true)
	if err != nil {
		return scanResult{}, err
	}
	defer st.Close()
	var s scanResult
	start := time.Now()
	for pos := eventstore.Start; ; {
		evs, err := st.ReadAll(ctx, pos, audit.DefaultPageSize)
		if err != nil {
			return s, fmt.Errorf("read %s: %w", path, err)
		}
		if len(evs) == 0 {
			s.Elapsed, s.Last = time.Since(start), pos
			return s, nil
		}
		s.Events += int64(len(evs))
		pos = evs[len(evs)-1].Position
	}
}

// logGrew tells whether the log at path holds an event after last.
func logGrew(ctx context.Context, path string, last eventstore.Position) (bool, error) {
	st, err := app.OpenStore(ctx, app.StoreConfig{EventsDB: path}, true)
	if err != nil {
		return false, err
	}
	defer st.Close()
	evs, err := st.ReadAll(ctx, last, 1)
	if err != nil {
		return false, fmt.Errorf("read %s: %w", path, err)
	}
	return len(evs) > 0, nil
}

// firstEventsCount is how many of the log's first events firstEvents
// reads: the partners enroll before any scenario starts (audit.Generate),
// so these are mostly PartnerEnrolled.
const firstEventsCount = 500

func firstEvents(ctx context.Context, path string) ([]eventstore.RecordedEvent, error) {
	st, err := app.OpenStore(ctx, app.StoreConfig{EventsDB: path}, true)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	evs, err := st.ReadAll(ctx, eventstore.Start, firstEventsCount)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(evs) == 0 {
		return nil, fmt.Errorf("%s holds no events", path)
	}
	return evs, nil
}

// removeLog removes a log this command made (the store file, its
// write-ahead log, shared memory and lock files) and its snapshots.
func removeLog(db, snapDir string) error {
	for _, suffix := range []string{"", "-wal", "-shm", "-journal", ".lock"} {
		if err := os.Remove(db + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return os.RemoveAll(snapDir)
}

// fileBytes is the size of the store file with its write-ahead log: the
// events not yet checkpointed into the file are in the latter.
func fileBytes(db string) (int64, error) {
	var total int64
	for _, suffix := range []string{"", "-wal"} {
		fi, err := os.Stat(db + suffix)
		switch {
		case errors.Is(err, os.ErrNotExist) && suffix != "":
		case err != nil:
			return 0, err
		default:
			total += fi.Size()
		}
	}
	return total, nil
}

// dirBytes is the size of the regular files in dir.
func dirBytes(dir string) (int64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	var total int64
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			return 0, err
		}
		total += fi.Size()
	}
	return total, nil
}

// median of a non-empty slice (the lower middle of an even count).
func median[T int64 | time.Duration](xs []T) T {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}
