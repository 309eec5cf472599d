package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/partnercenter/multichannel/internal/benchproc"
)

// serverConfig is how one server is started.
type serverConfig struct {
	Bin      string
	EventsDB string
	// SnapshotDir is the server's -snapshot-dir: "off" folds the whole
	// log, a directory starts from the newest snapshot in it.
	SnapshotDir string
	// ClockOffset moves the server's clock (see clockOffset). The server
	// takes -clock-offset in development mode only, so the server runs in
	// development mode, with a JWT secret of its own; what development
	// mode changes (playground, introspection, CORS origins, no rate
	// limit, demo tokens printed) is not on the path of the measured
	// queries, but for the rate limiter, which would refuse them.
	ClockOffset time.Duration
	Log         string // the file for its output
	Timeout     time.Duration
}

// server is a running server started by startServer.
type server struct {
	url    string // http://127.0.0.1:port
	secret []byte
	ready  time.Duration // from the process's start to the first 200 of /readyz
	cmd    *exec.Cmd
	done   chan error
	log    string
}

// readyPoll is how often /readyz is asked while a server starts: the time
// to ready is measured to within it.
const readyPoll = 20 * time.Millisecond

// stopTimeout bounds a graceful shutdown before the server is killed.
const stopTimeout = 30 * time.Second

// startServer starts the server on a free loopback port and waits until
// /readyz answers 200: its read models have folded the log.
func startServer(ctx context.Context, cfg serverConfig) (*server, error) {
	addr, err := benchproc.FreeAddr()
	if err != nil {
		return nil, err
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, fmt.Errorf("make a JWT secret: %w", err)
	}
	secret := hex.EncodeToString(raw)
	logFile, err := os.Create(cfg.Log)
	if err != nil {
		return nil, err
	}
	// The server writes its log straight to the file: a pipe read by this
	// process would charge the server's logging to the clients' CPU.
	defer logFile.Close()
	cmd := exec.Command(cfg.Bin,
		"-env", "development",
		"-addr", addr,
		"-events-db", cfg.EventsDB,
		"-snapshot-dir", cfg.SnapshotDir,
		"-jwt-secret", secret,
		"-clock-offset", cfg.ClockOffset.String(),
	)
	cmd.Env = modeEnv()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	s := &server{url: "http://" + addr, secret: []byte(secret), cmd: cmd, done: make(chan error, 1), log: cfg.Log}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", cfg.Bin, err)
	}
	go func() { s.done <- cmd.Wait() }()
	if err := s.waitReady(ctx, start, cfg.Timeout); err != nil {
		s.kill()
		return nil, err
	}
	return s, nil
}

// waitReady polls /readyz until it answers 200, the server exits, or
// timeout passes since start.
func (s *server) waitReady(ctx context.Context, start time.Time, timeout time.Duration) error {
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil}}
	defer client.CloseIdleConnections()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url+"/readyz", nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				s.ready = time.Since(start)
				return nil
			}
		}
		select {
		case err := <-s.done:
			s.done <- err
			return fmt.Errorf("the server exited before it was ready (%v)%s", err, s.tail())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(readyPoll):
		}
		if time.Since(start) > timeout {
			return fmt.Errorf("the server was not ready within %v%s", timeout, s.tail())
		}
	}
}

// settledRSS waits settle (the server collects and returns memory once
// its read models have caught up) and returns its resident memory.
func (s *server) settledRSS(ctx context.Context, settle time.Duration) (int64, error) {
	select {
	case <-time.After(settle):
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	return s.rss(ctx)
}

// rss is the server's resident memory: VmRSS from /proc/PID/status on
// Linux, else process_resident_memory_bytes from its /metrics.
func (s *server) rss(ctx context.Context) (int64, error) {
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid)); err == nil {
		if v, ok := vmRSS(string(b)); ok {
			return v, nil
		}
	}
	v, err := s.metric(ctx, "process_resident_memory_bytes")
	return int64(v), err
}

// gcCount is how many collections the server's runtime has finished
// (go_gc_duration_seconds_count of its /metrics).
func (s *server) gcCount(ctx context.Context) (int64, error) {
	v, err := s.metric(ctx, "go_gc_duration_seconds_count")
	return int64(v), err
}

// metric reads one unlabelled sample from the server's /metrics.
func (s *server) metric(ctx context.Context, name string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := metricsClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("metrics: %w", err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return 0, fmt.Errorf("metrics: %s %q: %w", name, v, err)
			}
			return f, nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("metrics: %w", err)
	}
	return 0, fmt.Errorf("metrics: no %s", name)
}

// metricsClient reads /metrics on loopback, whatever HTTP_PROXY says.
var metricsClient = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: nil}}

// vmRSS reads the VmRSS line of /proc/PID/status ("VmRSS:  123 kB").
func vmRSS(status string) (int64, bool) {
	for line := range strings.Lines(status) {
		rest, ok := strings.CutPrefix(line, "VmRSS:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, false
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		return kb << 10, err == nil
	}
	return 0, false
}

// stop shuts the server down (SIGTERM), kills it after stopTimeout, and
// reports an unclean exit with the end of its log.
func (s *server) stop() error {
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stop the server: %w", err)
	}
	select {
	case err := <-s.done:
		s.done <- err
		if err != nil {
			return fmt.Errorf("the server exited uncleanly: %w%s", err, s.tail())
		}
		return nil
	case <-time.After(stopTimeout):
		s.kill()
		return fmt.Errorf("the server did not stop within %v; killed%s", stopTimeout, s.tail())
	}
}

func (s *server) kill() {
	_ = s.cmd.Process.Kill()
	err := <-s.done
	s.done <- err
}

// tail is the end of the server's log, to explain a failure.
func (s *server) tail() string { return benchproc.LogTail(s.log, "server") }
