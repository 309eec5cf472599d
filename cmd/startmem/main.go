// Command startmem measures what a server holds once it has started on an
// existing log: it starts the server binary as a child process on a free
// 127.0.0.1 port, in production mode with a JWT secret of its own and no
// read-model snapshot (-snapshot-dir off, so the whole log is folded),
// polls /readyz until it answers 200, and then reads /metrics: the
// process's resident memory, the Go heap in use, the bytes the runtime
// holds from the system, and the memory limit the collector works to.
// It prints them with the time to ready, -runs times (one fresh process
// each), and stops the server.
//
// Make the log once, then measure (from the repository root):
//
//	go build -o /tmp/mc . && /tmp/mc generate -events 1000000 -events-db /tmp/m1/events.db
//	go run ./cmd/startmem -server /tmp/mc -events-db /tmp/m1/events.db
//
// Extra arguments after -- go to the server (e.g. -- -gc-headroom-mib 0),
// and the environment is passed on (GOGC, GOMEMLIMIT).
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/partnercenter/multichannel/internal/benchproc"
)

func main() {
	server := flag.String("server", "", "the server binary (go build -o FILE .)")
	eventsDB := flag.String("events-db", "", "the store file to start on (made by the server's generate mode)")
	runs := flag.Int("runs", 1, "how many fresh starts to measure")
	timeout := flag.Duration("timeout", 5*time.Minute, "how long a start may take to become ready")
	settle := flag.Duration("settle", 10*time.Second, "how long after ready to read /metrics: the collector settles after the fold")
	flag.Parse()
	if *server == "" || *eventsDB == "" {
		fmt.Fprintln(os.Stderr, "startmem: -server and -events-db are required")
		os.Exit(2)
	}
	for i := range *runs {
		m, err := measure(*server, *eventsDB, flag.Args(), *timeout, *settle)
		if err != nil {
			fmt.Fprintln(os.Stderr, "startmem:", err)
			os.Exit(1)
		}
		fmt.Printf("run %d: ready in %s, resident %s, heap in use %s, from the system %s, memory limit %s; %s\n",
			i+1, m.ready.Round(10*time.Millisecond), mib(m.metrics["process_resident_memory_bytes"]),
			mib(m.metrics["go_memstats_heap_inuse_bytes"]), mib(m.metrics["go_memstats_sys_bytes"]),
			mib(m.metrics["go_gc_gomemlimit_bytes"]), m.status)
	}
}

type result struct {
	status  string // resident memory by kind, from /proc (Linux)
	ready   time.Duration
	metrics map[string]float64
}

func mib(v float64) string { return fmt.Sprintf("%.0f MiB", v/(1<<20)) }

func measure(server, eventsDB string, extra []string, timeout, settle time.Duration) (result, error) {
	addr, err := benchproc.FreeAddr()
	if err != nil {
		return result{}, err
	}
	args := append([]string{"-events-db", eventsDB, "-env", "production", "-snapshot-dir", "off", "-addr", addr}, extra...)
	cmd := exec.Command(server, args...)
	cmd.Env = append(os.Environ(), "JWT_SECRET="+strings.Repeat("s", 32))
	cmd.Stdout, cmd.Stderr = nil, nil // the server's log is not the measurement
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return result{}, fmt.Errorf("start %s: %w", server, err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	base := "http://" + addr
	for {
		if ok, _ := get(ctx, base+"/readyz"); ok {
			break
		}
		select {
		case <-ctx.Done():
			return result{}, errors.New("the server did not become ready in time")
		case <-time.After(100 * time.Millisecond):
		}
	}
	r := result{ready: time.Since(start), metrics: map[string]float64{}}
	// The server settles its collector once the fold is over (a full
	// collection, memory returned to the system): give it that moment.
	time.Sleep(settle)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return result{}, fmt.Errorf("metrics: %w", err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		name, value, ok := strings.Cut(line, " ")
		if !ok || strings.Contains(name, "{") {
			continue
		}
		if v, err := strconv.ParseFloat(value, 64); err == nil {
			r.metrics[name] = v
		}
	}
	r.status = procStatus(cmd.Process.Pid)
	return r, sc.Err()
}

// procStatus is the resident memory by kind (anonymous: the Go heap and
// any C-style allocator; file: mapped files and the binary), from
// /proc/PID/status on Linux, "" elsewhere.
func procStatus(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return ""
	}
	var parts []string
	for line := range strings.Lines(string(b)) {
		if strings.HasPrefix(line, "RssAnon:") || strings.HasPrefix(line, "RssFile:") {
			parts = append(parts, strings.Join(strings.Fields(line), " "))
		}
	}
	return strings.Join(parts, ", ")
}

func get(ctx context.Context, url string) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false, err
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK, nil
}
