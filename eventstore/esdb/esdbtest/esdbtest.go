// Package esdbtest serves an in-process EventStoreDB for tests, as
// net/http/httptest serves HTTP: a gRPC double of the streams protocol that
// the v4 client speaks, on a loopback port, with faults to inject. It is
// imported by tests only; nothing in the product depends on it.
//
//	url := esdbtest.Start(t) // esdb://127.0.0.1:<port>?tls=false, stopped when t ends
//
// NewServer returns the double itself, to inject faults or take the node
// away and bring it back.
package esdbtest

import (
	"errors"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	api "github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Server is an in-process stand-in for one EventStoreDB node,
// speaking the streams gRPC service the v4 client uses. It covers what the
// adapter calls: Append, Read of a stream forwards and backwards, Read of
// $all (with filters), and subscriptions to $all. Its behaviour follows
// EventStoreDB's documented semantics for those:
//
//   - Appending: https://developers.eventstore.com/clients/grpc/appending-events.html
//     (expected revisions, WrongExpectedVersion with the current revision,
//     idempotence by event id).
//   - Reading: https://developers.eventstore.com/clients/grpc/reading-events.html
//     (StreamNotFound, reading $all from a position, which is inclusive).
//   - Subscriptions: https://developers.eventstore.com/clients/grpc/subscriptions.html
//     (catch-up from a position, exclusive; server-side filters; checkpoints;
//     caught-up notice).
//
// It registers neither the gossip service (a single-node connection string
// does no gossip) nor server features: the client treats Unimplemented there
// as an older server and carries on.
//
// Like a node with the standard projections running, every append to a
// product stream also writes a link event (type "$>") to the category stream
// $ce-<category>, so $all holds system events that readers must skip.
//
// Faults can be injected: subscriptions that drop after n events, appends
// whose acknowledgement is lost, and the whole node going away (stop/start).
type Server struct {
	api.UnimplementedStreamsServer

	mu      sync.Mutex
	log     []*doubleEvent   // $all, in log order
	streams map[string][]int // stream -> indexes into log, by revision
	next    uint64           // log position of the next record
	changed chan struct{}    // closed and replaced by every append

	dropAfter   []int // per new subscription, in order: drop after n events
	lostAcks    int   // next appends are written, then answered Unavailable
	appendCalls int
	subscribes  int

	addr string
	srv  *grpc.Server
}

type doubleEvent struct {
	id              uuid.UUID
	stream          string
	revision        uint64
	commit, prepare uint64
	typ, content    string
	created         int64 // .NET ticks since the Unix epoch, as the server sends
	data, meta      []byte
}

// Start serves a fresh double on a loopback port until the test ends and
// returns its connection string.
func Start(tb testing.TB) string {
	tb.Helper()
	return NewServer(tb).URL()
}

// NewServer serves a fresh double on a loopback port until the test ends.
func NewServer(tb testing.TB) *Server {
	tb.Helper()
	d := &Server{
		streams: map[string][]int{},
		next:    512, // a real log starts with its own records, never at 0
		changed: make(chan struct{}),
		addr:    "127.0.0.1:0",
	}
	d.start(tb)
	tb.Cleanup(d.Stop)
	return d
}

// URL is the connection string of the double.
func (d *Server) URL() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return "esdb://" + d.addr + "?tls=false"
}

// Restart brings the node back after Stop, on the same port, with the
// same data.
func (d *Server) Restart(t testing.TB) {
	t.Helper()
	d.start(t)
}

// start serves on d.addr.
func (d *Server) start(t testing.TB) {
	t.Helper()
	var lis net.Listener
	var err error
	for try := 0; try < 50; try++ { // the old socket may linger a moment
		if lis, err = net.Listen("tcp", d.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	srv := grpc.NewServer()
	api.RegisterStreamsServer(srv, d)
	d.mu.Lock()
	d.addr, d.srv = lis.Addr().String(), srv
	d.mu.Unlock()
	go srv.Serve(lis)
}

// Stop takes the node away: open streams end and connections close.
func (d *Server) Stop() {
	d.mu.Lock()
	srv := d.srv
	d.mu.Unlock()
	srv.Stop()
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

// Counts reports how many appends and subscriptions the node has served,
// and how many records its log holds (system records included).
func (d *Server) Counts() (appends, subscribes, logLen int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.appendCalls, d.subscribes, len(d.log)
}

// Append: the first message names the stream and the expected revision, the
// following ones are the events.
func (d *Server) Append(in api.Streams_AppendServer) error {
	first, err := in.Recv()
	if err != nil {
		return err
	}
	opts := first.GetOptions()
	if opts == nil {
		return status.Error(codes.InvalidArgument, "append: options must come first")
	}
	var events []*doubleEvent
	for {
		m, err := in.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		pm := m.GetProposedMessage()
		if pm == nil {
			return status.Error(codes.InvalidArgument, "append: options sent twice")
		}
		id, err := protoUUID(pm.GetId())
		if err != nil {
			return status.Error(codes.InvalidArgument, err.Error())
		}
		events = append(events, &doubleEvent{
			id:      id,
			typ:     pm.GetMetadata()["type"],
			content: pm.GetMetadata()["content-type"],
			data:    pm.GetData(),
			meta:    pm.GetCustomMetadata(),
		})
	}
	resp, lost := d.append(string(opts.GetStreamIdentifier().GetStreamName()), opts, events)
	if lost {
		return status.Error(codes.Unavailable, "double: acknowledgement lost")
	}
	return in.SendAndClose(resp)
}

func (d *Server) append(stream string, opts *api.AppendReq_Options, events []*doubleEvent) (*api.AppendResp, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.appendCalls++
	revs := d.streams[stream]
	exists := len(revs) > 0
	last := uint64(len(revs)) - 1 // meaningless unless exists

	// Idempotence (appending-events.html#idempotence): events whose ids are
	// already in the stream where this append would have put them are a
	// retry. The server guarantees it for an exact revision and NoStream; for
	// Any and StreamExists it is best effort, modelled here by looking the
	// first id up anywhere in the stream.
	var ok bool
	retryAt := -1
	switch exp := opts.GetExpectedStreamRevision().(type) {
	case *api.AppendReq_Options_Revision:
		ok = exists && last == exp.Revision
		retryAt = int(exp.Revision + 1)
	case *api.AppendReq_Options_NoStream:
		ok = !exists
		retryAt = 0
	case *api.AppendReq_Options_StreamExists:
		ok = exists
		retryAt = d.indexOf(revs, events)
	default: // Any
		ok = true
		retryAt = d.indexOf(revs, events)
	}
	if retryAt >= 0 && len(events) > 0 && d.sameIDs(revs, retryAt, events) {
		// The server answers a retry with the revision the events got and no
		// position.
		return &api.AppendResp{Result: &api.AppendResp_Success_{Success: &api.AppendResp_Success{
			CurrentRevisionOption: &api.AppendResp_Success_CurrentRevision{CurrentRevision: uint64(retryAt + len(events) - 1)},
			PositionOption:        &api.AppendResp_Success_NoPosition{NoPosition: &shared.Empty{}},
		}}}, false
	}
	if !ok {
		return &api.AppendResp{Result: &api.AppendResp_WrongExpectedVersion_{
			WrongExpectedVersion: wrongExpected(opts, exists, last),
		}}, false
	}

	// Events of one append share a commit position (the transaction's) and
	// get their own prepare positions: $all orders them by (commit, prepare).
	txn := d.next
	for _, e := range events {
		e.stream, e.revision = stream, uint64(len(d.streams[stream]))
		e.commit, e.prepare = txn, d.next
		d.write(e)
	}
	lastEvent := events[len(events)-1]
	if cat, _, found := strings.Cut(stream, "-"); found && !strings.HasPrefix(stream, "$") {
		for _, e := range events { // what $by_category would emit
			d.link("$ce-"+cat, e)
		}
	}
	close(d.changed)
	d.changed = make(chan struct{})

	resp := &api.AppendResp{Result: &api.AppendResp_Success_{Success: &api.AppendResp_Success{
		CurrentRevisionOption: &api.AppendResp_Success_CurrentRevision{CurrentRevision: lastEvent.revision},
		// The answer names the write as a transaction (its end, its start).
		// For one event that is the event's own position; for several it is
		// not the last event's, so a client must not take it for that.
		PositionOption: &api.AppendResp_Success_Position{Position: &api.AppendResp_Position{
			CommitPosition: lastEvent.prepare, PreparePosition: txn,
		}},
	}}}
	if d.lostAcks > 0 {
		d.lostAcks--
		return nil, true
	}
	return resp, false
}

func (d *Server) write(e *doubleEvent) {
	if e.content == "" {
		e.content = "application/octet-stream"
	}
	e.created = time.Now().UnixNano() / 100
	d.streams[e.stream] = append(d.streams[e.stream], len(d.log))
	d.log = append(d.log, e)
	d.next += uint64(64 + len(e.stream) + len(e.typ) + len(e.data) + len(e.meta))
}

func (d *Server) link(stream string, target *doubleEvent) {
	pos := d.next
	d.write(&doubleEvent{
		id:       uuid.New(),
		stream:   stream,
		revision: uint64(len(d.streams[stream])),
		commit:   pos, prepare: pos,
		typ:  "$>",
		data: []byte(strconv.FormatUint(target.revision, 10) + "@" + target.stream),
	})
}

// indexOf is the revision of the first event's id in the stream, or -1.
func (d *Server) indexOf(revs []int, events []*doubleEvent) int {
	if len(events) == 0 {
		return -1
	}
	for rev, i := range revs {
		if d.log[i].id == events[0].id {
			return rev
		}
	}
	return -1
}

func (d *Server) sameIDs(revs []int, at int, events []*doubleEvent) bool {
	if at+len(events) > len(revs) {
		return false
	}
	for k, e := range events {
		if d.log[revs[at+k]].id != e.id {
			return false
		}
	}
	return true
}

func wrongExpected(opts *api.AppendReq_Options, exists bool, last uint64) *api.AppendResp_WrongExpectedVersion {
	w := &api.AppendResp_WrongExpectedVersion{}
	if exists {
		w.CurrentRevisionOption = &api.AppendResp_WrongExpectedVersion_CurrentRevision{CurrentRevision: last}
	} else {
		w.CurrentRevisionOption = &api.AppendResp_WrongExpectedVersion_CurrentNoStream{CurrentNoStream: &shared.Empty{}}
	}
	switch exp := opts.GetExpectedStreamRevision().(type) {
	case *api.AppendReq_Options_Revision:
		w.ExpectedRevisionOption = &api.AppendResp_WrongExpectedVersion_ExpectedRevision{ExpectedRevision: exp.Revision}
	case *api.AppendReq_Options_NoStream:
		w.ExpectedRevisionOption = &api.AppendResp_WrongExpectedVersion_ExpectedNoStream{ExpectedNoStream: &shared.Empty{}}
	case *api.AppendReq_Options_StreamExists:
		w.ExpectedRevisionOption = &api.AppendResp_WrongExpectedVersion_ExpectedStreamExists{ExpectedStreamExists: &shared.Empty{}}
	default:
		w.ExpectedRevisionOption = &api.AppendResp_WrongExpectedVersion_ExpectedAny{ExpectedAny: &shared.Empty{}}
	}
	return w
}

// Read serves stream reads, $all reads and $all subscriptions.
func (d *Server) Read(req *api.ReadReq, out api.Streams_ReadServer) error {
	o := req.GetOptions()
	filter, err := compileFilter(o.GetFilter())
	if err != nil {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	switch so := o.GetStreamOption().(type) {
	case *api.ReadReq_Options_Stream:
		if o.GetSubscription() != nil {
			return status.Error(codes.Unimplemented, "double: stream subscriptions are not covered")
		}
		return d.readStream(so.Stream, o, out)
	case *api.ReadReq_Options_All:
		if o.GetSubscription() != nil {
			return d.subscribeAll(so.All, filter, out)
		}
		return d.readAll(so.All, o, filter, out)
	}
	return status.Error(codes.InvalidArgument, "read: no stream option")
}

func (d *Server) readStream(so *api.ReadReq_Options_StreamOptions, o *api.ReadReq_Options, out api.Streams_ReadServer) error {
	name := so.GetStreamIdentifier()
	d.mu.Lock()
	revs := d.streams[string(name.GetStreamName())]
	var page []*doubleEvent
	if len(revs) > 0 {
		n := uint64(len(revs))
		count := o.GetCount()
		if o.GetReadDirection() == api.ReadReq_Options_Forwards {
			from := uint64(0)
			switch r := so.GetRevisionOption().(type) {
			case *api.ReadReq_Options_StreamOptions_Revision:
				from = r.Revision
			case *api.ReadReq_Options_StreamOptions_End:
				from = n
			}
			for rev := from; rev < n && uint64(len(page)) < count; rev++ {
				page = append(page, d.log[revs[rev]])
			}
		} else {
			from := n - 1 // End; backwards from beyond the end starts at the last event
			switch r := so.GetRevisionOption().(type) {
			case *api.ReadReq_Options_StreamOptions_Revision:
				from = min(r.Revision, n-1)
			case *api.ReadReq_Options_StreamOptions_Start:
				from = 0
			}
			for rev := int64(from); rev >= 0 && uint64(len(page)) < count; rev-- {
				page = append(page, d.log[revs[rev]])
			}
		}
	}
	d.mu.Unlock()
	if len(revs) == 0 {
		return out.Send(&api.ReadResp{Content: &api.ReadResp_StreamNotFound_{
			StreamNotFound: &api.ReadResp_StreamNotFound{StreamIdentifier: name},
		}})
	}
	for _, e := range page {
		if err := out.Send(e.proto()); err != nil {
			return err
		}
	}
	return nil
}

// readAll reads $all from a position, inclusively: a read from an event's
// own position returns that event first.
func (d *Server) readAll(ao *api.ReadReq_Options_AllOptions, o *api.ReadReq_Options, filter func(*doubleEvent) bool, out api.Streams_ReadServer) error {
	d.mu.Lock()
	log := d.log
	d.mu.Unlock()
	count := o.GetCount()
	var page []*doubleEvent
	if o.GetReadDirection() == api.ReadReq_Options_Backwards {
		if _, end := ao.GetAllOption().(*api.ReadReq_Options_AllOptions_End); !end {
			return status.Error(codes.Unimplemented, "double: backwards $all reads start at the end only")
		}
		for i := len(log) - 1; i >= 0 && uint64(len(page)) < count; i-- {
			if filter(log[i]) {
				page = append(page, log[i])
			}
		}
	} else {
		for i := d.firstAt(log, ao, false); i < len(log) && uint64(len(page)) < count; i++ {
			if filter(log[i]) {
				page = append(page, log[i])
			}
		}
	}
	for _, e := range page {
		if err := out.Send(e.proto()); err != nil {
			return err
		}
	}
	return nil
}

// firstAt is the index of the first event at (inclusive) or after
// (exclusive) the position named by ao.
func (d *Server) firstAt(log []*doubleEvent, ao *api.ReadReq_Options_AllOptions, exclusive bool) int {
	switch p := ao.GetAllOption().(type) {
	case *api.ReadReq_Options_AllOptions_End:
		return len(log)
	case *api.ReadReq_Options_AllOptions_Position:
		for i, e := range log {
			if e.commit > p.Position.CommitPosition ||
				(e.commit == p.Position.CommitPosition && e.prepare > p.Position.PreparePosition) ||
				(!exclusive && e.commit == p.Position.CommitPosition && e.prepare == p.Position.PreparePosition) {
				return i
			}
		}
		return len(log)
	default:
		return 0
	}
}

// subscribeAll confirms, catches up from after the position, says it caught
// up, then sends events as they are appended. A filtered subscription sends
// a checkpoint after a pass that skipped events, so a client can record its
// progress through filtered-out stretches.
func (d *Server) subscribeAll(ao *api.ReadReq_Options_AllOptions, filter func(*doubleEvent) bool, out api.Streams_ReadServer) error {
	d.mu.Lock()
	d.subscribes++
	dropAfter := -1
	if len(d.dropAfter) > 0 {
		dropAfter, d.dropAfter = d.dropAfter[0], d.dropAfter[1:]
	}
	i := d.firstAt(d.log, ao, true)
	d.mu.Unlock()

	if err := out.Send(&api.ReadResp{Content: &api.ReadResp_Confirmation{
		Confirmation: &api.ReadResp_SubscriptionConfirmation{SubscriptionId: uuid.NewString()},
	}}); err != nil {
		return err
	}
	sent, caughtUp := 0, false
	for {
		d.mu.Lock()
		batch, wake := d.log[i:], d.changed
		d.mu.Unlock()
		skipped := false
		for _, e := range batch {
			i++
			if !filter(e) {
				skipped = true
				continue
			}
			if sent == dropAfter {
				return status.Error(codes.Unavailable, "double: subscription dropped")
			}
			if err := out.Send(e.proto()); err != nil {
				return err
			}
			sent++
		}
		if skipped {
			last := batch[len(batch)-1]
			if err := out.Send(&api.ReadResp{Content: &api.ReadResp_Checkpoint_{Checkpoint: &api.ReadResp_Checkpoint{
				CommitPosition: last.commit, PreparePosition: last.prepare,
			}}}); err != nil {
				return err
			}
		}
		if !caughtUp {
			caughtUp = true
			if err := out.Send(&api.ReadResp{Content: &api.ReadResp_CaughtUp_{CaughtUp: &api.ReadResp_CaughtUp{}}}); err != nil {
				return err
			}
		}
		select {
		case <-wake:
		case <-out.Context().Done():
			return status.FromContextError(out.Context().Err()).Err()
		}
	}
}

// compileFilter turns a server-side filter into a predicate: on the event
// type or the stream name, by regular expression or by any of some prefixes.
func compileFilter(f *api.ReadReq_Options_FilterOptions) (func(*doubleEvent) bool, error) {
	if f == nil {
		return func(*doubleEvent) bool { return true }, nil
	}
	expr, field := f.GetEventType(), func(e *doubleEvent) string { return e.typ }
	if f.GetStreamIdentifier() != nil {
		expr, field = f.GetStreamIdentifier(), func(e *doubleEvent) string { return e.stream }
	}
	if expr.GetRegex() != "" {
		re, err := regexp.Compile(expr.GetRegex())
		if err != nil {
			return nil, err
		}
		return func(e *doubleEvent) bool { return re.MatchString(field(e)) }, nil
	}
	prefixes := expr.GetPrefix()
	return func(e *doubleEvent) bool {
		for _, p := range prefixes {
			if strings.HasPrefix(field(e), p) {
				return true
			}
		}
		return false
	}, nil
}

func (e *doubleEvent) proto() *api.ReadResp {
	most, least := esdb.UUIDAsInt64(e.id)
	return &api.ReadResp{Content: &api.ReadResp_Event{Event: &api.ReadResp_ReadEvent{
		Event: &api.ReadResp_ReadEvent_RecordedEvent{
			Id: &shared.UUID{Value: &shared.UUID_Structured_{Structured: &shared.UUID_Structured{
				MostSignificantBits: most, LeastSignificantBits: least,
			}}},
			StreamIdentifier: &shared.StreamIdentifier{StreamName: []byte(e.stream)},
			StreamRevision:   e.revision,
			PreparePosition:  e.prepare,
			CommitPosition:   e.commit,
			Metadata: map[string]string{
				"type":         e.typ,
				"content-type": e.content,
				"created":      strconv.FormatInt(e.created, 10),
			},
			CustomMetadata: e.meta,
			Data:           e.data,
		},
		Position: &api.ReadResp_ReadEvent_CommitPosition{CommitPosition: e.commit},
	}}}
}

func protoUUID(u *shared.UUID) (uuid.UUID, error) {
	if s := u.GetStructured(); s != nil {
		return esdb.ParseUUIDFromInt64(s.GetMostSignificantBits(), s.GetLeastSignificantBits())
	}
	return uuid.Parse(u.GetString_())
}
