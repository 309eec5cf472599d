// Command multichannel serves the multi-channel support GraphQL API on an
// event-sourced backend: the embedded SQLite store by default, EventStoreDB
// when EVENTSTORE_URL is set. The application is internal/app; this is its
// wiring to the process: flags and environment into a config, then run.
//
// Configuration comes from the environment, mirrored by flags (a flag wins):
// see app.ParseConfig and the README's configuration table.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/internal/app"
	"github.com/partnercenter/multichannel/internal/cli"
)

func main() {
	// Batch the randomness of ids (UUIDv7 for events, correlation ids):
	// one read of the system's random source per batch, not per id.
	uuid.EnableRandPool()
	logger := app.NewLogger()
	slog.SetDefault(logger)
	app.TuneGC(logger)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	// The command-line modes (replay, verify, export, import, generate),
	// help, and a refusal of an unknown word before anything is created.
	serve, args, err := cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		stop()
		if errors.Is(err, cli.ErrUnknownMode) || errors.Is(err, cli.ErrUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
	if !serve {
		return
	}
	cfg, err := app.ParseConfig(args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		slog.Error("bad configuration", "err", err)
		stop()
		os.Exit(2)
	}
	a, err := app.New(cfg)
	if err == nil {
		err = a.Run(ctx)
	}
	if err != nil {
		slog.Error("server stopped", "err", err)
		stop()
		os.Exit(1)
	}
}
