package main

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The targets of issue 15 ("How its cost grows"), for the log of
// targetEvents events; the p99s may grow less than maxP99Growth times
// from the smallest log to that one.
const (
	targetEvents   = 10_000_000
	maxReadySnap   = 10 * time.Second
	maxReadyCold   = 60 * time.Second
	maxResident    = 6_000_000_000 // 6 GB, in bytes (6e9, below 6 GiB: the stricter reading)
	maxP99Growth   = 2.0
	minReplayRatio = 0.6  // of the raw read rate (issue 15, item 3)
	minVerifyRatio = 0.85 // of the raw read rate (issue 15, item 3)
)

// report is the run's figures, one row per size in the order measured.
type report struct {
	Rows []row
	Opts options
}

func (rep report) print(w io.Writer) {
	o := rep.Opts
	fmt.Fprintf(w, "\n%d timed requests of each query after %d untimed, one at a time over loopback; %d run(s) per size, medians; resident memory %s after ready\n\n",
		o.Queries, o.Warmup, o.Runs, o.Settle)

	fmt.Fprintln(w, "| events | file | snapshot | ready, no snapshot | ready, from snapshot | resident, no snapshot | resident, from snapshot | first touch of that memory |")
	fmt.Fprintln(w, "|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range rep.Rows {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", count(r.Events), formatBytes(r.FileBytes), formatBytes(r.SnapshotBytes),
			spread(r.ReadyCold, r.ReadyColdAll), spread(r.ReadySnap, r.ReadySnapAll), formatBytes(r.RSSCold), formatBytes(r.RSSSnap),
			r.TouchSnap.Round(10*time.Millisecond))
	}

	fmt.Fprintln(w)
	fmt.Fprintln(w, "| events | raw read | replay | replay / raw | verify | verify / raw |")
	fmt.Fprintln(w, "|---:|---:|---:|---:|---:|---:|")
	for _, r := range rep.Rows {
		fmt.Fprintf(w, "| %s | %s/s | %s/s%s | %.2f | %s/s%s | %.2f |\n", count(r.Events), count(int64(r.RawRate)),
			count(int64(r.Replay.Rate)), timedMark(r.Replay), r.Replay.Rate/r.RawRate,
			count(int64(r.Verify.Rate)), timedMark(r.Verify), r.Verify.Rate/r.RawRate)
	}

	fmt.Fprintln(w)
	fmt.Fprintf(w, "| events | customer(id) p50 | customer(id) p99 | events page p50 | events page p99 | subscriptions | partner's events | collections |\n")
	fmt.Fprintln(w, "|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range rep.Rows {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %d | %s | %d |\n", count(r.Events), millis(r.Customer.P50), millis(r.Customer.P99),
			millis(r.EventsPage.P50), millis(r.EventsPage.P99), r.Fixture.Subscriptions, count(int64(r.Fixture.PartnerEvents)), r.QueryGCs)
	}
	if timed := rep.anyTimed(); timed {
		fmt.Fprintln(w, "\n(*) the mode printed no rate: its process's time, opening the store included")
	}

	fmt.Fprintln(w)
	if g, ok := rep.growth(); ok {
		fmt.Fprintf(w, "p99 growth, %s / %s events: customer(id) %.2fx, events page %.2fx\n",
			count(g.to), count(g.from), g.customer, g.events)
	}
	fmt.Fprintln(w, "\ntargets (issue 15):")
	for _, t := range rep.targets() {
		verdict := "FAIL"
		if t.pass {
			verdict = "PASS"
		}
		fmt.Fprintf(w, "%s %s: %s\n", verdict, t.name, t.got)
	}
}

func timedMark(m modeRate) string {
	if m.Timed {
		return " (*)"
	}
	return ""
}

func (rep report) anyTimed() bool {
	for _, r := range rep.Rows {
		if r.Replay.Timed || r.Verify.Timed {
			return true
		}
	}
	return false
}

// growthFigures are the p99 ratios between the largest and the smallest
// log measured.
type growthFigures struct {
	from, to         int64
	customer, events float64
}

func (rep report) growth() (growthFigures, bool) {
	small, large, ok := rep.extremes()
	if !ok || small.Events == large.Events {
		return growthFigures{}, false
	}
	return growthFigures{
		from: small.Events, to: large.Events,
		customer: float64(large.Customer.P99) / float64(small.Customer.P99),
		events:   float64(large.EventsPage.P99) / float64(small.EventsPage.P99),
	}, true
}

// extremes are the rows of the smallest and the largest log.
func (rep report) extremes() (small, large row, ok bool) {
	if len(rep.Rows) == 0 {
		return row{}, row{}, false
	}
	small, large = rep.Rows[0], rep.Rows[0]
	for _, r := range rep.Rows[1:] {
		if r.Events < small.Events {
			small = r
		}
		if r.Events > large.Events {
			large = r
		}
	}
	return small, large, true
}

type target struct {
	name, got string
	pass      bool
}

// targets checks the targets on the log of targetEvents events,
// or on the largest measured when that size was not run (the name then
// says so: a smaller log passing says little about the large one).
func (rep report) targets() []target {
	small, large, ok := rep.extremes()
	if !ok {
		return nil
	}
	at := "at " + count(large.Events) + " events"
	if large.Events != targetEvents {
		at += " (the target is for " + count(targetEvents) + ")"
	}
	rss := max(large.RSSCold, large.RSSSnap)
	ts := []target{
		{fmt.Sprintf("ready from a snapshot in under %.0f s %s", maxReadySnap.Seconds(), at), seconds(large.ReadySnap), large.ReadySnap < maxReadySnap},
		{fmt.Sprintf("ready with no snapshot in under %.0f s %s", maxReadyCold.Seconds(), at), seconds(large.ReadyCold), large.ReadyCold < maxReadyCold},
		{"at most 6 GB resident after start " + at, formatBytes(rss), rss <= maxResident},
	}
	if g, ok := rep.growth(); ok {
		span := "from " + count(small.Events) + " to " + count(large.Events) + " events"
		if small.Events != 100_000 || large.Events != targetEvents {
			span += " (the target is from 100,000 to " + count(targetEvents) + ")"
		}
		ts = append(ts,
			target{fmt.Sprintf("customer(id) p99 grows less than %.0fx %s", maxP99Growth, span), fmt.Sprintf("%.2fx", g.customer), g.customer < maxP99Growth},
			target{fmt.Sprintf("events page p99 grows less than %.0fx %s", maxP99Growth, span), fmt.Sprintf("%.2fx", g.events), g.events < maxP99Growth},
		)
	}
	for _, r := range rep.Rows {
		rr, vr := r.Replay.Rate/r.RawRate, r.Verify.Rate/r.RawRate
		ts = append(ts,
			target{fmt.Sprintf("replay at least %.2f of the raw read rate at %s events", minReplayRatio, count(r.Events)), fmt.Sprintf("%.2f", rr), rr >= minReplayRatio},
			target{fmt.Sprintf("verify at least %.2f of the raw read rate at %s events", minVerifyRatio, count(r.Events)), fmt.Sprintf("%.2f", vr), vr >= minVerifyRatio},
		)
	}
	return ts
}

// verdict is errTargetMissed with -strict when a target is missed.
func (rep report) verdict(strict bool) error {
	if !strict {
		return nil
	}
	for _, t := range rep.targets() {
		if !t.pass {
			return fmt.Errorf("%w: %s (%s)", errTargetMissed, t.name, t.got)
		}
	}
	return nil
}

// count writes n with thousands separators: 10,000,000.
func count(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func formatBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	default:
		return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
	}
}

// spread is the median d, with the fastest and the slowest of all when
// there are several: on a shared machine a start's time moves with the
// other load.
func spread(d time.Duration, all []time.Duration) string {
	if len(all) < 2 {
		return seconds(d)
	}
	return fmt.Sprintf("%s (%.2f to %.2f)", seconds(d), slices.Min(all).Seconds(), slices.Max(all).Seconds())
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

func millis(d time.Duration) string {
	return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
}
