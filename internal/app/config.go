package app

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/eventstore/sqlite"
	"github.com/partnercenter/multichannel/graph"
	"github.com/partnercenter/multichannel/internal/auth"
	"github.com/partnercenter/multichannel/internal/command"
	"github.com/partnercenter/multichannel/internal/httpapi"
	"github.com/partnercenter/multichannel/internal/observability"
	"github.com/partnercenter/multichannel/internal/ratelimit"
	"github.com/partnercenter/multichannel/projections"
)

// Config is the server's configuration: what the operator sets, with
// flags or the environment (ParseConfig).
type Config struct {
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
	// MutationTimeout bounds one mutation, so that a stalled store fails
	// the request (UNAVAILABLE) instead of holding it; 0: no bound.
	MutationTimeout time.Duration
	// ClaimGrace is how long past an abandoned Idempotency-Key claim's
	// deadline a repeat still waits for its holder before taking it over
	// (command.WithClaimGrace); it must exceed the servers' clock skew.
	ClaimGrace time.Duration
	// CommitLinger bounds how long the embedded store's writer waits for
	// concurrent appends to join a commit (sqlite.WithLinger).
	CommitLinger time.Duration
	// CheckpointEvents is how many committed events the embedded store's
	// background checkpointer lets into the WAL before it copies them
	// into the file (sqlite.WithCheckpointEvents); WALRestartEvents how
	// many may gather without the WAL starting over before the writer
	// copies the rest itself (sqlite.WithWALRestartEvents).
	CheckpointEvents, WALRestartEvents int
	// ClockOffset is added to the application's clock (CLOCK_OFFSET), so
	// that a black-box test or a demo can move time, e.g. past a request's
	// expiry; development mode only.
	ClockOffset time.Duration
	// CORS is the origins browsers may call the API from (CORS_ORIGINS):
	// the list when set; else loopback origins in development, none in
	// production.
	CORS httpapi.CORS
	// Snapshots of the read models (see snapshots.go).
	Snapshots SnapshotConfig
	// GCHeadroom is how far past the live heap (and the runtime's own
	// memory) the collector's memory limit is set once the read models are
	// rebuilt (gc.go); Min 0 keeps the container's or machine's limit only.
	GCHeadroom GCHeadroom
	// EventsCache bounds the per-tenant lists of visible events that make
	// a partner's `events` page cost a binary search and a slice
	// (projections.EventsCacheLimits).
	EventsCache projections.EventsCacheLimits
	// Ops holds the operational settings: observability and protection.
	Ops OpsConfig
}

// SnapshotConfig says where read-model snapshots live and how often one is
// written. Dir empty: none are read or written.
type SnapshotConfig struct {
	Dir string
	// Every is how many events after the last snapshot make the next one.
	Every int
	// Interval is the longest a snapshot waits once an event came after the
	// last one.
	Interval time.Duration
}

// Snapshot defaults: a snapshot of a million events is about a second of
// copying and encoding, a few hundred thousand events are about as long to
// fold, so one per 100,000 events costs little and bounds the fold at start.
const (
	DefaultSnapshotEvery    = 100_000
	DefaultSnapshotInterval = 10 * time.Minute
)

// ParseConfig reads the configuration from args (the flags) and the
// environment; a flag wins over its variable.
func ParseConfig(args []string) (Config, error) { return parseConfig(args, os.Stderr) }

// PrintServerFlags writes the server's flags, with their variables and
// defaults, to w.
func PrintServerFlags(w io.Writer) { _, _ = parseConfig([]string{"-h"}, w) }

func parseConfig(args []string, usage io.Writer) (Config, error) {
	fs := flag.NewFlagSet("multichannel", flag.ContinueOnError)
	fs.SetOutput(usage)
	fs.Usage = func() {
		fmt.Fprintln(usage, "usage: multichannel [serve] [flags]   serve the API (multichannel help lists the other modes)\n\nserver flags (a flag wins over its variable):")
		fs.PrintDefaults()
	}
	var c Config
	fs.StringVar(&c.Env, "env", Env("APP_ENV", "development"), "development or production (APP_ENV)")
	fs.StringVar(&c.Addr, "addr", Env("HTTP_ADDR", ""), "listen address; default: 127.0.0.1:8080 in development, :8080 in production (HTTP_ADDR)")
	fs.StringVar(&c.EventsDB, "events-db", Env("EVENTS_DB", "./data/events.db"), "embedded event store file (EVENTS_DB)")
	fs.StringVar(&c.EventStoreURL, "eventstore-url", Env("EVENTSTORE_URL", ""), "EventStoreDB esdb:// connection string; overrides -events-db (EVENTSTORE_URL)")
	fs.StringVar(&c.JWTSecret, "jwt-secret", Env("JWT_SECRET", ""), "HS256 secret for bearer tokens (JWT_SECRET); made in development mode when empty")
	fs.BoolVar(&c.Seed, "seed", Env("SEED", "") == "true", "development mode: record a demo partner, customers and subscriptions (SEED=true)")
	introspection := fs.String("introspection", Env("INTROSPECTION", ""), "true or false; default: on in development, off in production (INTROSPECTION)")
	pg := fs.String("playground", Env("PLAYGROUND", ""), "true or false; default: on in development, off in production (PLAYGROUND)")
	fs.DurationVar(&c.ExpirySweep, "expiry-sweep", 30*time.Second, "how often expired relationship requests are recorded")
	fs.DurationVar(&c.CatchUpTimeout, "catch-up-timeout", 5*time.Second, "how long a mutation waits for its events to be visible")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 15*time.Second, "how long in-flight requests may take at shutdown")
	fs.DurationVar(&c.MutationTimeout, "mutation-timeout", envDuration("MUTATION_TIMEOUT", 10*time.Second), "how long one mutation (over HTTP or a WebSocket, or the expiry sweep's) may wait for the store before it fails as UNAVAILABLE (MUTATION_TIMEOUT)")
	fs.DurationVar(&c.ClaimGrace, "claim-grace", envDuration("CLAIM_GRACE", command.DefaultClaimGrace), "how long past an abandoned Idempotency-Key claim's deadline a repeat waits before taking it over; more than the servers' clock skew (CLAIM_GRACE)")
	fs.DurationVar(&c.CommitLinger, "commit-linger", envDuration("COMMIT_LINGER", sqlite.DefaultLingerMax), "embedded store: how long a commit may wait for concurrent appends to join it; 0 commits at once (COMMIT_LINGER)")
	fs.IntVar(&c.CheckpointEvents, "checkpoint-events", envInt("CHECKPOINT_EVENTS", sqlite.DefaultCheckpointEvents), "embedded store: copy the WAL into the file, in the background, after this many events (CHECKPOINT_EVENTS)")
	fs.IntVar(&c.WALRestartEvents, "wal-restart-events", envInt("WAL_RESTART_EVENTS", sqlite.DefaultWALRestartEvents), "embedded store: once this many events have gathered in the WAL without it starting over, the writer copies the rest itself, waiting briefly for readers (WAL_RESTART_EVENTS)")
	fs.DurationVar(&c.ClockOffset, "clock-offset", envDuration("CLOCK_OFFSET", 0), "development mode: a duration added to the server's clock, for tests and demos, e.g. 2160h (CLOCK_OFFSET)")
	snapshotDir := fs.String("snapshot-dir", Env("SNAPSHOT_DIR", ""), "where read-model snapshots are kept; default: snapshots/ beside -events-db, none with EventStoreDB; \"off\" for none (SNAPSHOT_DIR)")
	fs.IntVar(&c.Snapshots.Every, "snapshot-every", envInt("SNAPSHOT_EVERY", DefaultSnapshotEvery), "write a read-model snapshot after this many events (SNAPSHOT_EVERY)")
	fs.DurationVar(&c.Snapshots.Interval, "snapshot-interval", envDuration("SNAPSHOT_INTERVAL", DefaultSnapshotInterval), "write a read-model snapshot at least this often while events come (SNAPSHOT_INTERVAL)")
	gcHeadroom := fs.Int("gc-headroom-mib", envInt("GC_HEADROOM_MIB", DefaultGCHeadroom>>20), "once the read models are rebuilt, the collector's memory limit leaves at least this many MiB for garbage past the live heap; 0 for the container's or machine's limit only (GC_HEADROOM_MIB)")
	fs.IntVar(&c.GCHeadroom.Percent, "gc-headroom-percent", envInt("GC_HEADROOM_PERCENT", DefaultGCHeadroomPercent), "the collector's headroom as a percentage of the live heap, when that is more than -gc-headroom-mib (GC_HEADROOM_PERCENT)")
	fs.IntVar(&c.EventsCache.Tenants, "events-cache-tenants", envInt("EVENTS_CACHE_TENANTS", projections.DefaultEventsCacheLimits.Tenants), "how many tenants' lists of the events they see are kept for the events query, least recently read dropped first; 0 keeps none (EVENTS_CACHE_TENANTS)")
	fs.IntVar(&c.EventsCache.Entries, "events-cache-entries", envInt("EVENTS_CACHE_ENTRIES", projections.DefaultEventsCacheLimits.Entries), "how many entries (4 bytes each) those lists hold at most in all (EVENTS_CACHE_ENTRIES)")
	corsOrigins := fs.String("cors-origins", Env("CORS_ORIGINS", ""), "comma-separated origins browsers may call the API from, \"*\" for any, \"none\" for none; default: localhost origins in development, none in production (CORS_ORIGINS)")
	finishOps := c.Ops.flags(fs)
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if err := finishOps(c.Development()); err != nil {
		return c, err
	}
	if c.Env != "development" && c.Env != "production" {
		return c, fmt.Errorf("APP_ENV must be development or production, not %q", c.Env)
	}
	origins, err := httpapi.ParseCORSOrigins(*corsOrigins)
	if err != nil {
		return c, fmt.Errorf("CORS_ORIGINS: %w", err)
	}
	switch {
	case *snapshotDir == "off":
	case *snapshotDir != "":
		c.Snapshots.Dir = *snapshotDir
	case c.EventStoreURL == "":
		c.Snapshots.Dir = filepath.Join(filepath.Dir(c.EventsDB), "snapshots")
	}
	if c.EventsCache.Tenants < 0 || c.EventsCache.Entries < 0 {
		return c, errors.New("EVENTS_CACHE_TENANTS and EVENTS_CACHE_ENTRIES must not be negative")
	}
	if *gcHeadroom < 0 {
		return c, errors.New("GC_HEADROOM_MIB must not be negative")
	}
	c.GCHeadroom.Min = int64(*gcHeadroom) << 20
	if c.GCHeadroom.Percent < 0 || c.GCHeadroom.Percent > 1000 {
		return c, fmt.Errorf("GC_HEADROOM_PERCENT must be from 0 to 1000, not %d", c.GCHeadroom.Percent)
	}
	if c.ClaimGrace < 0 {
		return c, fmt.Errorf("CLAIM_GRACE must not be negative, not %s", c.ClaimGrace)
	}
	if c.CheckpointEvents <= 0 || c.WALRestartEvents <= 0 {
		return c, errors.New("CHECKPOINT_EVENTS and WAL_RESTART_EVENTS must be positive")
	}
	if c.Snapshots.Every <= 0 || c.Snapshots.Interval <= 0 {
		return c, errors.New("SNAPSHOT_EVERY and SNAPSHOT_INTERVAL must be positive")
	}
	c.CORS = httpapi.CORS{Origins: origins, Loopback: *corsOrigins == "" && c.Development()}
	if c.Addr == "" {
		// Development hands out tokens (printed, and in the playground):
		// only this machine reaches it unless an address is given.
		c.Addr = ":8080"
		if c.Development() {
			c.Addr = "127.0.0.1:8080"
		}
	}
	c.Introspection = boolOr(*introspection, c.Development())
	c.Playground = boolOr(*pg, c.Development())
	if !c.Development() && c.ClockOffset != 0 {
		// A moved clock changes what is recorded (expiries, timestamps in
		// the log): never on real data.
		return c, fmt.Errorf("CLOCK_OFFSET (-clock-offset) is %v: a moved clock is for tests and demos, production refuses it", c.ClockOffset)
	}
	if !c.Development() && c.JWTSecret == "" {
		return c, errors.New("production mode needs JWT_SECRET; make one with: openssl rand -hex 32")
	}
	if !c.Development() && len(c.JWTSecret) < auth.MinSecretBytes {
		// A short HS256 secret can be brute-forced from one token.
		return c, fmt.Errorf("JWT_SECRET is %d bytes; production needs at least %d: make one with: openssl rand -hex 32", len(c.JWTSecret), auth.MinSecretBytes)
	}
	return c, nil
}

// Development reports whether the server runs in development mode.
func (c Config) Development() bool { return c.Env != "production" }

func boolOr(s string, def bool) bool {
	switch s {
	case "true", "1", "on", "yes":
		return true
	case "false", "0", "off", "no":
		return false
	}
	return def
}

// OpsConfig holds the operational settings: the switches a load test
// compares (-metrics, -request-log, -limits: all on by default, and
// stored negated so that a zero config has them on), the limits on
// hostile requests, and the readiness thresholds. Zero values mean the
// defaults.
type OpsConfig struct {
	NoMetrics    bool // no /metrics and no collection
	NoRequestLog bool // no per-request log lines
	NoLimits     bool // no depth, alias, complexity, rate or deadline limits

	MaxDepth        int // selection-set nesting; graph.DefaultMaxDepth
	MaxAliases      int // aliased fields per document; graph.DefaultMaxAliases
	ComplexityLimit int // graph.DefaultComplexityLimit
	// Bounds on a document's text, checked before it is parsed.
	MaxDocumentBytes int // graph.DefaultMaxDocumentBytes
	MaxTokens        int // graph.DefaultMaxTokens
	MaxSelections    int // selections per selection set; graph.DefaultMaxSelections
	MaxRepeats       int // selections of one response name per set; graph.DefaultMaxRepeats
	// MaxValidationErrors bounds the errors answered for a document that
	// fails validation; graph.DefaultMaxValidationErrors.
	MaxValidationErrors int
	// MaxBodyBytes bounds a request body (HTTP 413 past it); it stays
	// on with -limits=false. httpapi.DefaultMaxBodyBytes when 0.
	MaxBodyBytes int64
	// RequestTimeout is the deadline of a GraphQL request over HTTP;
	// defaultRequestTimeout when 0.
	RequestTimeout time.Duration
	// RateLimit is each tenant's sustained requests a second, RateBurst
	// its burst; 0 is off (the default in development).
	RateLimit float64
	RateBurst int
	// limiter is the tenants' buckets, one for HTTP and WebSocket alike.
	limiter *ratelimit.Limiter[uuid.UUID]

	// Websocket bounds the WebSocket connections; Server the HTTP server's.
	Websocket graph.WebsocketLimits
	Server    httpapi.ServerLimits

	// ReadyMaxLagEvents and ReadyMaxLag are how far the read models may be
	// behind the log for /readyz to answer ready.
	ReadyMaxLagEvents int
	ReadyMaxLag       time.Duration
	// ReadyWriteFailureHold is how long, at most, a write the store could
	// not take keeps /readyz not ready when no write follows it.
	ReadyWriteFailureHold time.Duration
}

// Operational defaults.
const (
	// streamCacheSize is how many streams the command side keeps decoded:
	// a few KiB each, for the tenants and customers being worked on.
	streamCacheSize       = 20_000
	defaultRequestTimeout = 30 * time.Second
	// DefaultRateLimit and DefaultRateBurst apply in production: far above
	// what a person at a screen sends, low enough that one tenant's script
	// cannot take the store's write rate from the others.
	DefaultRateLimit = 50
	DefaultRateBurst = 100
)

// flags registers the operational flags on fs and returns the function
// that completes o once fs is parsed: the switches, and the rate limit,
// whose default depends on the mode.
func (o *OpsConfig) flags(fs *flag.FlagSet) (finish func(development bool) error) {
	on := func(key string) bool { return boolOr(Env(key, ""), true) }
	metrics := fs.Bool("metrics", on("METRICS"), "collect Prometheus metrics and serve /metrics (METRICS)")
	requestLog := fs.Bool("request-log", on("REQUEST_LOG"), "log one line per GraphQL request (REQUEST_LOG)")
	limits := fs.Bool("limits", on("LIMITS"), "enforce the depth, alias, complexity, rate and deadline limits (LIMITS)")
	fs.IntVar(&o.MaxDepth, "max-depth", envInt("MAX_DEPTH", graph.DefaultMaxDepth), "deepest nesting of selection sets (MAX_DEPTH)")
	fs.IntVar(&o.MaxAliases, "max-aliases", envInt("MAX_ALIASES", graph.DefaultMaxAliases), "most aliased fields in a document (MAX_ALIASES)")
	fs.IntVar(&o.ComplexityLimit, "complexity-limit", envInt("COMPLEXITY_LIMIT", graph.DefaultComplexityLimit), "complexity budget of a document (COMPLEXITY_LIMIT)")
	fs.IntVar(&o.MaxDocumentBytes, "max-document-bytes", envInt("MAX_DOCUMENT_BYTES", graph.DefaultMaxDocumentBytes), "largest document text, in bytes (MAX_DOCUMENT_BYTES)")
	fs.IntVar(&o.MaxTokens, "max-tokens", envInt("MAX_TOKENS", graph.DefaultMaxTokens), "most lexical tokens in a document (MAX_TOKENS)")
	fs.IntVar(&o.MaxSelections, "max-selections", envInt("MAX_SELECTIONS", graph.DefaultMaxSelections), "most selections in one selection set (MAX_SELECTIONS)")
	fs.IntVar(&o.MaxRepeats, "max-repeats", envInt("MAX_REPEATS", graph.DefaultMaxRepeats), "most selections of one response name in one selection set (MAX_REPEATS)")
	fs.IntVar(&o.MaxValidationErrors, "max-validation-errors", envInt("MAX_VALIDATION_ERRORS", graph.DefaultMaxValidationErrors), "most validation errors answered for one document; past them, one error says the rest are not reported (MAX_VALIDATION_ERRORS)")
	fs.Int64Var(&o.MaxBodyBytes, "max-body-bytes", int64(envInt("MAX_BODY_BYTES", httpapi.DefaultMaxBodyBytes)), "largest request body, in bytes; past it, HTTP 413 (MAX_BODY_BYTES)")
	fs.DurationVar(&o.RequestTimeout, "request-timeout", envDuration("REQUEST_TIMEOUT", defaultRequestTimeout), "deadline of a GraphQL request over HTTP; past it, UNAVAILABLE (REQUEST_TIMEOUT)")
	fs.IntVar(&o.RateBurst, "rate-burst", envInt("RATE_BURST", DefaultRateBurst), "burst of the per-tenant rate limit (RATE_BURST)")
	fs.IntVar(&o.ReadyMaxLagEvents, "ready-max-lag-events", envInt("READY_MAX_LAG_EVENTS", observability.DefaultMaxLagEvents), "read models further behind than this many events are not ready (READY_MAX_LAG_EVENTS)")
	fs.DurationVar(&o.ReadyWriteFailureHold, "ready-write-failure-hold", envDuration("READY_WRITE_FAILURE_HOLD", observability.DefaultWriteFailureHold), "after a write the store could not take, not ready until a write succeeds or for this long (READY_WRITE_FAILURE_HOLD)")
	fs.DurationVar(&o.ReadyMaxLag, "ready-max-lag", envDuration("READY_MAX_LAG", observability.DefaultMaxLagAge), "read models whose oldest unapplied event is older are not ready (READY_MAX_LAG)")
	fs.DurationVar(&o.Websocket.InitTimeout, "ws-init-timeout", envDuration("WS_INIT_TIMEOUT", graph.DefaultWebsocketInitTimeout), "how long a WebSocket may wait before connection_init; past it, closed 4408 (WS_INIT_TIMEOUT)")
	fs.DurationVar(&o.Websocket.WriteTimeout, "ws-write-timeout", envDuration("WS_WRITE_TIMEOUT", graph.DefaultWebsocketWriteTimeout), "how long one WebSocket message may take to write; past it, the connection is dropped (WS_WRITE_TIMEOUT)")
	fs.DurationVar(&o.Websocket.PingInterval, "ws-ping-interval", envDuration("WS_PING_INTERVAL", graph.DefaultWebsocketPingInterval), "how often a WebSocket is pinged; no pong within two intervals drops it; negative: no pings (WS_PING_INTERVAL)")
	fs.IntVar(&o.Websocket.MaxOperations, "ws-max-operations", envInt("WS_MAX_OPERATIONS", graph.DefaultWebsocketMaxOperations), "operations in flight on one WebSocket; one more closes it with 4429 (WS_MAX_OPERATIONS)")
	fs.IntVar(&o.Websocket.MaxTenantOperations, "ws-max-tenant-operations", envInt("WS_MAX_TENANT_OPERATIONS", graph.DefaultWebsocketMaxTenantOperations), "operations in flight on this server's WebSockets per tenant; past it, RATE_LIMITED (WS_MAX_TENANT_OPERATIONS)")
	fs.DurationVar(&o.Server.ReadHeaderTimeout, "read-header-timeout", envDuration("READ_HEADER_TIMEOUT", httpapi.DefaultReadHeaderTimeout), "how long a request's headers may take to arrive (READ_HEADER_TIMEOUT)")
	fs.DurationVar(&o.Server.ReadTimeout, "read-timeout", envDuration("READ_TIMEOUT", httpapi.DefaultReadTimeout), "how long a whole request, body included, may take to arrive (READ_TIMEOUT)")
	fs.DurationVar(&o.Server.WriteTimeout, "write-timeout", envDuration("WRITE_TIMEOUT", httpapi.DefaultWriteTimeout), "how long a request may take from its headers to the end of its answer (WRITE_TIMEOUT)")
	fs.DurationVar(&o.Server.IdleTimeout, "idle-timeout", envDuration("IDLE_TIMEOUT", httpapi.DefaultIdleTimeout), "how long a keep-alive connection may wait for its next request (IDLE_TIMEOUT)")
	fs.IntVar(&o.Server.MaxConns, "max-conns", envInt("MAX_CONNS", httpapi.DefaultMaxConns), "open connections, WebSockets included; past it, 503 (MAX_CONNS)")
	rate := fs.String("rate-limit", Env("RATE_LIMIT", ""), fmt.Sprintf("requests a second per tenant, 0 for none; default: none in development, %d in production (RATE_LIMIT)", DefaultRateLimit))
	return func(development bool) error {
		o.NoMetrics, o.NoRequestLog, o.NoLimits = !*metrics, !*requestLog, !*limits
		switch {
		case *rate == "" && development:
			o.RateLimit = 0
		case *rate == "":
			o.RateLimit = DefaultRateLimit
		default:
			r, err := strconv.ParseFloat(*rate, 64)
			if err != nil || r < 0 {
				return fmt.Errorf("RATE_LIMIT must be a number of requests a second, not %q", *rate)
			}
			o.RateLimit = r
		}
		return nil
	}
}

// Env returns the environment variable key, or def when it is unset or
// empty: the one reading of the environment for the server and the
// command-line modes.
func Env(key, def string) string {
	if v, ok := os.LookupEnv(key); ok && v != "" {
		return v
	}
	return def
}

func envInt(key string, def int) int {
	if n, err := strconv.Atoi(Env(key, "")); err == nil {
		return n
	}
	return def
}

func envDuration(key string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(Env(key, "")); err == nil {
		return d
	}
	return def
}
