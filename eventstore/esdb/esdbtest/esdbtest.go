// Package esdbtest serves an EventStoreDB stand-in for tests, as
// net/http/httptest serves HTTP: a gRPC double of the streams protocol on a
// loopback port, with faults to inject. It is imported by tests and by the
// test-only command cmd/esdbdouble; nothing in the product depends on it.
//
//	url := esdbtest.Start(t) // esdb://127.0.0.1:<port>?tls=false, stopped when t ends
//
// NewServer returns the double itself, to inject faults or take the node
// away and bring it back. New builds one outside a test (with a data file,
// so that its log survives a restart of the process); cmd/esdbdouble serves
// that as a process of its own.
package esdbtest

import (
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/protos/serverfeatures"
	api "github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"github.com/google/uuid"
	"google.golang.org/grpc"
)

// Server is a stand-in for one EventStoreDB node, speaking the gRPC
// services the official clients use for streams: Append, BatchAppend, Read
// of a stream forwards and backwards, Read of $all (with filters),
// subscriptions to $all, and ServerFeatures. Its behaviour follows
// EventStoreDB's documented semantics and, where the documentation is
// silent, what a node's source does (EventStore.Core: the storage writer's
// commit check, the request manager's answers, the gRPC read and append
// services):
//
//   - Appending: https://developers.eventstore.com/clients/grpc/appending-events.html
//     (expected revisions, WrongExpectedVersion with the current revision,
//     idempotence by event id).
//   - Reading: https://developers.eventstore.com/clients/grpc/reading-events.html
//     (StreamNotFound, reading $all from a position, which is inclusive; the
//     event id in the format the request asks for, structured or string).
//   - Subscriptions: https://developers.eventstore.com/clients/grpc/subscriptions.html
//     (catch-up from a position, exclusive; server-side filters; checkpoints;
//     caught-up notice).
//
// Positions are a node's: each event written by an append has its own log
// position, reported as both its commit and its prepare position (an append
// is one implicit transaction whose records are each committed), growing
// through the append; the append's answer is the last event's position.
// AppendTransaction writes the other shape a node's log holds, the events of
// an explicit transaction sharing the commit record's position.
//
// It does not register the gossip service (a single-node connection string
// does no gossip). It does answer ServerFeatures, listing BatchAppend, as a
// node does; Options.NoServerFeatures leaves that out, as an older node
// would, and clients then append with Append.
//
// Like a node with the standard projections running, every append to a
// product stream also writes a link event (type "$>") to the category stream
// $ce-<category>, so $all holds system events that readers must skip.
//
// Faults can be injected: subscriptions that drop after n events, appends
// whose acknowledgement is lost, and the whole node going away (Stop, then
// Listen or Restart on the same port, with the same data).
type Server struct {
	api.UnimplementedStreamsServer

	mu      sync.Mutex
	log     []*doubleEvent    // $all, in log order
	streams map[string][]int  // stream -> indexes into log, by revision
	ids     map[uuid.UUID]int // event id -> index into log
	next    uint64            // log position of the next record
	changed chan struct{}     // closed and replaced by every write
	file    *logFile          // nil: in memory only
	opts    Options

	dropAfter         []int // per new subscription, in order: drop after n events
	lostAcks          int   // next appends are written, then answered Unavailable
	retriesNoPosition bool  // answer idempotent retries without a position
	appendCalls       int   // Append and BatchAppend writes asked for
	batchAppends      int   // of which through BatchAppend
	subscribes        int

	addr string
	srv  *grpc.Server
}

// Options configure New.
type Options struct {
	// Addr is where Listen listens: host:port, port 0 for any free port
	// (the same one again after Stop). Default 127.0.0.1:0.
	Addr string
	// DataFile, when set, is an append-only file holding the log: it is
	// read when the double is made and every write is added to it before
	// it is acknowledged, so the log survives a restart of the process. An
	// incomplete last record (a process killed in mid-write) is cut off.
	DataFile string
	// Fsync syncs the data file after every write, so that acknowledged
	// writes survive the machine losing power too, not only the process.
	Fsync bool
	// NoServerFeatures leaves out the ServerFeatures service, as on a node
	// older than 21.10: clients then take every method to be there and
	// append with Append rather than BatchAppend.
	NoServerFeatures bool
}

type doubleEvent struct {
	id              uuid.UUID
	stream          string
	revision        uint64
	commit, prepare uint64
	typ             string
	json            bool  // a node keeps only whether the content is JSON
	created         int64 // .NET ticks since the Unix epoch, as the server sends
	data, meta      []byte
}

// logStart is the position of the first record: a real log starts with
// records of its own (epoch, system streams), never at 0.
const logStart = 512

// New makes a double, reading its log from opts.DataFile when there is one.
// It does not listen until Listen.
func New(opts Options) (*Server, error) {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	d := &Server{
		streams: map[string][]int{},
		ids:     map[uuid.UUID]int{},
		next:    logStart,
		changed: make(chan struct{}),
		addr:    opts.Addr,
		opts:    opts,
	}
	if opts.DataFile != "" {
		f, err := openLogFile(opts.DataFile, opts.Fsync, func(next uint64, recs []*doubleEvent) {
			for _, e := range recs {
				d.index(e)
			}
			d.next = next
		})
		if err != nil {
			return nil, err
		}
		d.file = f
	}
	return d, nil
}

// Start serves a fresh double on a loopback port until the test ends and
// returns its connection string.
func Start(tb testing.TB) string {
	tb.Helper()
	return NewServer(tb).URL()
}

// NewServer serves a fresh in-memory double on a loopback port until the
// test ends.
func NewServer(tb testing.TB) *Server {
	tb.Helper()
	return NewServerWith(tb, Options{})
}

// NewServerWith serves a double made with opts until the test ends.
func NewServerWith(tb testing.TB, opts Options) *Server {
	tb.Helper()
	d, err := New(opts)
	if err != nil {
		tb.Fatalf("esdbtest: %v", err)
	}
	tb.Cleanup(func() { d.Close() })
	d.Restart(tb)
	return d
}

// URL is the connection string of the double.
func (d *Server) URL() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return "esdb://" + d.addr + "?tls=false"
}

// Addr is the address the double listens on (after Stop, the one it
// listens on again).
func (d *Server) Addr() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.addr
}

// Listening reports whether the double is serving.
func (d *Server) Listening() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.srv != nil
}

// Listen serves on the double's address, the port it had before Stop
// included. Listening while listening does nothing.
func (d *Server) Listen() error {
	d.mu.Lock()
	if d.srv != nil {
		d.mu.Unlock()
		return nil
	}
	addr := d.addr
	d.mu.Unlock()
	var lis net.Listener
	var err error
	for try := 0; try < 50; try++ { // the old socket may linger a moment
		if lis, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("esdbtest: listen: %w", err)
	}
	srv := grpc.NewServer()
	api.RegisterStreamsServer(srv, d)
	if !d.opts.NoServerFeatures {
		serverfeatures.RegisterServerFeaturesServer(srv, features{})
	}
	d.mu.Lock()
	d.addr, d.srv = lis.Addr().String(), srv
	d.mu.Unlock()
	go srv.Serve(lis)
	return nil
}

// Restart brings the node back after Stop, on the same port, with the
// same data.
func (d *Server) Restart(tb testing.TB) {
	tb.Helper()
	if err := d.Listen(); err != nil {
		tb.Fatal(err)
	}
}

// Stop takes the node away: the listener closes, open streams end and
// connections close. The data stays; Listen brings the node back.
func (d *Server) Stop() {
	d.mu.Lock()
	srv := d.srv
	d.srv = nil
	d.mu.Unlock()
	if srv != nil {
		srv.Stop()
	}
}

// Close stops the node and closes its data file.
func (d *Server) Close() error {
	d.Stop()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.file == nil {
		return nil
	}
	err := d.file.close()
	d.file = nil
	return err
}

// DropSubscriptions makes the next subscriptions drop, with Unavailable,
// after delivering n[0], n[1], ... events.
func (d *Server) DropSubscriptions(n ...int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.dropAfter = append(d.dropAfter, n...)
}

// LoseAcks makes the next n appends take effect but answer Unavailable, as
// when the connection breaks before the acknowledgement arrives.
func (d *Server) LoseAcks(n int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.lostAcks = n
}

// AnswerRetriesWithoutPosition makes an idempotent retry answer with the
// revision only and no position, as nodes before the request manager
// learned the retried events' position did. Current nodes answer with the
// last retried event's position.
func (d *Server) AnswerRetriesWithoutPosition(on bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.retriesNoPosition = on
}

// Counts reports how many appends and subscriptions the node has served,
// and how many records its log holds (system records included).
func (d *Server) Counts() (appends, subscribes, logLen int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.appendCalls, d.subscribes, len(d.log)
}

// BatchAppends reports how many of the appends came through BatchAppend.
func (d *Server) BatchAppends() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.batchAppends
}

// index adds a written record to the in-memory log. d.mu is held (or the
// double is being made).
func (d *Server) index(e *doubleEvent) {
	i := len(d.log)
	d.log = append(d.log, e)
	d.streams[e.stream] = append(d.streams[e.stream], i)
	d.ids[e.id] = i
}
