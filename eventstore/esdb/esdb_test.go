package esdb

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/partnercenter/multichannel/eventstore"
	"github.com/partnercenter/multichannel/eventstore/esdb/esdbtest"
	"github.com/partnercenter/multichannel/eventstore/eventstoretest"
)

// TestConformanceProtocolDouble runs the conformance suite through the real
// adapter and the real v4 client, against the in-process protocol double:
// one fresh double per subtest.
func TestConformanceProtocolDouble(t *testing.T) {
	eventstoretest.Run(t, func(t *testing.T) func() (eventstore.Store, error) {
		d := esdbtest.NewServer(t)
		return func() (eventstore.Store, error) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			return Open(ctx, d.URL(), WithLogger(quiet), WithRetry(4, 5*time.Millisecond, 40*time.Millisecond))
		}
	})
}

// TestConformanceEventStoreDB runs the conformance suite against the real
// server at EVENTSTORE_URL. The suite writes only fresh streams and looks
// only at its own events in $all, so a server with other data will do.
func TestConformanceEventStoreDB(t *testing.T) {
	url := os.Getenv("EVENTSTORE_URL")
	if url == "" {
		t.Skip("EVENTSTORE_URL is not set, so the suite does not run against a real EventStoreDB; " +
			"to run it: docker compose up -d eventstore && " +
			"EVENTSTORE_URL='esdb://localhost:2113?tls=false' go test ./eventstore/esdb/")
	}
	eventstoretest.Run(t, func(t *testing.T) func() (eventstore.Store, error) {
		return func() (eventstore.Store, error) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			return Open(ctx, url, WithLogger(quiet))
		}
	})
}
