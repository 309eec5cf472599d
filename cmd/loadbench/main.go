// Command loadbench measures the API under load, on loopback, against a bare
// gqlgen server on the same HTTP stack as its ceiling.
//
// In one run it builds the server (go build), starts it as a child process
// on a free 127.0.0.1 port with a fresh event store file, APP_ENV=production
// and a JWT secret of its own, sets up a partner, a customer and a
// subscription through the API, and then measures, each for -duration after
// -warmup, with -clients concurrent clients:
//
//   - durable mutations: recordExternalSubscription by the customer's Global
//     admin (or onboardCustomer with fresh ids, -mutation onboard), each a
//     real durable append;
//   - simple queries: { partner(id) { id name } } (or { viewer { role } },
//     -query viewer);
//   - the baseline: { ping } on cmd/loadbench/baseline, a child process too.
//
// It prints rate, p50 and p99 for each, and the ratios queries/baseline
// (target >= 50%) and mutations/baseline (target >= 25%). Any non-200
// answer or GraphQL error fails the run.
//
// With -compare "ARGS" it runs the server alternately with -server-args
// (the defaults) and with ARGS, -runs times each, interleaved (on, off, on,
// off, ...), and prints the medians and spreads of both rates for each side
// and their ratio (target: the default side within 10% of the other).
//
// Run it from the repository root: go run ./cmd/loadbench -h.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/partnercenter/multichannel/internal/benchproc"
)

// options are loadbench's flags.
type options struct {
	Duration   time.Duration
	Warmup     time.Duration
	Clients    int
	Runs       int
	ServerArgs []string
	// Compare, when not nil, selects the interleaving mode: the server runs
	// alternately with ServerArgs and with these.
	Compare   []string
	ServerBin string
	Repo      string
	Mutation  string
	Query     string
	Baseline  bool
	Strict    bool
	Keyed     bool
}

// errBelowTarget is returned with -strict when a ratio misses its target.
var errBelowTarget = errors.New("below target")

func parseOptions(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("loadbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	var serverArgs, compare string
	fs.DurationVar(&o.Duration, "duration", 10*time.Second, "how long each figure is measured, after the warm-up")
	fs.DurationVar(&o.Warmup, "warmup", 3*time.Second, "load applied before each measurement, not counted")
	fs.IntVar(&o.Clients, "clients", 64, "concurrent clients, each with one request in flight")
	fs.IntVar(&o.Runs, "runs", 0, "runs of each side (default 1, or 5 with -compare); the table shows medians")
	fs.StringVar(&serverArgs, "server-args", "", "extra flags for the server, split at spaces (e.g. \"-catch-up-timeout=10s\")")
	fs.StringVar(&compare, "compare", "", "interleave runs of the server with -server-args and with these flags, and compare them")
	fs.StringVar(&o.ServerBin, "server-bin", "", "a server binary to run instead of building one")
	fs.StringVar(&o.Repo, "repo", "", "the repository to build the server from (default: the module of the working directory)")
	fs.StringVar(&o.Mutation, "mutation", "record", "the measured mutation: record (recordExternalSubscription) or onboard (onboardCustomer with fresh ids)")
	fs.StringVar(&o.Query, "query", "partner", "the measured query: partner ({ partner(id) { id name } }) or viewer ({ viewer { role } })")
	fs.BoolVar(&o.Baseline, "baseline", true, "measure the bare gqlgen baseline (not in -compare mode)")
	fs.BoolVar(&o.Keyed, "keyed", false, "also measure the mutation with a fresh Idempotency-Key per request on the same server, and report keyed/unkeyed")
	fs.BoolVar(&o.Strict, "strict", false, "exit with status 3 when a ratio misses its target")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	o.ServerArgs = strings.Fields(serverArgs)
	compareSet := false
	fs.Visit(func(f *flag.Flag) { compareSet = compareSet || f.Name == "compare" })
	if compareSet {
		o.Compare = strings.Fields(compare)
		if o.Compare == nil {
			o.Compare = []string{}
		}
	}
	if o.Runs == 0 {
		o.Runs = 1
		if o.Compare != nil {
			o.Runs = 5
		}
	}
	switch {
	case o.Duration <= 0:
		return o, errors.New("-duration must be positive")
	case o.Warmup < 0:
		return o, errors.New("-warmup must not be negative")
	case o.Clients < 1:
		return o, errors.New("-clients must be at least 1")
	case o.Runs < 1:
		return o, errors.New("-runs must be at least 1")
	}
	if _, ok := mutations[o.Mutation]; !ok {
		return o, fmt.Errorf("-mutation must be record or onboard, not %q", o.Mutation)
	}
	if _, ok := queries[o.Query]; !ok {
		return o, fmt.Errorf("-query must be partner or viewer, not %q", o.Query)
	}
	return o, nil
}

func main() {
	// The baseline server runs as a child of this same binary, so that it
	// does not share a Go runtime (scheduler, GC) with the clients, as the
	// API server does not.
	if os.Getenv(childEnv) == childBaseline {
		if err := serveBaseline(os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "baseline:", err)
			os.Exit(1)
		}
		return
	}
	o, err := parseOptions(os.Args[1:], os.Stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "loadbench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	err = run(ctx, o, os.Stdout, os.Stderr)
	switch {
	case errors.Is(err, errBelowTarget):
		fmt.Fprintln(os.Stderr, "loadbench:", err)
		os.Exit(3)
	case err != nil:
		fmt.Fprintln(os.Stderr, "loadbench:", err)
		os.Exit(1)
	}
}

// run builds (or takes) the server binary and runs the selected mode,
// printing progress to progress and the report to out.
func run(ctx context.Context, o options, out, progress io.Writer) error {
	tmp, err := os.MkdirTemp("", "loadbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	bin := o.ServerBin
	if bin == "" {
		fmt.Fprintln(progress, "building the server ...")
		if bin, err = benchproc.BuildServer(ctx, "loadbench", o.Repo, tmp); err != nil {
			return err
		}
	}
	b := newBench(o, bin, tmp, progress)
	defer b.close()
	if o.Compare != nil {
		rep, err := b.compare(ctx)
		if err != nil {
			return err
		}
		rep.print(out)
		return rep.verdict(o.Strict)
	}
	rep, err := b.measureAll(ctx)
	if err != nil {
		return err
	}
	rep.print(out)
	return rep.verdict(o.Strict)
}
