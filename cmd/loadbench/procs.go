package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/partnercenter/multichannel/cmd/loadbench/baseline"
	"github.com/partnercenter/multichannel/internal/benchproc"
)

// childEnv names the environment variable that turns this binary into one
// of its own child servers; childBaseline selects the baseline.
const (
	childEnv      = "LOADBENCH_CHILD"
	childBaseline = "baseline"
	// serverGOGC is the server's default GOGC.
	serverGOGC = "400"
)

// benchRateLimit is the per-tenant rate limit the API server gets.
const benchRateLimit = "1000000"

// startTimeout bounds how long a child server may take to answer /healthz.
const startTimeout = 60 * time.Second

// stopTimeout bounds a child's graceful shutdown before it is killed.
const stopTimeout = 20 * time.Second

// child is a server process started by loadbench.
type child struct {
	name string
	url  string // http://127.0.0.1:port
	cmd  *exec.Cmd
	log  string // the file holding its stdout and stderr
	done chan error
}

// apiServer is a running API server and the secret its tokens are signed with.
type apiServer struct {
	*child
	secret []byte
}

// startServer starts the API server binary with a fresh store file in dir,
// production mode, a new JWT secret and the given extra flags, and waits
// until it answers /readyz.
func startServer(ctx context.Context, bin, dir string, args []string) (*apiServer, error) {
	addr, err := benchproc.FreeAddr()
	if err != nil {
		return nil, err
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, fmt.Errorf("make a JWT secret: %w", err)
	}
	secret := hex.EncodeToString(raw)
	runDir, err := os.MkdirTemp(dir, "server-")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = runDir
	cmd.Env = append(os.Environ(),
		"APP_ENV=production",
		"HTTP_ADDR="+addr,
		"EVENTS_DB="+filepath.Join(runDir, "events.db"),
		"EVENTSTORE_URL=", // the embedded store, whatever the caller's environment says
		"JWT_SECRET="+secret,
		// Production limits each tenant to a rate far below what the
		// clients send from one tenant. A huge limit keeps the limiter in
		// the request path, so that its cost is measured, while it never
		// refuses; -server-args -rate-limit=N overrides it (a flag wins
		// over the environment).
		"RATE_LIMIT="+benchRateLimit,
	)
	c, err := startChild(ctx, "server", cmd, filepath.Join(runDir, "server.log"), "http://"+addr, "/readyz")
	if err != nil {
		return nil, err
	}
	return &apiServer{child: c, secret: []byte(secret)}, nil
}

// startBaseline starts the baseline server: this binary (exe) again, told
// by the environment to serve baseline.NewMux on a free loopback port and
// print its address.
func startBaseline(ctx context.Context, exe, dir string) (*child, error) {
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), childEnv+"="+childBaseline)
	if _, set := os.LookupEnv("GOGC"); !set {
		// The server sets its collector's target (GOGC 400, see its gc.go)
		// when GOGC is not set; the baseline gets the same, so that the
		// ceiling is not lowered by a setting only the API has.
		cmd.Env = append(cmd.Env, "GOGC="+serverGOGC)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, "baseline.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	cmd.Stderr = logFile
	setChildAttrs(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the baseline: %w", err)
	}
	c := &child{name: "baseline", cmd: cmd, log: logPath, done: make(chan error, 1)}
	addrc := make(chan string, 1)
	go func() {
		// The first line is the address; the rest is drained so that the
		// child never blocks on a full pipe.
		r := bufio.NewReader(stdout)
		line, _ := r.ReadString('\n')
		addrc <- strings.TrimSpace(line)
		io.Copy(io.Discard, r)
		c.done <- cmd.Wait()
	}()
	select {
	case addr := <-addrc:
		if _, _, err := net.SplitHostPort(addr); err != nil {
			c.kill()
			return nil, fmt.Errorf("baseline printed %q, not an address%s", addr, c.tail())
		}
		c.url = "http://" + addr
	case <-time.After(startTimeout):
		c.kill()
		return nil, fmt.Errorf("baseline did not start within %v%s", startTimeout, c.tail())
	case <-ctx.Done():
		c.kill()
		return nil, ctx.Err()
	}
	if err := c.waitHealthy(ctx, "/healthz"); err != nil {
		c.kill()
		return nil, err
	}
	return c, nil
}

// serveBaseline is the baseline child's main: it serves on a free loopback
// port, prints the address as its first line to w, and stops on SIGTERM.
func serveBaseline(w io.Writer) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: baseline.NewMux(), ReadHeaderTimeout: 10 * time.Second}
	if _, err := fmt.Fprintln(w, ln.Addr().String()); err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	sigc := make(chan os.Signal, 1)
	signal.Notify(sigc, syscall.SIGTERM, os.Interrupt)
	select {
	case err := <-errc:
		return err
	case <-sigc:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(ctx)
}

// startChild starts cmd with its output in logPath and waits until
// url+probe answers 200.
func startChild(ctx context.Context, name string, cmd *exec.Cmd, logPath, url, probe string) (*child, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	// The child writes its log straight to the file: a pipe read by this
	// process would charge the server's logging to the clients' CPU.
	defer logFile.Close()
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	setChildAttrs(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the %s: %w", name, err)
	}
	c := &child{name: name, url: url, cmd: cmd, log: logPath, done: make(chan error, 1)}
	go func() { c.done <- cmd.Wait() }()
	if err := c.waitHealthy(ctx, probe); err != nil {
		c.kill()
		return nil, err
	}
	return c, nil
}

// waitHealthy polls probe until it answers 200, the child exits, or
// startTimeout passes.
func (c *child) waitHealthy(ctx context.Context, probe string) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(startTimeout)
	for {
		resp, err := client.Get(c.url + probe)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-c.done:
			c.done <- err
			return fmt.Errorf("the %s exited before it was ready (%v)%s", c.name, err, c.tail())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the %s did not answer %s within %v%s", c.name, probe, startTimeout, c.tail())
		}
	}
}

// stop asks the child to shut down gracefully (SIGTERM), kills it after
// stopTimeout, and reports an unclean exit with the end of its log.
func (c *child) stop() error {
	if c == nil {
		return nil
	}
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stop the %s: %w", c.name, err)
	}
	select {
	case err := <-c.done:
		c.done <- err
		if err != nil {
			return fmt.Errorf("the %s exited uncleanly: %w%s", c.name, err, c.tail())
		}
		return nil
	case <-time.After(stopTimeout):
		c.kill()
		return fmt.Errorf("the %s did not stop within %v; killed%s", c.name, stopTimeout, c.tail())
	}
}

// kill ends the child at once and waits for it.
func (c *child) kill() {
	c.cmd.Process.Kill()
	err := <-c.done
	c.done <- err
}

// tail returns the last lines of the child's log, to explain a failure.
func (c *child) tail() string { return benchproc.LogTail(c.log, c.name) }
