package main

import (
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"
)

// Targets: the API's rate as a share of the baseline's, and the on/off
// ratio of the observability comparison.
const (
	queryTarget    = 0.50
	mutationTarget = 0.25
	compareTarget  = 0.90
)

// summary condenses the runs of one figure: the median rate and its
// spread, and the medians of the runs' p50 and p99.
type summary struct {
	Runs               int
	Rate, Min, Max     float64
	P50, P99           time.Duration
	Requests, Failures int
	// ServerCPU and ClientCPU are the medians of the runs' CPU per
	// request; CPUKnown when every run sampled them.
	ServerCPU, ClientCPU time.Duration
	CPUKnown             bool
	// OtherCores is the most cores other processes kept busy in any run.
	OtherCores float64
}

func summarize(ms []measurement) summary {
	s := summary{Runs: len(ms)}
	if len(ms) == 0 {
		return s
	}
	rates := make([]float64, len(ms))
	p50s := make([]time.Duration, len(ms))
	p99s := make([]time.Duration, len(ms))
	for i, m := range ms {
		rates[i], p50s[i], p99s[i] = m.Rate(), m.Quantile(0.5), m.Quantile(0.99)
		s.Requests += m.Requests
	}
	s.Rate, s.P50, s.P99 = median(rates), median(p50s), median(p99s)
	s.Min, s.Max = slices.Min(rates), slices.Max(rates)
	s.CPUKnown = true
	var scpu, ccpu []time.Duration
	for _, m := range ms {
		s.CPUKnown = s.CPUKnown && m.CPUKnown
		s.OtherCores = max(s.OtherCores, m.OtherCores())
		scpu, ccpu = append(scpu, m.ServerCPUPerRequest()), append(ccpu, m.ClientCPUPerRequest())
	}
	if s.CPUKnown {
		s.ServerCPU, s.ClientCPU = median(scpu), median(ccpu)
	}
	return s
}

// median returns the middle value, or the mean of the two middle ones.
func median[T ~int64 | ~float64](xs []T) T {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// ratio is a/b, 0 when b is 0.
func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func fmtDur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.0fµs", float64(d)/float64(time.Microsecond))
	}
}

func spread(s summary) string {
	if s.Runs < 2 {
		return "-"
	}
	return fmt.Sprintf("%.0f-%.0f", s.Min, s.Max)
}

func cpuCell(s summary, server bool) string {
	switch {
	case !s.CPUKnown:
		return "-"
	case server:
		return fmtDur(s.ServerCPU)
	default:
		return fmtDur(s.ClientCPU)
	}
}

// otherCell shows the most cores other processes took in any run: a run
// that had to share its cores with them is slower for it.
func otherCell(s summary) string {
	if !s.CPUKnown {
		return "-"
	}
	return fmt.Sprintf("max %.2f cores", s.OtherCores)
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "BELOW TARGET"
}

// report is the default mode's outcome.
type report struct {
	header                       string
	QueryName, MutationName      string
	Queries, Mutations, Baseline []measurement
	// Keyed are the mutations with an Idempotency-Key (-keyed), measured
	// on the same servers as Mutations.
	Keyed []measurement
}

// QueryRatio and MutationRatio compare the medians with the baseline's;
// 0 without a baseline.
func (r *report) QueryRatio() float64 {
	return ratio(summarize(r.Queries).Rate, summarize(r.Baseline).Rate)
}

func (r *report) MutationRatio() float64 {
	return ratio(summarize(r.Mutations).Rate, summarize(r.Baseline).Rate)
}

func (r *report) print(w io.Writer) {
	fmt.Fprintf(w, "\n%s\n\n", r.header)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "figure\toperation\trate/s\tp50\tp99\truns min-max/s\tserver CPU/req\tclient CPU/req\tother load\t")
	row := func(fig, op string, ms []measurement) {
		if len(ms) == 0 {
			return
		}
		s := summarize(ms)
		fmt.Fprintf(tw, "%s\t%s\t%.0f\t%s\t%s\t%s\t%s\t%s\t%s\t\n", fig, op, s.Rate, fmtDur(s.P50), fmtDur(s.P99), spread(s), cpuCell(s, true), cpuCell(s, false), otherCell(s))
	}
	row("queries", name(r.Queries), r.Queries)
	row("mutations", name(r.Mutations), r.Mutations)
	row("keyed", name(r.Keyed), r.Keyed)
	row("baseline", name(r.Baseline), r.Baseline)
	tw.Flush()
	if len(r.Keyed) > 0 {
		m, k := summarize(r.Mutations), summarize(r.Keyed)
		fmt.Fprintln(w)
		fmt.Fprintf(w, "keyed / unkeyed mutations  %5.1f%% of the rate", 100*ratio(k.Rate, m.Rate))
		if m.CPUKnown && k.CPUKnown && m.ServerCPU > 0 {
			fmt.Fprintf(w, ", %5.1f%% of the server CPU per request", 100*float64(k.ServerCPU)/float64(m.ServerCPU))
		}
		fmt.Fprintln(w)
	}
	if len(r.Baseline) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintf(w, "queries / baseline    %5.1f%%  (target >= %.0f%%: %s)\n", 100*r.QueryRatio(), 100*queryTarget, verdict(r.QueryRatio() >= queryTarget))
		fmt.Fprintf(w, "mutations / baseline  %5.1f%%  (target >= %.0f%%: %s)\n", 100*r.MutationRatio(), 100*mutationTarget, verdict(r.MutationRatio() >= mutationTarget))
		// The same ratios priced in the server's CPU per request: what the
		// rates would show if the server had the cores to itself.
		b, q, m := summarize(r.Baseline), summarize(r.Queries), summarize(r.Mutations)
		if b.CPUKnown && q.CPUKnown && m.CPUKnown && q.ServerCPU > 0 && m.ServerCPU > 0 {
			fmt.Fprintf(w, "by server CPU per request (baseline/API): queries %.1f%%, mutations %.1f%%\n",
				100*float64(b.ServerCPU)/float64(q.ServerCPU), 100*float64(b.ServerCPU)/float64(m.ServerCPU))
		}
	}
}

// verdict fails a strict run whose ratios miss their targets.
func (r *report) verdict(strict bool) error {
	if !strict || len(r.Baseline) == 0 {
		return nil
	}
	if r.QueryRatio() < queryTarget || r.MutationRatio() < mutationTarget {
		return fmt.Errorf("%w: queries/baseline %.1f%%, mutations/baseline %.1f%%", errBelowTarget, 100*r.QueryRatio(), 100*r.MutationRatio())
	}
	return nil
}

func name(ms []measurement) string {
	if len(ms) == 0 {
		return ""
	}
	return ms[0].Name
}

// side is one configuration of the comparison.
type side struct {
	Args               []string
	Queries, Mutations []measurement
}

// comparison is the interleaving mode's outcome: "on" runs with the
// default args, "off" with the -compare ones.
type comparison struct {
	header  string
	On, Off side
}

// QueryRatio and MutationRatio are on/off of the median rates.
func (c *comparison) QueryRatio() float64 {
	return ratio(summarize(c.On.Queries).Rate, summarize(c.Off.Queries).Rate)
}

func (c *comparison) MutationRatio() float64 {
	return ratio(summarize(c.On.Mutations).Rate, summarize(c.Off.Mutations).Rate)
}

func (c *comparison) print(w io.Writer) {
	fmt.Fprintf(w, "\n%s\n\n", c.header)
	fmt.Fprintf(w, "on:  %s\noff: %s\n\n", argsLabel(c.On.Args), argsLabel(c.Off.Args))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "side\tfigure\toperation\tmedian rate/s\truns min-max/s\tp50\tp99\tserver CPU/req\tother load\t")
	for _, s := range []struct {
		label string
		side  side
	}{{"on", c.On}, {"off", c.Off}} {
		for _, f := range []struct {
			fig string
			ms  []measurement
		}{{"queries", s.side.Queries}, {"mutations", s.side.Mutations}} {
			sum := summarize(f.ms)
			fmt.Fprintf(tw, "%s\t%s\t%s\t%.0f\t%s\t%s\t%s\t%s\t%s\t\n", s.label, f.fig, name(f.ms), sum.Rate, spread(sum), fmtDur(sum.P50), fmtDur(sum.P99), cpuCell(sum, true), otherCell(sum))
		}
	}
	tw.Flush()
	fmt.Fprintln(w)
	fmt.Fprintf(w, "on/off queries    %5.1f%%  (target >= %.0f%%: %s)\n", 100*c.QueryRatio(), 100*compareTarget, verdict(c.QueryRatio() >= compareTarget))
	fmt.Fprintf(w, "on/off mutations  %5.1f%%  (target >= %.0f%%: %s)\n", 100*c.MutationRatio(), 100*compareTarget, verdict(c.MutationRatio() >= compareTarget))
	// CPU per request is the steadier figure when other processes share
	// the machine: it does not count the time the server waited for a core.
	for _, f := range []struct {
		fig     string
		on, off []measurement
	}{{"queries", c.On.Queries, c.Off.Queries}, {"mutations", c.On.Mutations, c.Off.Mutations}} {
		on, off := summarize(f.on), summarize(f.off)
		if on.CPUKnown && off.CPUKnown && off.ServerCPU > 0 {
			fmt.Fprintf(w, "server CPU per request, on/off, %-9s %5.1f%%\n", f.fig+":", 100*float64(on.ServerCPU)/float64(off.ServerCPU))
		}
	}
}

func (c *comparison) verdict(strict bool) error {
	if !strict {
		return nil
	}
	if c.QueryRatio() < compareTarget || c.MutationRatio() < compareTarget {
		return fmt.Errorf("%w: on/off queries %.1f%%, mutations %.1f%%", errBelowTarget, 100*c.QueryRatio(), 100*c.MutationRatio())
	}
	return nil
}
