// Command growthbench measures how the cost of a log grows with its size:
// for each size in -sizes it makes (or reuses) a log of exactly that many
// events with the server's generate mode, and prints, per size, the file
// size, the time until /readyz answers 200 with and without a read-model
// snapshot, the resident memory after each start, the replay and
// verification rates as ratios of the store's raw read rate measured in
// the same run, and the p50 and p99 of two queries sent over loopback:
// customer(id) with its subscriptions, and the first events page of a
// partner. It ends with the p99 ratios between the largest and the
// smallest size and a pass/fail line per target of issue 15.
//
// It is a benchmark run by hand (not in CI); docs/growth.md says how to
// run it and what each column means. From the repository root:
//
//	go run ./cmd/growthbench -sizes 100000,1000000 -dir "$HOME/growth"
//
// The logs are kept under -dir (one directory per size) and reused when
// they hold exactly the asked count: generating 10,000,000 events takes
// many minutes.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/partnercenter/multichannel/internal/benchproc"
)

// options are growthbench's flags.
type options struct {
	Sizes     []int64
	Dir       string
	ServerBin string
	Repo      string
	Queries   int
	Warmup    int
	Page      int
	Runs      int
	Settle    time.Duration
	Timeout   time.Duration
	Strict    bool
}

// errTargetMissed is returned with -strict when a target is missed.
var errTargetMissed = errors.New("a target is missed")

func parseOptions(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("growthbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	sizes := fs.String("sizes", "100000,1000000,10000000", "comma-separated log sizes, in events")
	fs.StringVar(&o.Dir, "dir", filepath.Join(os.TempDir(), "growthbench"), "where the logs are kept, one directory per size (reused when a log holds the asked count)")
	fs.StringVar(&o.ServerBin, "server", "", "the server binary (default: go build -o into a temporary directory, once)")
	fs.StringVar(&o.Repo, "repo", "", "the repository to build the server from (default: the module of the working directory)")
	fs.IntVar(&o.Queries, "queries", 2000, "timed requests of each query, sent one after the other")
	fs.IntVar(&o.Warmup, "warmup", 200, "requests of each query sent before the timed ones, not counted")
	fs.IntVar(&o.Page, "page", 20, "size of the measured events page (first:)")
	fs.IntVar(&o.Runs, "runs", 1, "fresh starts of each kind (and query runs) per size; the table shows medians")
	fs.DurationVar(&o.Settle, "settle", 10*time.Second, "how long after ready the resident memory is read: the collector settles after the fold")
	fs.DurationVar(&o.Timeout, "timeout", 10*time.Minute, "how long one start may take to become ready")
	fs.BoolVar(&o.Strict, "strict", false, "exit with status 3 when a target is missed")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var err error
	if o.Sizes, err = parseSizes(*sizes); err != nil {
		return o, err
	}
	switch {
	case o.Queries < 1:
		return o, errors.New("-queries must be at least 1")
	case o.Warmup < 0:
		return o, errors.New("-warmup must not be negative")
	case o.Page < 1 || o.Page > 100:
		return o, errors.New("-page must be between 1 and 100 (the API's page limit)")
	case o.Runs < 1:
		return o, errors.New("-runs must be at least 1")
	case o.Settle < 0:
		return o, errors.New("-settle must not be negative")
	case o.Timeout <= 0:
		return o, errors.New("-timeout must be positive")
	case o.Dir == "":
		return o, errors.New("-dir must name a directory")
	}
	return o, nil
}

// parseSizes reads "100000,1000000" (underscores allowed: 1_000_000).
func parseSizes(s string) ([]int64, error) {
	var out []int64
	for _, f := range strings.Split(s, ",") {
		f = strings.ReplaceAll(strings.TrimSpace(f), "_", "")
		if f == "" {
			continue
		}
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-sizes: %q is not a positive count of events", f)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, errors.New("-sizes names no size")
	}
	return out, nil
}

func main() {
	o, err := parseOptions(os.Args[1:], os.Stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "growthbench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	err = run(ctx, o, os.Stdout, os.Stderr)
	switch {
	case errors.Is(err, errTargetMissed):
		fmt.Fprintln(os.Stderr, "growthbench:", err)
		os.Exit(3)
	case err != nil:
		fmt.Fprintln(os.Stderr, "growthbench:", err)
		os.Exit(1)
	}
}

// run builds (or takes) the server binary, measures every size in turn,
// printing progress to progress, and prints the report to out.
func run(ctx context.Context, o options, out, progress io.Writer) error {
	bin := o.ServerBin
	if bin == "" {
		tmp, err := os.MkdirTemp("", "growthbench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		fmt.Fprintln(progress, "building the server ...")
		if bin, err = benchproc.BuildServer(ctx, "growthbench", o.Repo, tmp); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return err
	}
	// Each size leaves its server (started from its snapshot) running, so
	// that the queries can be timed on all of them interleaved.
	var (
		rows    []row
		servers []*server
	)
	defer func() {
		for _, s := range servers {
			s.kill()
		}
	}()
	for _, n := range o.Sizes {
		r, s, err := measureSize(ctx, o, bin, n, progress)
		if err != nil {
			return fmt.Errorf("%d events: %w", n, err)
		}
		rows, servers = append(rows, r), append(servers, s)
	}
	fmt.Fprintf(progress, "timing the queries on %d servers, interleaved ...\n", len(servers))
	if err := measureQueries(ctx, o, servers, rows); err != nil {
		return err
	}
	for i, s := range servers {
		if err := s.stop(); err != nil {
			return fmt.Errorf("%d events: %w", rows[i].Events, err)
		}
		if err := checkUnchanged(ctx, rows[i]); err != nil {
			return err
		}
	}
	rep := report{Rows: rows, Opts: o}
	rep.print(out)
	return rep.verdict(o.Strict)
}
