package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/eventstore"
	"github.com/partnercenter/multichannel/internal/benchproc"
)

func TestParseSizes(t *testing.T) {
	t.Parallel()
	got, err := parseSizes("100000, 1_000_000,,10000000")
	if err != nil || len(got) != 3 || got[0] != 100_000 || got[1] != 1_000_000 || got[2] != 10_000_000 {
		t.Fatalf("parseSizes = %v, %v", got, err)
	}
	for _, bad := range []string{"", ",", "0", "-5", "1e6", "ten"} {
		if _, err := parseSizes(bad); err == nil {
			t.Errorf("parseSizes(%q) accepted", bad)
		}
	}
}

func TestParseRate(t *testing.T) {
	t.Parallel()
	replay := "replayed 500000/1000000 events (50%), 90000 events/s, 5s left\n" +
		"rebuilt every projection from 1000000 events in 10.5s: 95238 events/s (position 1-1)\n" +
		"wrote snap: 1000000 events, position 1-1, 123 bytes\n"
	if got := parseRate(replay, "rebuilt", 1_000_000, time.Minute); got != (modeRate{Rate: 95238}) {
		t.Errorf("replay: %+v, want the summary line's rate, not the progress line's", got)
	}
	verify := "verified 1000 events in 90 streams in 12ms (83333.3 events/s)\nintact streams: 90, broken: 0\n"
	if got := parseRate(verify, "verified", 1000, time.Second); got != (modeRate{Rate: 83333.3}) {
		t.Errorf("verify: %+v", got)
	}
	// A mode whose summary no longer says its rate: timed here.
	if got := parseRate("done\n", "verified", 1000, 2*time.Second); got != (modeRate{Rate: 500, Timed: true}) {
		t.Errorf("no summary: %+v", got)
	}
}

func TestVMRSS(t *testing.T) {
	t.Parallel()
	status := "Name:\tserver\nVmPeak:\t  999 kB\nVmRSS:\t  123456 kB\nRssAnon:\t 100000 kB\n"
	if got, ok := vmRSS(status); !ok || got != 123456<<10 {
		t.Errorf("vmRSS = %d, %t", got, ok)
	}
	if _, ok := vmRSS("Name:\tserver\n"); ok {
		t.Error("vmRSS found a line that is not there")
	}
}

func TestPercentile(t *testing.T) {
	t.Parallel()
	var ds []time.Duration
	for i := 1; i <= 200; i++ {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	// Nearest rank: the 100th and the 198th of 200.
	if p50, p99 := percentile(ds, 0.5), percentile(ds, 0.99); p50 != 100*time.Millisecond || p99 != 198*time.Millisecond {
		t.Errorf("p50 %s, p99 %s", p50, p99)
	}
	if got := percentile(ds[:1], 0.99); got != time.Millisecond {
		t.Errorf("one sample: %s", got)
	}
}

func TestClockOffsetPutsTheServerBeforeTheLog(t *testing.T) {
	t.Parallel()
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	md, err := domain.EncodeMetadata(domain.Metadata{SchemaVersion: 1, RecordedAt: start})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 3, 14, 0, 0, 0, time.UTC)
	off, err := clockOffset([]eventstore.RecordedEvent{{Metadata: md}}, now)
	if err != nil {
		t.Fatal(err)
	}
	if got := now.Add(off); !got.Equal(start.Add(-24 * time.Hour)) {
		t.Errorf("the server's clock would read %s, want a day before the log's first event", got)
	}
	if _, err := time.ParseDuration(off.String()); err != nil {
		t.Errorf("-clock-offset %s does not parse: %v", off, err)
	}
}

func TestPickPartnerTakesThePublicCloud(t *testing.T) {
	t.Parallel()
	gov, pub := uuid.New(), uuid.New()
	ev := func(p domain.PartnerEnrolled) eventstore.RecordedEvent {
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		return eventstore.RecordedEvent{Type: domain.TypePartnerEnrolled, Stream: domain.PartnerStream(p.PartnerID), Data: b}
	}
	got, err := pickPartner([]eventstore.RecordedEvent{
		ev(domain.PartnerEnrolled{PartnerID: gov, Name: "g", Cloud: domain.CloudUSGovernment}),
		{Type: domain.TypeCustomerOnboarded},
		ev(domain.PartnerEnrolled{PartnerID: pub, Name: "p", Cloud: domain.CloudPublic}),
	})
	if err != nil || got != pub {
		t.Errorf("pickPartner = %s, %v; want %s", got, err, pub)
	}
	if _, err := pickPartner([]eventstore.RecordedEvent{{Type: domain.TypeCustomerOnboarded}}); err == nil {
		t.Error("pickPartner found a partner in a log without one")
	}
}

func TestReportTargets(t *testing.T) {
	t.Parallel()
	r := func(n int64, p99 time.Duration) row {
		return row{Events: n, RawRate: 100, Replay: modeRate{Rate: 70}, Verify: modeRate{Rate: 90},
			ReadyCold: 30 * time.Second, ReadySnap: 5 * time.Second, RSSCold: 5 << 30, RSSSnap: 4 << 30,
			Customer: latency{P50: p99 / 2, P99: p99}, EventsPage: latency{P50: p99, P99: 3 * p99}}
	}
	rep := report{Rows: []row{r(100_000, time.Millisecond), r(10_000_000, 1500*time.Microsecond)}, Opts: options{Queries: 1, Runs: 1}}
	var buf bytes.Buffer
	rep.print(&buf)
	out := buf.String()
	for _, want := range []string{
		"p99 growth, 10,000,000 / 100,000 events: customer(id) 1.50x, events page 1.50x",
		"PASS ready from a snapshot in under 10 s at 10,000,000 events: 5.00 s",
		"PASS at most 6 GB resident after start at 10,000,000 events: 5.00 GiB",
		"PASS customer(id) p99 grows less than 2x from 100,000 to 10,000,000 events: 1.50x",
		"PASS verify at least 0.85 of the raw read rate at 100,000 events: 0.90",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the report lacks %q:\n%s", want, out)
		}
	}
	if err := rep.verdict(true); err != nil {
		t.Errorf("verdict: %v", err)
	}
	rep.Rows[1].RSSCold = 7 << 30
	if err := rep.verdict(true); err == nil {
		t.Error("verdict passed 7 GiB resident")
	}
}

// TestSmall runs the whole command on a log of 2,000 events: it builds
// the server, generates the log, replays, verifies, starts the server
// both ways and times both queries. A second run reuses the log.
func TestSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts the server: not in -short")
	}
	dir := t.TempDir()
	o, err := parseOptions([]string{"-sizes", "2000", "-dir", filepath.Join(dir, "logs"),
		"-queries", "20", "-warmup", "2", "-settle", "0s", "-timeout", "1m"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	bin, err := benchproc.BuildServer(context.Background(), "growthbench", "", dir)
	if err != nil {
		t.Fatal(err)
	}
	o.ServerBin = bin
	var out, progress bytes.Buffer
	if err := run(context.Background(), o, &out, &progress); err != nil {
		t.Fatalf("run: %v\n%s", err, progress.String())
	}
	for _, want := range []string{"| 2,000 | ", "targets (issue 15):", "ready from a snapshot"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the report lacks %q:\n%s", want, out.String())
		}
	}
	if !strings.Contains(progress.String(), "generating 2000 events") {
		t.Errorf("the first run did not generate the log:\n%s", progress.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "logs", "2000", "snapshots")); err != nil {
		t.Errorf("no snapshot directory: %v", err)
	}

	progress.Reset()
	out.Reset()
	if err := run(context.Background(), o, &out, &progress); err != nil {
		t.Fatalf("second run: %v\n%s", err, progress.String())
	}
	if !strings.Contains(progress.String(), "reusing") || strings.Contains(progress.String(), "generating") {
		t.Errorf("the second run did not reuse the log:\n%s", progress.String())
	}
}
