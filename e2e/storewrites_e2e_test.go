package e2e

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/internal/faultstore"
	"github.com/partnercenter/multichannel/internal/observability"
)

// A store that answers reads but refuses writes (a full disk, a data file
// made read-only) is not ready: each mutation is UNAVAILABLE, /readyz
// answers 503 from the first refused write until a write succeeds, and the
// server takes writes again by itself once the store does.
func TestReadinessWhileTheStoreRefusesWrites(t *testing.T) {
	t.Parallel()
	var fs *faultstore.Store
	ts := startServer(t, withFaults(&fs))
	w := newWorld(t, ts)
	awaitCondition(t, "/readyz", func() bool { return ts.readyz() == http.StatusOK })

	fs.Fail(faultstore.Writes, nil)
	w.aSales.refused("UNAVAILABLE", mOnboard, onboardVars(uuid.New()))
	if got := ts.readyz(); got != http.StatusServiceUnavailable {
		t.Fatalf("/readyz after a refused write: %d, want 503", got)
	}

	// The store takes writes again, but the server cannot know until one
	// succeeds: it stays not ready until then.
	fs.Heal()
	if got := ts.readyz(); got != http.StatusServiceUnavailable {
		t.Fatalf("/readyz before any write succeeded: %d, want 503", got)
	}
	w.aSales.ok(nil, mOnboard, onboardVars(uuid.New()))
	if got := ts.readyz(); got != http.StatusOK {
		t.Fatalf("/readyz after a write succeeded: %d, want 200", got)
	}
}

// A server that refused a write and got no traffic since (a balancer took
// it out) is ready again after READY_WRITE_FAILURE_HOLD, so that the next
// write can show whether the store takes writes.
func TestWriteFailureHoldEnds(t *testing.T) {
	t.Parallel()
	var fs *faultstore.Store
	ts := startServer(t, withFaults(&fs))
	w := newWorld(t, ts)
	fs.Fail(faultstore.Writes, nil)
	w.aSales.refused("UNAVAILABLE", mOnboard, onboardVars(uuid.New()))
	fs.Heal()
	if got := ts.readyz(); got != http.StatusServiceUnavailable {
		t.Fatalf("/readyz after a refused write: %d, want 503", got)
	}
	ts.advance(observability.DefaultWriteFailureHold + time.Second)
	if got := ts.readyz(); got != http.StatusOK {
		t.Fatalf("/readyz past the hold: %d, want 200", got)
	}
}
