package faultstore_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/eventstore"
	"github.com/partnercenter/multichannel/eventstore/eventstoretest"
	"github.com/partnercenter/multichannel/eventstore/sqlite"
	"github.com/partnercenter/multichannel/internal/faultstore"
)

// Without faults the wrapper is the wrapped store: it passes the suite.
func TestConformance(t *testing.T) {
	eventstoretest.Run(t, func(t *testing.T) func() (eventstore.Store, error) {
		path := filepath.Join(t.TempDir(), "events.db")
		return func() (eventstore.Store, error) {
			s, err := sqlite.Open(path)
			if err != nil {
				return nil, err
			}
			return faultstore.New(s), nil
		}
	})
}

func open(t *testing.T) *faultstore.Store {
	t.Helper()
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	fs := faultstore.New(s)
	t.Cleanup(func() { fs.Close() })
	return fs
}

func event(typ string) eventstore.EventData {
	return eventstore.EventData{ID: uuid.Must(uuid.NewV7()), Type: typ, Data: []byte(`{}`), Metadata: []byte(`{}`)}
}

func TestFail(t *testing.T) {
	fs := open(t)
	ctx := context.Background()
	fs.Fail(faultstore.Append, nil)
	_, err := fs.Append(ctx, "test-1", eventstore.NoStream(), event("A"))
	if !errors.Is(err, eventstore.ErrUnavailable) || !errors.Is(err, faultstore.ErrInjected) {
		t.Fatalf("append while failing: %v, want ErrInjected (ErrUnavailable)", err)
	}
	// Reads are not faulted: the append did not reach the store.
	if _, err := fs.ReadStream(ctx, "test-1", eventstore.Forwards, 0, 10); !errors.Is(err, eventstore.ErrStreamNotFound) {
		t.Fatalf("read after a failed append: %v, want ErrStreamNotFound", err)
	}
	custom := errors.New("disk on fire")
	fs.Fail(faultstore.Reads, custom)
	if _, err := fs.ReadAll(ctx, eventstore.Start, 10); !errors.Is(err, custom) {
		t.Fatalf("ReadAll: %v, want the injected error", err)
	}
	fs.Heal()
	if _, err := fs.Append(ctx, "test-1", eventstore.NoStream(), event("A")); err != nil {
		t.Fatalf("append after Heal: %v", err)
	}
	if st := fs.Stats(); st.Failed != 2 || st.Appends != 1 {
		t.Fatalf("stats = %+v, want 2 failed calls and 1 append", st)
	}
}

func TestStallEndsWithContextOrHeal(t *testing.T) {
	fs := open(t)
	fs.Stall(faultstore.Append)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := fs.Append(ctx, "test-1", eventstore.NoStream(), event("A"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("stalled append: %v, want the context's deadline", err)
	}

	done := make(chan error, 1)
	go func() {
		_, err := fs.Append(context.Background(), "test-1", eventstore.NoStream(), event("A"))
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("a stalled append returned before Heal: %v", err)
	case <-time.After(30 * time.Millisecond):
	}
	fs.Heal()
	if err := <-done; err != nil {
		t.Fatalf("stalled append after Heal: %v", err)
	}
	if st := fs.Stats(); st.Stalled != 2 || st.Appends != 1 {
		t.Fatalf("stats = %+v, want 2 stalled calls and 1 append", st)
	}
}

// A lost acknowledgement: the events are written, the call fails; retried
// with the same ids and expected revision, the append writes nothing twice.
func TestLoseAcks(t *testing.T) {
	fs := open(t)
	ctx := context.Background()
	fs.LoseAcks(1)
	ev := event("A")
	if _, err := fs.Append(ctx, "test-1", eventstore.NoStream(), ev); !errors.Is(err, faultstore.ErrLostAck) || !errors.Is(err, eventstore.ErrUnavailable) {
		t.Fatalf("append with a lost ack: %v, want ErrLostAck", err)
	}
	got, err := fs.ReadStream(ctx, "test-1", eventstore.Forwards, 0, 10)
	if err != nil || len(got) != 1 || got[0].ID != ev.ID {
		t.Fatalf("after a lost ack the stream holds %v (err %v), want the event", got, err)
	}
	res, err := fs.Append(ctx, "test-1", eventstore.NoStream(), ev)
	if err != nil || res.NextRevision != 0 {
		t.Fatalf("retry: %+v, %v; want revision 0", res, err)
	}
	if got, _ := fs.ReadAll(ctx, eventstore.Start, 10); len(got) != 1 {
		t.Fatalf("log holds %d events after the retry, want 1", len(got))
	}
}

func TestSubscriptionFaults(t *testing.T) {
	fs := open(t)
	ctx := context.Background()
	got := make(chan eventstore.RecordedEvent, 16)
	done := make(chan error, 1)
	go func() {
		done <- fs.SubscribeAll(ctx, eventstore.Start, func(e eventstore.RecordedEvent) error {
			got <- e
			return nil
		})
	}()
	if _, err := fs.Append(ctx, "test-1", eventstore.NoStream(), event("A")); err != nil {
		t.Fatal(err)
	}
	receive := func(within time.Duration) bool {
		select {
		case <-got:
			return true
		case <-time.After(within):
			return false
		}
	}
	if !receive(5 * time.Second) {
		t.Fatal("first event not delivered")
	}

	// A stall holds delivery back until Heal.
	fs.Stall(faultstore.Subscribe)
	if _, err := fs.Append(ctx, "test-1", eventstore.Exact(0), event("B")); err != nil {
		t.Fatal(err)
	}
	if receive(50 * time.Millisecond) {
		t.Fatal("an event was delivered during a stall")
	}
	fs.Heal()
	if !receive(5 * time.Second) {
		t.Fatal("the held event was not delivered after Heal")
	}

	// A failure ends the running subscription with the injected error.
	fs.Fail(faultstore.Subscribe, nil)
	select {
	case err := <-done:
		if !errors.Is(err, faultstore.ErrInjected) {
			t.Fatalf("subscription ended with %v, want ErrInjected", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the subscription did not end on the failure")
	}
	if err := fs.SubscribeAll(ctx, eventstore.Start, func(eventstore.RecordedEvent) error { return nil }); !errors.Is(err, faultstore.ErrInjected) {
		t.Fatalf("new subscription while failing: %v", err)
	}
}
