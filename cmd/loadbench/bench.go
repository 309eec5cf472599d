package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"
)

// bench runs measurements against child servers.
type bench struct {
	o        options
	bin      string // the API server binary
	dir      string // scratch space: store files and logs
	progress io.Writer
	client   *gqlClient // its URL is set per server
	base     *child     // the baseline server, started on first use
	runs     int        // servers measured so far, to alternate -keyed's order
}

func newBench(o options, bin, dir string, progress io.Writer) *bench {
	return &bench{o: o, bin: bin, dir: dir, progress: progress, client: &gqlClient{http: newHTTPClient(o.Clients)}}
}

// close stops the baseline server if it runs.
func (b *bench) close() {
	if b.base != nil {
		b.base.stop()
		b.base = nil
	}
	b.client.http.CloseIdleConnections()
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.progress, format+"\n", args...)
}

// serverRun is one run of the API server: its query and mutation figures.
type serverRun struct {
	Queries, Mutations measurement
	// Keyed is the mutation with an Idempotency-Key (with -keyed).
	Keyed measurement
}

// runServer starts a fresh API server with args, sets up its data,
// measures the query and then the mutation workload, and stops it.
func (b *bench) runServer(ctx context.Context, args []string) (serverRun, error) {
	srv, err := startServer(ctx, b.bin, b.dir, args)
	if err != nil {
		return serverRun{}, err
	}
	r, err := b.measureServer(ctx, srv)
	// A server that does not stop cleanly fails the run: its figures may
	// hide a crash.
	err = errors.Join(err, srv.stop())
	// Each run's store and log are dropped: a run's mutations fill a few
	// hundred MB with request logging on, which the next run does not need.
	os.RemoveAll(srv.cmd.Dir)
	return r, err
}

func (b *bench) measureServer(ctx context.Context, srv *apiServer) (serverRun, error) {
	defer b.client.http.CloseIdleConnections()
	b.client.url = srv.url + "/graphql"
	f, err := setUp(ctx, b.client, srv.secret)
	if err != nil {
		return serverRun{}, err
	}
	qwl, err := queries[b.o.Query](f)
	if err != nil {
		return serverRun{}, err
	}
	mwl, err := mutations[b.o.Mutation](f)
	if err != nil {
		return serverRun{}, err
	}
	var r serverRun
	if r.Queries, err = measure(ctx, b.client, qwl, b.o.Clients, b.o.Warmup, b.o.Duration, srv.cmd.Process.Pid); err != nil {
		return r, err
	}
	b.logf("  queries    %s", line(r.Queries))
	plain := func() error {
		if r.Mutations, err = measure(ctx, b.client, mwl, b.o.Clients, b.o.Warmup, b.o.Duration, srv.cmd.Process.Pid); err != nil {
			return err
		}
		b.logf("  mutations  %s", line(r.Mutations))
		return nil
	}
	if !b.o.Keyed {
		return r, plain()
	}
	keyed := func() error {
		kwl := mwl
		kwl.Name, kwl.Keyed = mwl.Name+" + Idempotency-Key", true
		if r.Keyed, err = measure(ctx, b.client, kwl, b.o.Clients, b.o.Warmup, b.o.Duration, srv.cmd.Process.Pid); err != nil {
			return err
		}
		b.logf("  keyed      %s", line(r.Keyed))
		return nil
	}
	// The log grows with every measurement: alternate which side goes
	// first so that the growth weighs on both alike.
	order := []func() error{plain, keyed}
	if b.runs%2 == 1 {
		order = []func() error{keyed, plain}
	}
	b.runs++
	for _, f := range order {
		if err := f(); err != nil {
			return r, err
		}
	}
	return r, nil
}

// runBaseline measures { ping } on the baseline server.
func (b *bench) runBaseline(ctx context.Context) (measurement, error) {
	if b.base == nil {
		exe, err := os.Executable()
		if err != nil {
			return measurement{}, fmt.Errorf("find this program to start the baseline: %w", err)
		}
		if b.base, err = startBaseline(ctx, exe, b.dir); err != nil {
			return measurement{}, err
		}
	}
	defer b.client.http.CloseIdleConnections()
	b.client.url = b.base.url + "/graphql"
	wl, err := pingWorkload()
	if err != nil {
		return measurement{}, err
	}
	m, err := measure(ctx, b.client, wl, b.o.Clients, b.o.Warmup, b.o.Duration, b.base.cmd.Process.Pid)
	if err != nil {
		return m, fmt.Errorf("baseline: %w", err)
	}
	b.logf("  baseline   %s", line(m))
	return m, nil
}

func line(m measurement) string {
	s := fmt.Sprintf("%9.1f/s  p50 %-9s p99 %-9s", m.Rate(), fmtDur(m.Quantile(0.5)), fmtDur(m.Quantile(0.99)))
	if m.CPUKnown {
		s += fmt.Sprintf(" CPU/request: server %-7s client %-7s other load %.2f cores", fmtDur(m.ServerCPUPerRequest()), fmtDur(m.ClientCPUPerRequest()), m.OtherCores())
	}
	return s + fmt.Sprintf(" (%d requests)", m.Requests)
}

// measureAll is the default mode: per run, the API's queries and
// mutations on a fresh server, then the baseline.
func (b *bench) measureAll(ctx context.Context) (*report, error) {
	rep := b.newReport()
	for i := range b.o.Runs {
		b.logf("run %d/%d: server %s", i+1, b.o.Runs, argsLabel(b.o.ServerArgs))
		r, err := b.runServer(ctx, b.o.ServerArgs)
		if err != nil {
			return nil, err
		}
		rep.Queries = append(rep.Queries, r.Queries)
		rep.Mutations = append(rep.Mutations, r.Mutations)
		if b.o.Keyed {
			rep.Keyed = append(rep.Keyed, r.Keyed)
		}
		if b.o.Baseline {
			m, err := b.runBaseline(ctx)
			if err != nil {
				return nil, err
			}
			rep.Baseline = append(rep.Baseline, m)
		}
	}
	return rep, nil
}

// compare is the interleaving mode: runs of the server with the default
// args ("on") and with the -compare args ("off"), alternating, so that a
// drift of the machine (another process, thermal limits, a growing page
// cache) weighs on both sides alike.
func (b *bench) compare(ctx context.Context) (*comparison, error) {
	cmp := &comparison{header: b.header(), On: side{Args: b.o.ServerArgs}, Off: side{Args: b.o.Compare}}
	for i := range b.o.Runs {
		for _, s := range []*side{&cmp.On, &cmp.Off} {
			b.logf("run %d/%d: server %s", i+1, b.o.Runs, argsLabel(s.Args))
			r, err := b.runServer(ctx, s.Args)
			if err != nil {
				return nil, err
			}
			s.Queries = append(s.Queries, r.Queries)
			s.Mutations = append(s.Mutations, r.Mutations)
		}
	}
	return cmp, nil
}

func (b *bench) newReport() *report {
	return &report{header: b.header(), QueryName: b.o.Query, MutationName: b.o.Mutation}
}

// header describes the conditions of the figures.
func (b *bench) header() string {
	return fmt.Sprintf("%d CPUs (GOMAXPROCS %d), shared by the clients and the server; %d clients; %v warm-up + %v measured per figure; %d run(s) per side; %s",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), b.o.Clients, b.o.Warmup, b.o.Duration, b.o.Runs, time.Now().UTC().Format(time.RFC3339))
}

func argsLabel(args []string) string {
	if len(args) == 0 {
		return "(default flags)"
	}
	return strings.Join(args, " ")
}
