// Command multichannel serves the multi-channel support GraphQL API on an
// event-sourced backend: the embedded SQLite store by default, EventStoreDB
// when EVENTSTORE_URL is set.
//
// Configuration comes from the environment, mirrored by flags (a flag wins):
// APP_ENV, HTTP_ADDR, EVENTS_DB, EVENTSTORE_URL, JWT_SECRET.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/partnercenter/multichannel/auth"
	"github.com/partnercenter/multichannel/command"
	"github.com/partnercenter/multichannel/eventstore"
	"github.com/partnercenter/multichannel/eventstore/esdb"
	"github.com/partnercenter/multichannel/eventstore/sqlite"
	"github.com/partnercenter/multichannel/graph"
	"github.com/partnercenter/multichannel/httpapi"
	"github.com/partnercenter/multichannel/playground"
	"github.com/partnercenter/multichannel/projections"
)

// config is the server's configuration.
type config struct {
	Env           string // development or production
	Addr          string
	EventsDB      string
	EventStoreURL string
	JWTSecret     string
	Seed          bool
	Introspection bool
	Playground    bool
	// ExpirySweep is how often PENDING requests past their expiry are
	// recorded as RelationshipExpired.
	ExpirySweep time.Duration
	// CatchUpTimeout bounds how long a mutation waits for the read models
	// to show its events.
	CatchUpTimeout time.Duration
	// ShutdownTimeout bounds how long in-flight requests may take to finish.
	ShutdownTimeout time.Duration
	// Now is the server's clock (tests move it); time.Now when nil.
	Now func() time.Time
}

func (c config) development() bool { return c.Env != "production" }

func env(key, def string) string {
	if v, ok := os.LookupEnv(key); ok && v != "" {
		return v
	}
	return def
}

func parseConfig(args []string) (config, error) {
	fs := flag.NewFlagSet("multichannel", flag.ContinueOnError)
	var c config
	fs.StringVar(&c.Env, "env", env("APP_ENV", "development"), "development or production (APP_ENV)")
	fs.StringVar(&c.Addr, "addr", env("HTTP_ADDR", ":8080"), "listen address (HTTP_ADDR)")
	fs.StringVar(&c.EventsDB, "events-db", env("EVENTS_DB", "./data/events.db"), "embedded event store file (EVENTS_DB)")
	fs.StringVar(&c.EventStoreURL, "eventstore-url", env("EVENTSTORE_URL", ""), "EventStoreDB esdb:// connection string; overrides -events-db (EVENTSTORE_URL)")
	fs.StringVar(&c.JWTSecret, "jwt-secret", env("JWT_SECRET", ""), "HS256 secret for bearer tokens (JWT_SECRET); made in development mode when empty")
	fs.BoolVar(&c.Seed, "seed", env("SEED", "") == "true", "development mode: record a demo partner, customers and subscriptions (SEED=true)")
	introspection := fs.String("introspection", env("INTROSPECTION", ""), "true or false; default: on in development, off in production (INTROSPECTION)")
	pg := fs.String("playground", env("PLAYGROUND", ""), "true or false; default: on in development, off in production (PLAYGROUND)")
	fs.DurationVar(&c.ExpirySweep, "expiry-sweep", 30*time.Second, "how often expired relationship requests are recorded")
	fs.DurationVar(&c.CatchUpTimeout, "catch-up-timeout", 5*time.Second, "how long a mutation waits for its events to be visible")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 15*time.Second, "how long in-flight requests may take at shutdown")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if c.Env != "development" && c.Env != "production" {
		return c, fmt.Errorf("APP_ENV must be development or production, not %q", c.Env)
	}
	c.Introspection = boolOr(*introspection, c.development())
	c.Playground = boolOr(*pg, c.development())
	if !c.development() && c.JWTSecret == "" {
		return c, errors.New("production mode needs JWT_SECRET")
	}
	return c, nil
}

func boolOr(s string, def bool) bool {
	switch s {
	case "true", "1", "on", "yes":
		return true
	case "false", "0", "off", "no":
		return false
	}
	return def
}

func main() {
	logger := newLogger()
	slog.SetDefault(logger)
	cfg, err := parseConfig(os.Args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		slog.Error("bad configuration", "err", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, cfg, nil); err != nil {
		slog.Error("server stopped", "err", err)
		os.Exit(1)
	}
}

// openStore opens EventStoreDB when a URL is configured, else the embedded file.
func openStore(ctx context.Context, cfg config) (eventstore.Store, string, error) {
	if cfg.EventStoreURL != "" {
		s, err := esdb.Open(ctx, cfg.EventStoreURL)
		if err != nil {
			return nil, "", fmt.Errorf("open EventStoreDB: %w", err)
		}
		return s, "EventStoreDB", nil
	}
	s, err := sqlite.Open(cfg.EventsDB)
	if err != nil {
		return nil, "", fmt.Errorf("open %s: %w", cfg.EventsDB, err)
	}
	return s, "embedded SQLite file " + cfg.EventsDB, nil
}

// serve runs the server until ctx ends, then shuts down gracefully: stop
// accepting, let in-flight requests finish, then close the store. If ready
// is not nil it receives the listener's address once the server accepts.
func serve(ctx context.Context, cfg config, ready chan<- string) error {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	store, storeName, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()

	model := projections.New(cfg.Now)
	started := time.Now()
	runCtx, cancelRun := context.WithCancel(context.Background())
	defer cancelRun()
	runDone := make(chan error, 1)
	go func() { runDone <- projections.Run(runCtx, store, model) }()

	commands := command.New(store, cfg.Now, catchUp{model, cfg.CatchUpTimeout}, model)

	secret, err := jwtSecret(cfg)
	if err != nil {
		return err
	}
	verifier := auth.NewHS256Verifier(secret)
	resolver := &graph.Resolver{Commands: commands, Model: model, Store: store}
	api := graph.NewServer(resolver, graph.Options{
		Development:   cfg.development(),
		Introspection: cfg.Introspection,
		Verifier:      verifier,
	})

	var headers map[string]string
	if cfg.development() {
		demo, err := setUpDemo(ctx, cfg, commands, secret)
		if err != nil {
			return err
		}
		headers = map[string]string{"Authorization": "Bearer " + demo.playgroundToken}
	}
	var pg http.Handler
	if cfg.Playground {
		pg = playground.Handler("Multi-channel support API", "/graphql", headers)
	}
	root := httpapi.New(api, verifier, httpapi.Config{
		Playground: pg,
		Ready: func() error {
			select {
			case err := <-runDone:
				runDone <- err
				return fmt.Errorf("projections stopped: %w", err)
			default:
				return nil
			}
		},
	})

	go sweepExpiries(runCtx, cfg.ExpirySweep, cfg.Now, model, commands)

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	srv := &http.Server{Handler: root, ReadHeaderTimeout: 10 * time.Second}
	slog.Info("serving", "addr", ln.Addr().String(), "store", storeName, "env", cfg.Env,
		"playground", cfg.Playground, "startup", time.Since(started).Round(time.Millisecond).String())
	if ready != nil {
		ready <- ln.Addr().String()
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case err := <-runDone:
		return fmt.Errorf("projections: %w", err)
	case <-ctx.Done():
	}
	slog.Info("shutting down", "timeout", cfg.ShutdownTimeout.String())
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		slog.Warn("in-flight requests did not finish in time", "err", err)
	}
	cancelRun()
	<-runDone
	if err := store.Close(); err != nil {
		return fmt.Errorf("close store: %w", err)
	}
	slog.Info("stopped cleanly")
	return nil
}

// catchUp is the read-your-writes waiter with a deadline: a mutation's
// events are durable once appended, but the caller is told so only when a
// query would see them.
type catchUp struct {
	model   *projections.Model
	timeout time.Duration
}

func (c catchUp) WaitFor(ctx context.Context, pos eventstore.Position) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	return c.model.WaitFor(ctx, pos)
}

// sweepExpiries records RelationshipExpired for requests past their expiry.
func sweepExpiries(ctx context.Context, every time.Duration, now func() time.Time, model *projections.Model, commands *command.Handlers) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		for _, id := range model.DueExpiries(now()) {
			if err := commands.ExpireRelationship(ctx, id); err != nil && ctx.Err() == nil {
				slog.Warn("expiry sweep", "relationship", id.String(), "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// jwtSecret returns the configured secret or, in development mode, one kept
// next to the event store file so that printed tokens survive a restart.
func jwtSecret(cfg config) ([]byte, error) {
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

func newLogger() *slog.Logger {
	if fi, err := os.Stderr.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, nil))
}
