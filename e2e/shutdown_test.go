package e2e

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/partnercenter/multichannel/domain"
)

// TestGracefulShutdown sends SIGTERM to the server binary while 32 clients
// have mutations in flight and a live-feed client is subscribed: the
// requests in flight finish and are acknowledged, the WebSocket gets a
// close frame, the process exits 0, and after a restart every acknowledged
// mutation is there, none twice.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	bin := buildServer(t)
	db := filepath.Join(t.TempDir(), "events.db")
	child := startChild(t, bin, db)
	ts := child.testServer()
	_, customer := setUpTenants(ts)
	customerGA := ts.user(customer, domain.RoleGlobalAdmin)

	feed, err := dialWS(t, ts, customerGA.token)
	if err != nil {
		t.Fatal(err)
	}
	feed.send(map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{
		"query": `subscription { eventAppended { type stream } }`}})

	rec := &recording{acked: map[string]string{}, refused: map[string]int{}}
	stop := make(chan struct{})
	var signalledAt atomic.Int64
	wg := runLoad(32, child.url, customerGA.token, customer, rec, stop, &signalledAt)
	// The feed is live: it carries the load's events.
	if m, err := feed.read(10 * time.Second); err != nil || m["type"] != "next" {
		t.Fatalf("live feed before the signal: %v, %v", m, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for rec.ackedCount() < 300 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}

	signalledAt.Store(time.Now().UnixNano())
	child.signal(syscall.SIGTERM)
	// The live feed ends with a close frame, not a dropped connection.
	closeStatus := websocket.StatusCode(-1)
	for {
		_, err := feed.read(20 * time.Second)
		if err != nil {
			closeStatus = websocket.CloseStatus(err)
			if closeStatus == -1 {
				t.Fatalf("live feed at shutdown: %v, want a close frame", err)
			}
			break
		}
	}
	exitErr := child.wait(30 * time.Second)
	close(stop)
	wg.Wait()

	if exitErr != nil {
		var ee *exec.ExitError
		if errors.As(exitErr, &ee) {
			t.Fatalf("exit status %d after SIGTERM, want 0\n%s", ee.ExitCode(), child.logs.String())
		}
		t.Fatal(exitErr)
	}
	if !strings.Contains(child.logs.String(), "stopped cleanly") {
		t.Fatalf("no clean stop in the logs:\n%s", child.logs.String())
	}
	if closeStatus != websocket.StatusNormalClosure && closeStatus != websocket.StatusGoingAway {
		t.Fatalf("live feed closed with %d, want 1000 or 1001", closeStatus)
	}
	rec.mu.Lock()
	inFlight, refused := rec.inFlight, rec.refused
	rec.mu.Unlock()
	if len(refused) > 0 {
		// A request the server took in was finished, not failed.
		t.Fatalf("mutations refused around the shutdown: %v", refused)
	}
	if inFlight == 0 {
		t.Fatal("no mutation was in flight at the signal: the test proved nothing")
	}

	restarted := startChild(t, bin, db)
	lost, duplicated, unacked := checkRecovered(t, restarted.testServer(), db, customer, rec)
	t.Logf("SIGTERM under 32 clients: acknowledged %d (%d of them in flight at the signal), lost %d, duplicated %d, recorded but not acknowledged %d, no answer %d; live feed closed with %d",
		len(rec.acked), inFlight, lost, duplicated, unacked, rec.transport, closeStatus)
	if unacked != 0 {
		// A graceful stop answers every request it took in.
		t.Errorf("%d mutations recorded without an answer", unacked)
	}
}
