package app

import (
	"context"
	"net/http"
	"sync"

	"github.com/partnercenter/multichannel/internal/httpapi"
)

// liveConns tracks the live feed's WebSocket connections. http.Server's
// Shutdown neither closes nor waits for hijacked connections, so each
// WebSocket request gets a context that closeAll cancels; gqlgen's
// transport then sends a close frame (1000) and ends the subscriptions.
type liveConns struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	closed bool // no connection is added once wait has begun
}

func newLiveConns() *liveConns {
	ctx, cancel := context.WithCancel(context.Background())
	return &liveConns{ctx: ctx, cancel: cancel}
}

func (l *liveConns) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !httpapi.IsWebSocket(r) {
			next.ServeHTTP(w, r)
			return
		}
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			http.Error(w, "shutting down", http.StatusServiceUnavailable)
			return
		}
		l.wg.Add(1)
		l.mu.Unlock()
		defer l.wg.Done()
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		stop := context.AfterFunc(l.ctx, cancel)
		defer stop()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// closeAll ends every live-feed connection (registered with
// RegisterOnShutdown).
func (l *liveConns) closeAll() { l.cancel() }

// wait waits for the live-feed handlers to return, or ctx to end.
func (l *liveConns) wait(ctx context.Context) error {
	l.closeAll() // also when the server stops for another reason
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	done := make(chan struct{})
	go func() { l.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
