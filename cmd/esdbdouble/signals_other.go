//go:build !unix

package main

import (
	"context"
	"io"

	"github.com/partnercenter/multichannel/eventstore/esdb/esdbtest"
)

// handleSignals does nothing where there is no SIGUSR1: use the control
// port.
func handleSignals(context.Context, *esdbtest.Server, io.Writer) {}
