//go:build unix

package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/partnercenter/multichannel/eventstore/esdb/esdbtest"
)

// handleSignals takes the node away on SIGUSR1 and brings it back on
// SIGUSR2, until ctx ends. The signals are caught from the moment it
// returns.
func handleSignals(ctx context.Context, d *esdbtest.Server, stderr io.Writer) {
	ch := make(chan os.Signal, 4)
	signal.Notify(ch, syscall.SIGUSR1, syscall.SIGUSR2)
	go serveSignals(ctx, ch, d, stderr)
}

func serveSignals(ctx context.Context, ch chan os.Signal, d *esdbtest.Server, stderr io.Writer) {
	defer signal.Stop(ch)
	for {
		select {
		case <-ctx.Done():
			return
		case s := <-ch:
			if s == syscall.SIGUSR1 {
				d.Stop()
				fmt.Fprintln(stderr, "esdbdouble: stopped")
				continue
			}
			if err := d.Listen(); err != nil {
				fmt.Fprintln(stderr, "esdbdouble:", err)
				continue
			}
			fmt.Fprintln(stderr, "esdbdouble: listening")
		}
	}
}
