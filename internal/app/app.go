// Package app is the application: New builds it from a Config (store ->
// read models -> command handlers -> GraphQL -> HTTP), and Run serves it
// until its context ends, then shuts it down in order. It owns what lives
// as long as the process: the projection runner and its retries, the
// expiry sweep, the live feed's WebSocket connections and the shutdown.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	gqlgen "github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"
	phuslu "github.com/phuslu/log"

	"github.com/partnercenter/multichannel/eventstore"
	"github.com/partnercenter/multichannel/eventstore/sqlite"
	"github.com/partnercenter/multichannel/graph"
	"github.com/partnercenter/multichannel/internal/audit"
	"github.com/partnercenter/multichannel/internal/auth"
	"github.com/partnercenter/multichannel/internal/command"
	"github.com/partnercenter/multichannel/internal/httpapi"
	"github.com/partnercenter/multichannel/internal/livefeed"
	"github.com/partnercenter/multichannel/internal/observability"
	"github.com/partnercenter/multichannel/internal/playground"
	"github.com/partnercenter/multichannel/internal/ratelimit"
	"github.com/partnercenter/multichannel/projections"
)

// Option changes how New builds the application beyond what an operator
// configures: the clock, a wrapper around the store, where the request log
// goes. The end-to-end tests use them; the binary uses none.
type Option func(*options)

type options struct {
	now           func() time.Time
	wrapStore     func(eventstore.Store) eventstore.Store
	checkHandoffs bool
	requestLogTo  io.Writer
	stdout        io.Writer
}

// WithClock sets the application's clock (time.Now by default).
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithStoreWrapper wraps the opened store, e.g. to inject faults.
func WithStoreWrapper(wrap func(eventstore.Store) eventstore.Store) Option {
	return func(o *options) { o.wrapStore = wrap }
}

// WithHandoffChecks makes the read models check every event the command
// side hands them against its stored bytes (projections.Model.CheckHandoffs).
func WithHandoffChecks() Option { return func(o *options) { o.checkHandoffs = true } }

// WithRequestLogTo sends the request log to w instead of stderr.
func WithRequestLogTo(w io.Writer) Option { return func(o *options) { o.requestLogTo = w } }

// WithStdout sends development mode's start-up banner (the playground's
// URL, the demo users and their tokens) to w instead of standard output.
func WithStdout(w io.Writer) Option { return func(o *options) { o.stdout = w } }

// App is the running application.
type App struct {
	cfg       Config
	storeName string
	store     eventstore.Store
	model     *projections.Model
	commands  *command.Handlers
	proj      *projector
	snaps     *snapshotter // nil without a snapshot directory
	live      *liveConns
	handler   http.Handler
	now       func() time.Time
	started   time.Time
	// demo is development mode's demo users, printed by Serve (nil
	// outside development), to stdout.
	demo   *demo
	stdout io.Writer
	// requestLog is flushed at shutdown, after the last request.
	requestLog *observability.BufferedWriter

	runCtx    context.Context
	cancelRun context.CancelFunc
	runDone   chan error
	closeOnce func() error
}

// New opens the store, starts the read models on it and builds the HTTP
// handler. Close (or Run, which ends with it) releases them.
func New(cfg Config, opts ...Option) (a *App, err error) {
	o := options{now: time.Now, stdout: os.Stdout}
	for _, opt := range opts {
		opt(&o)
	}
	if off := cfg.ClockOffset; off != 0 {
		// The application's clock only: tokens are still checked against
		// the real time, so a moved server accepts the tokens it is given.
		now := o.now
		o.now = func() time.Time { return now().Add(off) }
	}
	started := time.Now()
	var metrics *observability.Metrics
	storeOpts := []sqlite.Option{
		sqlite.WithLinger(cfg.CommitLinger),
		sqlite.WithCheckpointEvents(cfg.CheckpointEvents),
		sqlite.WithWALRestartEvents(cfg.WALRestartEvents),
	}
	if !cfg.Ops.NoMetrics {
		metrics = observability.NewMetrics()
		storeOpts = append(storeOpts, sqlite.WithObserver(storeObserver{metrics}))
	}
	sc := StoreConfig{EventsDB: cfg.EventsDB, URL: cfg.EventStoreURL}
	store, err := OpenStore(context.Background(), sc, false, storeOpts...)
	if err != nil {
		return nil, err
	}
	a = &App{cfg: cfg, storeName: sc.Name(), store: store, now: o.now, live: newLiveConns()}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	a.runCtx, a.cancelRun = context.WithCancel(context.Background())
	a.runDone = make(chan error, 1)
	a.closeOnce = onceErr(a.close)
	if o.wrapStore != nil {
		store = o.wrapStore(store)
	}
	// Every append passes through writes, so that /readyz knows when the
	// store stops taking them (reads alone still answer on a full disk).
	writes := &observability.WriteHealth{Store: store, Hold: cfg.Ops.ReadyWriteFailureHold, Now: o.now}
	reads := store // the store itself, with its optional readers (eventstore.PositionReader)
	store = writes

	// The collector's start-up settings (gc.go): GOGC 100 while the log
	// is folded, then the steady state once the models have caught up.
	settle := foldingGC()
	model, snaps, err := loadModel(context.Background(), cfg.Snapshots, store, o.now)
	if err != nil {
		return a, err
	}
	model.LimitEventsCache(cfg.EventsCache)
	a.snaps = snaps
	if snaps != nil {
		go snaps.run(a.runCtx)
	}
	if o.checkHandoffs {
		model.CheckHandoffs()
	}
	a.model = model
	// The model's reads take payloads from the store (each ends with its
	// request's context, at the request deadline).
	model.ReadLogFrom(reads)
	a.proj = &projector{store: store, model: model}
	go func() { a.runDone <- a.proj.run(a.runCtx) }()

	cmdOpts := []command.Option{command.WithTimeout(cfg.MutationTimeout), command.WithHandoff(model), command.WithClaimGrace(cfg.ClaimGrace)}
	if cfg.EventStoreURL == "" {
		// The embedded store has one writer, this process (it holds the
		// file's lock), so the command side may keep the streams it reads
		// and writes in memory (see command.WithStreamCache).
		cmdOpts = append(cmdOpts, command.WithStreamCache(streamCacheSize))
	}
	a.commands = command.New(store, o.now, catchUp{model, cfg.CatchUpTimeout}, model, cmdOpts...)

	secret, err := jwtSecret(cfg)
	if err != nil {
		return a, err
	}
	verifier := auth.NewHS256Verifier(secret)
	feed := livefeed.NewHub(store, model)
	go feed.Run(a.runCtx)
	resolver := &graph.Resolver{Commands: a.commands, Model: model, Store: store, Feed: feed}
	var requestLog *slog.Logger
	if !cfg.Ops.NoRequestLog {
		// Request lines are batched (see observability.BufferedWriter);
		// flushed at shutdown, after the last request.
		var to io.Writer = os.Stderr
		if o.requestLogTo != nil {
			to = o.requestLogTo
		}
		a.requestLog = observability.NewBufferedWriter(to, 200*time.Millisecond)
		requestLog = NewLoggerTo(a.requestLog)
	}
	var extensions []gqlgen.HandlerExtension
	if metrics != nil || requestLog != nil {
		extensions = append(extensions, observability.Extension{Metrics: metrics})
	}
	var wsLimiter graph.RateLimiter
	if l := cfg.Ops.rateLimiter(); l != nil {
		wsLimiter = l // a nil *Limiter in the interface would not be nil
	}
	api := graph.NewServer(resolver, graph.Options{
		Development:     cfg.Development(),
		Introspection:   cfg.Introspection,
		Verifier:        verifier,
		NoLimits:        cfg.Ops.NoLimits,
		MaxDepth:        cfg.Ops.MaxDepth,
		MaxAliases:      cfg.Ops.MaxAliases,
		ComplexityLimit: cfg.Ops.ComplexityLimit,
		// Document bounds: before parsing, and on even with -limits=false.
		MaxDocumentBytes: cfg.Ops.MaxDocumentBytes,
		MaxTokens:        cfg.Ops.MaxTokens,
		MaxSelections:    cfg.Ops.MaxSelections,
		MaxRepeats:       cfg.Ops.MaxRepeats,
		Extensions:       extensions,
		Websocket:        cfg.Ops.Websocket,
		RateLimiter:      wsLimiter,
		Now:              o.now,
		// Validation's errors, bounded even with -limits=false, as the
		// document bounds are: formatting and answering each costs.
		MaxValidationErrors: cfg.Ops.MaxValidationErrors,
	})

	var headers map[string]string
	var roles []playground.Role
	if cfg.Development() {
		demo, err := setUpDemo(context.Background(), cfg, a.commands, secret)
		if err != nil {
			return a, err
		}
		headers = map[string]string{"Authorization": "Bearer " + demo.playgroundToken}
		a.demo = &demo
		roles = demo.roles
	}
	a.stdout = o.stdout
	var pg http.Handler
	if cfg.Playground {
		tabs, err := playgroundTabs()
		if err != nil {
			return a, err
		}
		pg = playground.New(playground.Config{
			Title: "Multi-channel support API", Endpoint: "/graphql",
			Headers: headers, Roles: roles, Tabs: tabs,
		})
	}
	probe := &observability.LagProbe{
		Store: store, Position: model.Position, Now: o.now, Stopped: a.proj.ready, WriteFailure: writes.Failure,
		MaxEvents: cfg.Ops.ReadyMaxLagEvents, MaxAge: cfg.Ops.ReadyMaxLag,
		Applied: model.EventCount, Total: logSizeAtStart(cfg),
	}
	metrics.WatchLag(probe)
	go logWhenReady(a.runCtx, probe, model, started)
	if settle {
		// logWhenReady's probes tell it when the rebuild is over.
		go settleGC(a.runCtx, probe.CaughtUp, cfg.GCHeadroom, slog.Default())
	}
	httpCfg := httpapi.Config{
		Playground: pg,
		CORS:       cfg.CORS,
		Export:     audit.ExportHandler(store, httpapi.AuditorOnly),
		Ready: func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			return probe.Ready(ctx)
		},
	}
	if cfg.Introspection {
		httpCfg.Schema, httpCfg.SchemaPublic = graph.SDL(), cfg.Development()
	}
	cfg.Ops.apply(&httpCfg, metrics, requestLog)
	a.handler = a.live.wrap(httpapi.New(api, verifier, httpCfg))

	go sweepExpiries(a.runCtx, cfg.ExpirySweep, o.now, probe.CaughtUp, model, a.commands)
	a.started = started
	return a, nil
}

// Handler is the application's root HTTP handler.
func (a *App) Handler() http.Handler { return a.handler }

// Run listens on the configured address and serves until ctx ends (see
// Serve).
func (a *App) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", a.cfg.Addr)
	if err != nil {
		a.Close()
		return fmt.Errorf("listen on %s: %w", a.cfg.Addr, err)
	}
	return a.Serve(ctx, ln)
}

// Serve serves on ln until ctx ends or the read models stop, then shuts
// down gracefully: stop accepting, let in-flight requests finish, then
// stop the read models and close the store. An App is served once.
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	ln = httpapi.Listener(ln, a.cfg.Ops.Server)
	srv := httpapi.Server(a.handler, a.cfg.Ops.Server)
	srv.RegisterOnShutdown(a.live.closeAll)
	slog.Info("serving", "addr", ln.Addr().String(), "store", a.storeName, "env", a.cfg.Env,
		"playground", a.cfg.Playground, "startup", time.Since(a.started).Round(time.Millisecond).String())
	if a.demo != nil {
		a.demo.printBanner(a.stdout, baseURL(ln.Addr()), a.cfg.Playground)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	var failed error
	select {
	case err := <-errc:
		a.Close()
		return fmt.Errorf("http server: %w", err)
	case err := <-a.runDone:
		// The read models cannot go on (see projector.run): stop serving
		// them, gracefully, and exit with the error.
		failed = fmt.Errorf("projections: %w", err)
		a.runDone <- nil
		slog.Error("read models stopped; shutting down", "err", err)
	case <-ctx.Done():
	}
	// Graceful shutdown: stop accepting; close the live feed's WebSockets
	// with a close frame (Shutdown does not track hijacked connections, so
	// live.closeAll ends them); let in-flight requests finish, mutations
	// included (the projections keep running, so they see their writes);
	// then stop the projections and close the store, which makes every
	// acknowledged append durable.
	slog.Info("shutting down", "timeout", a.cfg.ShutdownTimeout.String())
	shutdownCtx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		slog.Warn("in-flight requests did not finish in time", "err", err)
	}
	if err := a.live.wait(shutdownCtx); err != nil {
		slog.Warn("live-feed connections did not close in time", "err", err)
	}
	if err := a.Close(); err != nil {
		return errors.Join(failed, err)
	}
	if failed != nil {
		return failed
	}
	slog.Info("stopped cleanly")
	return nil
}

// Close stops the read models and the sweep, flushes the request log and
// closes the store. Serve calls it; a caller that only used Handler calls
// it itself. It is safe to call more than once.
func (a *App) Close() error { return a.closeOnce() }

func (a *App) close() error {
	if a.cancelRun != nil {
		a.cancelRun()
		<-a.runDone
	}
	if a.snaps != nil {
		<-a.snaps.done
		// A clean stop: the model is the log's up to its checkpoint. One
		// stopped by an event it could not apply is not written.
		if a.proj.stoppedErr() == nil {
			a.snaps.save("shutdown")
		}
	}
	if a.requestLog != nil {
		a.requestLog.Close()
	}
	if err := a.store.Close(); err != nil {
		return fmt.Errorf("close store: %w", err)
	}
	return nil
}

// onceErr returns f run at most once; later calls return its first result.
func onceErr(f func() error) func() error {
	var once sync.Once
	var err error
	return func() error {
		once.Do(func() { err = f() })
		return err
	}
}

// catchUp is the read-your-writes waiter with a deadline: a mutation's
// events are durable once appended, but the caller is told so only when a
// query would see them.
type catchUp struct {
	model   *projections.Model
	timeout time.Duration
}

func (c catchUp) WaitFor(ctx context.Context, pos eventstore.Position) error {
	return c.model.WaitForWithin(ctx, pos, c.timeout)
}

// jwtSecret returns the configured secret or, in development mode, one kept
// next to the event store file so that printed tokens survive a restart.
func jwtSecret(cfg Config) ([]byte, error) {
	if cfg.JWTSecret != "" {
		return []byte(cfg.JWTSecret), nil
	}
	path := filepath.Join(filepath.Dir(cfg.EventsDB), "dev-jwt-secret")
	if b, err := os.ReadFile(path); err == nil && len(b) >= 32 {
		return b, nil
	}
	secret, err := auth.NewSecret()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("development secret: %w", err)
	}
	if err := os.WriteFile(path, secret, 0o600); err != nil {
		return nil, fmt.Errorf("development secret: %w", err)
	}
	return secret, nil
}

// NewLogger is the process's logger (see NewLoggerTo).
func NewLogger() *slog.Logger { return NewLoggerTo(os.Stderr) }

// NewLoggerTo logs to w: text when stderr is a terminal (a person reads
// it), JSON otherwise (a log pipeline does). The JSON handler is
// github.com/phuslu/log's: its lines are the standard JSONHandler's, byte
// for byte, written in a little over half the time (0.66 against 1.16 µs
// for a request line), and the request log writes one per request.
func NewLoggerTo(w io.Writer) *slog.Logger {
	if fi, err := os.Stderr.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
		return slog.New(slog.NewTextHandler(w, nil))
	}
	return slog.New(phuslu.SlogNewJSONHandler(w, nil))
}

// apply sets the HTTP layer's part: the body limit, /metrics, the per-route metrics and
// request log, the rate limiter and the request deadline.
func (o *OpsConfig) apply(c *httpapi.Config, metrics *observability.Metrics, requestLog *slog.Logger) {
	// The body limit is not one of the switchable limits: it bounds what
	// a request costs before anything else can.
	c.MaxBodyBytes = o.MaxBodyBytes
	if metrics != nil {
		c.Metrics = metrics.Handler()
	}
	if metrics != nil || requestLog != nil {
		c.Observe = func(route string, h http.Handler) http.Handler {
			if route != "graphql" {
				// Probes and scrapes every few seconds would drown the
				// request log; they are counted, not logged.
				return observability.Middleware(route, metrics, nil)(h)
			}
			return observability.Middleware(route, metrics, requestLog)(h)
		}
	}
	if o.NoLimits {
		return
	}
	if l := o.rateLimiter(); l != nil {
		c.RateLimiter = l
	}
	c.RequestTimeout = o.RequestTimeout
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = defaultRequestTimeout
	}
}

// rateLimiter returns the tenants' buckets, made on first use so that
// HTTP requests and WebSocket operations share them; nil when off.
func (o *OpsConfig) rateLimiter() *ratelimit.Limiter[uuid.UUID] {
	if o.NoLimits || o.RateLimit <= 0 {
		return nil
	}
	if o.limiter == nil {
		o.limiter = ratelimit.New[uuid.UUID](o.RateLimit, max(o.RateBurst, 1))
	}
	return o.limiter
}
