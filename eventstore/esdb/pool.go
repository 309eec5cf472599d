package esdb

import (
	"context"
	"fmt"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"

	"github.com/partnercenter/multichannel/eventstore"
)

// The adapter never lets two goroutines use one v4 client at the same time;
// it keeps a small pool of clients instead, each used by one call at a time,
// and gives every subscription a client of its own. Two defects of the v4.2.0
// client make sharing one unsafe under failure:
//
//   - When node discovery fails its configured number of times (an outage of
//     about a second with the defaults), the client's connection goroutine
//     marks the client closed and exits. A call that was already waiting to
//     be handed a connection then waits forever, ignoring its context.
//   - Close closes a channel that calls send on without synchronisation: a
//     Close during a call panics ("send on closed channel").
//
// With one user per client neither can happen: a call waits only for its own
// discovery, which ends, and a client is closed only by the goroutine that
// holds it. A client that closed itself is dropped and replaced by a new one
// on the next call. The cost is one gRPC connection per concurrent call, up
// to the pool's size, instead of one multiplexed connection.

// acquire takes an idle client of the pool, or makes one, waiting while the
// pool's size of calls is in flight.
func (s *Store) acquire(ctx context.Context) (*esdb.Client, error) {
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-s.done:
		return nil, eventstore.ErrClosed
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		<-s.slots
		return nil, eventstore.ErrClosed
	}
	if n := len(s.idle); n > 0 {
		c := s.idle[n-1]
		s.idle = s.idle[:n-1]
		s.mu.Unlock()
		return c, nil
	}
	s.mu.Unlock()
	c, err := s.newClient()
	if err != nil {
		<-s.slots
		return nil, err
	}
	return c, nil
}

// release returns c to the pool after a call that ended with err, or closes
// it when it closed itself or the store is closed.
func (s *Store) release(c *esdb.Client, err error) {
	defer func() { <-s.slots }()
	s.mu.Lock()
	if s.closed || selfClosed(err) {
		s.mu.Unlock()
		_ = c.Close() // ours alone: no call can be sending on it
		return
	}
	s.idle = append(s.idle, c)
	s.mu.Unlock()
}

func (s *Store) newClient() (*esdb.Client, error) {
	cfg := s.cfg // the client keeps a pointer: give each its own copy
	c, err := esdb.NewClient(&cfg)
	if err != nil {
		return nil, fmt.Errorf("esdb: %w", err)
	}
	return c, nil
}

// selfClosed reports whether err says the client gave up for good.
func selfClosed(err error) bool {
	code, ok := codeOf(err)
	return ok && code == esdb.ErrorCodeConnectionClosed
}
