package graph_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/partnercenter/multichannel/eventstore"
	"github.com/partnercenter/multichannel/graph"
)

// stallingStore answers no read until its context ends.
type stallingStore struct{ eventstore.Store }

func (stallingStore) ReadAll(ctx context.Context, _ eventstore.Position, _ int) ([]eventstore.RecordedEvent, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func (stallingStore) ReadStream(ctx context.Context, _ string, _ eventstore.Direction, _ uint64, _ int) ([]eventstore.RecordedEvent, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// The request deadline is an instant in the context; a read of the store
// through DeadlineStore ends at it, and without one it waits for its
// context as before.
func TestDeadlineStore(t *testing.T) {
	t.Parallel()
	s := graph.DeadlineStore(stallingStore{})
	ctx := graph.WithRequest(context.Background(), &graph.Request{Deadline: time.Now().Add(20 * time.Millisecond)})
	if _, err := s.ReadAll(ctx, eventstore.Position{}, 10); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("ReadAll past the request deadline: %v, want DeadlineExceeded", err)
	}
	if _, err := s.ReadStream(ctx, "customer-x", eventstore.Forwards, 0, 10); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("ReadStream past the request deadline: %v, want DeadlineExceeded", err)
	}
	// No request deadline (a WebSocket): only the caller's context ends it.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := s.ReadAll(ctx, eventstore.Position{}, 10); done <- err }()
	select {
	case err := <-done:
		t.Fatalf("ReadAll without a deadline ended by itself: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("ReadAll after cancel: %v", err)
	}
}
