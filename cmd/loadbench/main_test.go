package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/partnercenter/multichannel/cmd/loadbench/requests"
	"github.com/partnercenter/multichannel/internal/benchproc"
)

// TestMain lets the test binary stand in for loadbench as the baseline's
// parent: startBaseline re-executes os.Executable() with LOADBENCH_CHILD.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == childBaseline {
		if err := serveBaseline(os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func ms(ns ...int) []time.Duration {
	out := make([]time.Duration, len(ns))
	for i, n := range ns {
		out[i] = time.Duration(n) * time.Millisecond
	}
	return out
}

func TestQuantile(t *testing.T) {
	t.Parallel()
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	for _, tc := range []struct {
		name   string
		sorted []time.Duration
		q      float64
		want   time.Duration
	}{
		{"empty", nil, 0.5, 0},
		{"one", ms(7), 0.99, 7 * time.Millisecond},
		{"p50 of 4 is the 2nd", ms(1, 2, 3, 4), 0.5, 2 * time.Millisecond},
		{"p50 of 5 is the 3rd", ms(1, 2, 3, 4, 5), 0.5, 3 * time.Millisecond},
		{"p99 of 100 is the 99th", ms(hundred...), 0.99, 99 * time.Millisecond},
		{"p100 is the max", ms(1, 2, 3), 1, 3 * time.Millisecond},
		{"p0 is the min", ms(1, 2, 3), 0, 1 * time.Millisecond},
	} {
		if got := quantile(tc.sorted, tc.q); got != tc.want {
			t.Errorf("%s: quantile(%v) = %v, want %v", tc.name, tc.q, got, tc.want)
		}
	}
}

func TestMedianAndSummary(t *testing.T) {
	t.Parallel()
	if got := median([]float64{3, 1, 2}); got != 2 {
		t.Errorf("median odd = %v", got)
	}
	if got := median([]float64{4, 1, 3, 2}); got != 2.5 {
		t.Errorf("median even = %v", got)
	}
	in := []float64{3, 1, 2}
	median(in)
	if !slices.Equal(in, []float64{3, 1, 2}) {
		t.Errorf("median sorted its argument: %v", in)
	}
	runs := []measurement{
		{Requests: 100, Window: time.Second, Latencies: ms(1, 2, 3)},
		{Requests: 300, Window: time.Second, Latencies: ms(4, 5, 6)},
		{Requests: 200, Window: 2 * time.Second, Latencies: ms(7, 8, 9)},
	}
	s := summarize(runs)
	if s.Rate != 100 || s.Min != 100 || s.Max != 300 || s.Runs != 3 || s.Requests != 600 {
		t.Errorf("summary %+v: want median 100, spread 100-300, 3 runs, 600 requests", s)
	}
	if s.P50 != 5*time.Millisecond || s.P99 != 6*time.Millisecond {
		t.Errorf("summary p50 %v p99 %v: want the medians of the runs' (5ms, 6ms)", s.P50, s.P99)
	}
}

func TestCheckAnswer(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		status  int
		body    string
		wantErr any // nil, *StatusError or *GraphQLError
		wantMsg string
	}{
		{"data", 200, `{"data":{"ping":"pong"}}`, nil, ""},
		{"the word errors inside data", 200, `{"data":{"name":"\"errors\""}}`, nil, ""},
		{"empty errors list", 200, `{"errors":[],"data":{"ping":"pong"}}`, nil, ""},
		{"GraphQL error", 200, `{"errors":[{"message":"no such partner","extensions":{"code":"NOT_FOUND"}}],"data":{"partner":null}}`, new(*GraphQLError), "no such partner (NOT_FOUND)"},
		{"server error", 500, `internal`, new(*StatusError), "HTTP 500: internal"},
		{"too large", 413, `request body too large`, new(*StatusError), "HTTP 413"},
		{"not JSON", 200, `"errors" <html>`, errors.New(""), "decode"},
	} {
		err := checkAnswer(tc.status, []byte(tc.body))
		switch target := tc.wantErr.(type) {
		case nil:
			if err != nil {
				t.Errorf("%s: %v, want no error", tc.name, err)
			}
			continue
		case **GraphQLError:
			if !errors.As(err, target) {
				t.Errorf("%s: %v, want a *GraphQLError", tc.name, err)
			}
		case **StatusError:
			if !errors.As(err, target) || (*target).Status != tc.status {
				t.Errorf("%s: %v, want a *StatusError with %d", tc.name, err, tc.status)
			}
		default:
			if err == nil {
				t.Errorf("%s: no error", tc.name)
			}
		}
		if err != nil && !strings.Contains(err.Error(), tc.wantMsg) {
			t.Errorf("%s: %q does not say %q", tc.name, err, tc.wantMsg)
		}
	}
}

// fakeAPI answers every POST with data, after checking the token, and
// counts the requests; fail, when set, says which request gets what.
type fakeAPI struct {
	requests atomic.Int64
	fail     func(n int64) (status int, body string, failed bool)
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := f.requests.Add(1)
	io.Copy(io.Discard, r.Body)
	if r.Method != http.MethodPost || r.Header.Get("Authorization") != "Bearer tok" || r.Header.Get("Content-Type") != "application/json" {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	if f.fail != nil {
		if status, body, failed := f.fail(n); failed {
			w.WriteHeader(status)
			io.WriteString(w, body)
			return
		}
	}
	io.WriteString(w, `{"data":{"ping":"pong"}}`)
}

func pingLoad() workload {
	return workload{Name: "ping", Token: "tok", Body: staticBody([]byte(`{"query":"{ ping }"}`))}
}

func TestMeasureCountsTheWindowOnly(t *testing.T) {
	t.Parallel()
	api := &fakeAPI{}
	srv := httptest.NewServer(api)
	defer srv.Close()
	c := &gqlClient{http: newHTTPClient(4), url: srv.URL}
	m, err := measure(context.Background(), c, pingLoad(), 4, 50*time.Millisecond, 200*time.Millisecond, os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if m.Requests == 0 || len(m.Latencies) != m.Requests {
		t.Fatalf("%d requests, %d latencies", m.Requests, len(m.Latencies))
	}
	if !slices.IsSorted(m.Latencies) {
		t.Error("latencies not sorted")
	}
	// The warm-up's requests reached the server but are not counted.
	if served := api.requests.Load(); served <= int64(m.Requests) {
		t.Errorf("server saw %d requests, the window counted %d: the warm-up was counted", served, m.Requests)
	}
	if runtime.GOOS == "linux" && !m.CPUKnown {
		t.Error("CPU time not sampled")
	}
	if m.Rate() != float64(m.Requests)/0.2 {
		t.Errorf("rate %v for %d requests in 200ms", m.Rate(), m.Requests)
	}
}

func TestMeasureFailsOnTheFirstBadAnswer(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		status int
		body   string
		target any
	}{
		{"GraphQL error", 200, `{"errors":[{"message":"boom","extensions":{"code":"INTERNAL"}}]}`, new(*GraphQLError)},
		{"non-200", 503, `unavailable`, new(*StatusError)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			api := &fakeAPI{fail: func(n int64) (int, string, bool) { return tc.status, tc.body, n == 20 }}
			srv := httptest.NewServer(api)
			defer srv.Close()
			c := &gqlClient{http: newHTTPClient(4), url: srv.URL}
			// An hour-long window: only the failure can end it.
			_, err := measure(context.Background(), c, pingLoad(), 4, 0, time.Hour, 0)
			if !errors.As(err, tc.target) {
				t.Fatalf("err = %v, want %T", err, tc.target)
			}
			if !strings.Contains(err.Error(), "ping: client ") {
				t.Errorf("%q does not name the workload and the client", err)
			}
		})
	}
}

func TestMeasureStopsWhenCancelled(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(&fakeAPI{})
	defer srv.Close()
	c := &gqlClient{http: newHTTPClient(2), url: srv.URL}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	if _, err := measure(ctx, c, pingLoad(), 2, 0, time.Hour, 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestParseOptions(t *testing.T) {
	t.Parallel()
	o, err := parseOptions(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.Compare != nil || o.Runs != 1 || o.Clients != 64 || o.Duration != 10*time.Second || !o.Baseline {
		t.Errorf("defaults %+v", o)
	}
	o, err = parseOptions([]string{"-compare", "-metrics=false  -request-log=false", "-server-args", "-a=1 -b=2"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(o.Compare, []string{"-metrics=false", "-request-log=false"}) || !slices.Equal(o.ServerArgs, []string{"-a=1", "-b=2"}) || o.Runs != 5 {
		t.Errorf("compare %q, server args %q, runs %d: want split flags and 5 runs", o.Compare, o.ServerArgs, o.Runs)
	}
	// An empty -compare still selects the mode: defaults against no flags.
	if o, err = parseOptions([]string{"-compare", ""}, io.Discard); err != nil || o.Compare == nil {
		t.Errorf("-compare \"\": compare %#v, err %v", o.Compare, err)
	}
	for _, bad := range [][]string{
		{"-mutation", "delete"}, {"-query", "everything"}, {"-clients", "0"},
		{"-duration", "0s"}, {"-runs", "-1"}, {"stray"},
	} {
		if _, err := parseOptions(bad, io.Discard); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestReportRatiosAndStrictVerdict(t *testing.T) {
	t.Parallel()
	run := func(n int) []measurement {
		return []measurement{{Name: "x", Requests: n, Window: time.Second, Latencies: ms(1)}}
	}
	r := &report{Queries: run(600), Mutations: run(200), Baseline: run(1000)}
	if r.QueryRatio() != 0.6 || r.MutationRatio() != 0.2 {
		t.Fatalf("ratios %v %v", r.QueryRatio(), r.MutationRatio())
	}
	var out bytes.Buffer
	r.print(&out)
	for _, want := range []string{"queries / baseline     60.0%  (target >= 50%: met)", "mutations / baseline   20.0%  (target >= 25%: BELOW TARGET)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	if err := r.verdict(false); err != nil {
		t.Errorf("lenient verdict: %v", err)
	}
	if err := r.verdict(true); !errors.Is(err, errBelowTarget) {
		t.Errorf("strict verdict: %v, want errBelowTarget", err)
	}
	c := &comparison{On: side{Queries: run(950), Mutations: run(850)}, Off: side{Queries: run(1000), Mutations: run(1000)}}
	out.Reset()
	c.print(&out)
	for _, want := range []string{"on/off queries     95.0%  (target >= 90%: met)", "on/off mutations   85.0%  (target >= 90%: BELOW TARGET)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("comparison lacks %q:\n%s", want, out.String())
		}
	}
	if err := c.verdict(true); !errors.Is(err, errBelowTarget) {
		t.Errorf("strict comparison verdict: %v", err)
	}
}

// The baseline runs as a child process (this test binary, by TestMain),
// answers { ping } on loopback and stops cleanly on SIGTERM.
func TestBaselineChild(t *testing.T) {
	t.Parallel()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	base, err := startBaseline(ctx, exe, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c := &gqlClient{http: newHTTPClient(2), url: base.url + "/graphql"}
	var got struct{ Ping string }
	if err := c.do(ctx, "", requests.Ping, nil, &got); err != nil || got.Ping != "pong" {
		t.Errorf("ping: %q, %v", got.Ping, err)
	}
	wl, err := pingWorkload()
	if err != nil {
		t.Fatal(err)
	}
	m, err := measure(ctx, c, wl, 2, 0, 100*time.Millisecond, base.cmd.Process.Pid)
	if err != nil || m.Requests == 0 {
		t.Errorf("measure: %d requests, %v", m.Requests, err)
	}
	if runtime.GOOS == "linux" && !m.CPUKnown {
		t.Error("the baseline's CPU time was not sampled")
	}
	c.http.CloseIdleConnections()
	if err := base.stop(); err != nil {
		t.Errorf("stop: %v", err)
	}
}

func TestProcessCPU(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("CPU times come from /proc")
	}
	before, err := processCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// Spin until the clock ticks (10ms of CPU at USER_HZ 100): the count
	// must move, and stay far below a minute.
	x := 0
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		for i := range 1_000_000 {
			x += i
		}
		after, err := processCPU(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		if after > before {
			if after-before > time.Minute {
				t.Fatalf("CPU time jumped from %v to %v", before, after)
			}
			return
		}
	}
	t.Fatalf("CPU time stayed at %v (%d)", before, x)
}

// A server that exits at once fails the start with what it printed.
func TestStartServerThatExits(t *testing.T) {
	t.Parallel()
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh:", err)
	}
	_, err = startServer(context.Background(), sh, t.TempDir(), []string{"-c", "echo bad configuration: $APP_ENV >&2; exit 2"})
	if err == nil || !strings.Contains(err.Error(), "exited before it was ready") || !strings.Contains(err.Error(), "bad configuration: production") {
		t.Fatalf("err = %v, want an early exit with the log's tail", err)
	}
}

// TestEndToEnd builds the real server and runs both modes briefly. It takes
// a minute or more on two cores, so it runs only with LOADBENCH_E2E=1.
func TestEndToEnd(t *testing.T) {
	if os.Getenv("LOADBENCH_E2E") != "1" {
		t.Skip("set LOADBENCH_E2E=1 to build the server and run the benchmark briefly")
	}
	ctx := context.Background()
	bin, err := benchproc.BuildServer(ctx, "loadbench", "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	base := options{Duration: 300 * time.Millisecond, Warmup: 100 * time.Millisecond, Clients: 8, Runs: 1,
		ServerBin: bin, Mutation: "record", Query: "partner", Baseline: true}

	t.Run("default mode", func(t *testing.T) {
		for _, mq := range [][2]string{{"record", "partner"}, {"onboard", "viewer"}} {
			o := base
			o.Mutation, o.Query = mq[0], mq[1]
			var out, progress bytes.Buffer
			if err := run(ctx, o, &out, &progress); err != nil {
				t.Fatalf("%v\n%s", err, progress.String())
			}
			for _, want := range []string{"queries / baseline", "mutations / baseline", "{ ping }"} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("output lacks %q:\n%s", want, out.String())
				}
			}
		}
	})
	t.Run("keyed mutations beside plain ones", func(t *testing.T) {
		o := base
		o.Keyed, o.Runs = true, 2
		var out, progress bytes.Buffer
		if err := run(ctx, o, &out, &progress); err != nil {
			t.Fatalf("%v\n%s", err, progress.String())
		}
		for _, want := range []string{"recordExternalSubscription + Idempotency-Key", "keyed / unkeyed mutations"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("output lacks %q:\n%s", want, out.String())
			}
		}
	})
	t.Run("compare mode, harmless args", func(t *testing.T) {
		o := base
		o.Runs = 2
		o.Compare = []string{"-expiry-sweep=31s"}
		var out, progress bytes.Buffer
		if err := run(ctx, o, &out, &progress); err != nil {
			t.Fatalf("%v\n%s", err, progress.String())
		}
		if got := strings.Count(progress.String(), "server -expiry-sweep=31s"); got != 2 {
			t.Errorf("%d runs with the compared args, want 2:\n%s", got, progress.String())
		}
		for _, want := range []string{"on/off queries", "on/off mutations", "off: -expiry-sweep=31s"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("output lacks %q:\n%s", want, out.String())
			}
		}
	})
	t.Run("a flag the server rejects fails the run", func(t *testing.T) {
		o := base
		o.ServerArgs = []string{"-no-such-flag"}
		var out, progress bytes.Buffer
		err := run(ctx, o, &out, &progress)
		if err == nil || !strings.Contains(err.Error(), "no-such-flag") {
			t.Fatalf("err = %v, want the server's refusal of -no-such-flag", err)
		}
	})
}
