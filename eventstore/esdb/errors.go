package esdb

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/partnercenter/multichannel/eventstore"
)

// codeOf returns the client's error code. In v4 esdb.FromError reports
// ok == false when there IS an error, so errors.As is used instead.
func codeOf(err error) (esdb.ErrorCode, bool) {
	var ee *esdb.Error
	if errors.As(err, &ee) {
		return ee.Code(), true
	}
	return esdb.ErrorCodeUnknown, false
}

// transient reports whether err is the server or the network being away for
// a while, which a later try may not meet. A subscription's drop error comes
// from gRPC unwrapped, hence the status codes next to the client's.
func transient(err error) bool {
	if code, ok := codeOf(err); ok {
		switch code {
		case esdb.ErrorUnavailable, esdb.ErrorCodeNotLeader, esdb.ErrorCodeDeadlineExceeded,
			esdb.ErrorCodeConnectionClosed, esdb.ErrorAborted:
			return true
		}
		if code != esdb.ErrorCodeUnknown {
			return false
		}
	}
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Aborted:
		return true
	}
	return false
}

// reason names a transient failure for the error message.
func reason(err error) string {
	if code, ok := codeOf(err); ok {
		switch code {
		case esdb.ErrorCodeNotLeader:
			return "the node is not the leader"
		case esdb.ErrorCodeDeadlineExceeded:
			return "the server did not answer in time"
		case esdb.ErrorCodeConnectionClosed:
			return "the connection was closed after discovery failed"
		case esdb.ErrorAborted:
			return "the server aborted the request"
		}
	}
	if status.Code(err) == codes.DeadlineExceeded {
		return "the server did not answer in time"
	}
	return "the server cannot be reached"
}

// translate turns a client error into the eventstore package's errors.
func (s *Store) translate(ctx context.Context, op string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		// The caller's own deadline or cancellation: not the server's fault.
		return fmt.Errorf("esdb: %s: %w", op, ctxErr)
	}
	if s.isClosed() {
		return fmt.Errorf("esdb: %s: %w", op, eventstore.ErrClosed)
	}
	if code, ok := codeOf(err); ok {
		switch code {
		case esdb.ErrorCodeResourceNotFound, esdb.ErrorCodeStreamDeleted:
			return fmt.Errorf("esdb: %s: %w", op, eventstore.ErrStreamNotFound)
		case esdb.ErrorCodeWrongExpectedVersion:
			return err // Append builds the typed error from it
		}
	}
	if transient(err) {
		return fmt.Errorf("esdb: %s: %w (%s): %w", op, eventstore.ErrUnavailable, reason(err), err)
	}
	return fmt.Errorf("esdb: %s: %w", op, err)
}

func (s *Store) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// withRetry runs call with the read retry policy.
func (s *Store) withRetry(ctx context.Context, op string, call func(*esdb.Client) error) error {
	return s.retryN(ctx, op, s.retry.attempts, call)
}

// retryN runs call, on a client of the pool, up to attempts times while it
// fails transiently, waiting with exponential backoff in between, and
// translates the last error.
func (s *Store) retryN(ctx context.Context, op string, attempts int, call func(*esdb.Client) error) error {
	wait := s.retry.initial
	freshTried := false
	for try := 1; ; try++ {
		c, err := s.acquire(ctx)
		if err != nil {
			return fmt.Errorf("esdb: %s: %w", op, err)
		}
		err = call(c)
		s.release(c, err)
		if err == nil {
			return nil
		}
		if selfClosed(err) && !freshTried {
			// A pooled client that had given up sent nothing: try once more
			// on a fresh one, free of the retry budget and safe even for an
			// append that may not be retried.
			freshTried = true
			try--
			continue
		}
		if try >= attempts || !transient(err) || ctx.Err() != nil {
			return s.translate(ctx, op, err)
		}
		s.log.Warn("esdb: retrying", "op", op, "try", try, "wait", wait, "err", err)
		if werr := s.sleep(ctx, wait); werr != nil {
			return s.translate(ctx, op, err)
		}
		wait = min(2*wait, s.retry.max)
	}
}

// sleep waits d, or less if ctx ends or the store is closed.
func (s *Store) sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-s.done:
		return eventstore.ErrClosed
	}
}
