package esdbtest

import (
	"errors"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	api "github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"github.com/google/uuid"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/emptypb"
)

// expectation is an append's expected stream revision.
type expectation struct {
	kind expKind
	rev  uint64 // for expRevision
}

type expKind int

const (
	expAny expKind = iota
	expNoStream
	expStreamExists
	expRevision
)

// position is a (commit, prepare) pair of $all.
type position struct{ commit, prepare uint64 }

// outcome is what an append answers.
type outcome struct {
	wrong   bool      // WrongExpectedVersion
	current int64     // the stream's last revision after the call; -1: no stream
	pos     *position // nil: no position
}

// errLostAck is an append written but answered as if the connection broke.
var errLostAck = status.Error(codes.Unavailable, "double: acknowledgement lost")

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
		e, err := proposed(pm.GetId(), pm.GetMetadata(), pm.GetData(), pm.GetCustomMetadata())
		if err != nil {
			return err
		}
		events = append(events, e)
	}
	var exp expectation
	switch r := opts.GetExpectedStreamRevision().(type) {
	case *api.AppendReq_Options_Revision:
		exp = expectation{kind: expRevision, rev: r.Revision}
	case *api.AppendReq_Options_NoStream:
		exp.kind = expNoStream
	case *api.AppendReq_Options_StreamExists:
		exp.kind = expStreamExists
	}
	out, err := d.append(string(opts.GetStreamIdentifier().GetStreamName()), exp, events, false)
	if err != nil {
		return err
	}
	return in.SendAndClose(appendResp(exp, out))
}

// BatchAppend is the bidirectional append the Node.js, .NET and Java clients
// use when ServerFeatures lists it: requests carry a correlation id, the
// first of each correlation id its options, and the last is_final; each
// final request is answered with that correlation id and the stream.
func (d *Server) BatchAppend(stream api.Streams_BatchAppendServer) error {
	type pending struct {
		stream string
		exp    expectation
		events []*doubleEvent
	}
	open := map[string]*pending{}
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		corr, err := protoUUID(req.GetCorrelationId())
		if err != nil {
			return status.Error(codes.InvalidArgument, "batch append: correlation id: "+err.Error())
		}
		p := open[corr.String()]
		if o := req.GetOptions(); o != nil && p == nil {
			p = &pending{stream: string(o.GetStreamIdentifier().GetStreamName())}
			switch r := o.GetExpectedStreamPosition().(type) {
			case *api.BatchAppendReq_Options_StreamPosition:
				p.exp = expectation{kind: expRevision, rev: r.StreamPosition}
			case *api.BatchAppendReq_Options_NoStream:
				p.exp.kind = expNoStream
			case *api.BatchAppendReq_Options_StreamExists:
				p.exp.kind = expStreamExists
			}
			open[corr.String()] = p
		}
		if p == nil {
			continue // a node drops requests of a correlation it does not know
		}
		for _, pm := range req.GetProposedMessages() {
			e, err := proposed(pm.GetId(), pm.GetMetadata(), pm.GetData(), pm.GetCustomMetadata())
			if err != nil {
				return err
			}
			p.events = append(p.events, e)
		}
		if !req.GetIsFinal() {
			continue
		}
		delete(open, corr.String())
		d.mu.Lock()
		d.batchAppends++
		d.mu.Unlock()
		out, err := d.append(p.stream, p.exp, p.events, false)
		if err != nil {
			return err
		}
		if err := stream.Send(batchAppendResp(req.GetCorrelationId(), p.stream, p.exp, out)); err != nil {
			return err
		}
	}
}

// proposed reads one proposed event. A node requires the type and keeps
// only whether the content type is JSON.
func proposed(id *shared.UUID, md map[string]string, data, meta []byte) (*doubleEvent, error) {
	u, err := protoUUID(id)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, "append: event id: "+err.Error())
	}
	typ, ok := md["type"]
	if !ok {
		return nil, status.Error(codes.InvalidArgument, "Required Metadata Property 'type' is missing")
	}
	return &doubleEvent{
		id:   u,
		typ:  typ,
		json: md["content-type"] == "application/json",
		data: data,
		meta: meta,
	}, nil
}

// AppendTransaction writes events to stream (expecting any revision) in the
// shape of an explicit transaction, as a node's log holds those written
// through the TCP API's transactions: each event has its own prepare
// position and all share the commit position of the commit record, which
// comes after them. Readers order $all by commit, then prepare, so both
// halves of a position are needed to tell these events apart.
func (d *Server) AppendTransaction(stream string, events ...Event) error {
	evs := make([]*doubleEvent, len(events))
	for i, e := range events {
		evs[i] = &doubleEvent{id: e.ID, typ: e.Type, json: true, data: e.Data, meta: e.Metadata}
	}
	out, err := d.append(stream, expectation{kind: expAny}, evs, true)
	if err == nil && out.wrong {
		err = errors.New("esdbtest: transaction refused")
	}
	return err
}

// Event is an event written with AppendTransaction.
type Event struct {
	ID             uuid.UUID
	Type           string
	Data, Metadata []byte
}

// decision is the commit check's verdict.
type decision int

const (
	write decision = iota
	retry
	wrongVersion
)

// check decides an append as a node's commit check does
// (IndexWriter.CheckCommit in EventStore.Core). With Any or StreamExists,
// events whose ids are all in the stream already are a retry (answered
// with the last of them), none of them is a new write, and some of them is
// a conflict. With NoStream or an exact revision behind the stream's, the
// events must be the ones at the revisions after the expected one (a
// retry), else it is a conflict; equal revisions write; an expected
// revision ahead is a conflict. An append of no events follows the same
// rules: it writes nothing but is accepted where its expectation holds.
func (d *Server) check(stream string, cur int64, exp expectation, events []*doubleEvent) (decision, int64) {
	revs := d.streams[stream]
	if exp.kind == expStreamExists && cur < 0 {
		return wrongVersion, 0
	}
	if exp.kind == expAny || exp.kind == expStreamExists {
		end := int64(-1)
		for k, e := range events {
			i, ok := d.ids[e.id]
			if !ok || d.log[i].stream != stream {
				if k == 0 {
					return write, 0
				}
				return wrongVersion, 0 // part of it was written: not a retry
			}
			end = int64(d.log[i].revision)
		}
		if len(events) == 0 {
			return write, 0
		}
		return retry, end
	}
	expected := int64(-1) // NoStream
	if exp.kind == expRevision {
		if exp.rev > uint64(cur+1) { // also when it does not fit an int64
			return wrongVersion, 0
		}
		expected = int64(exp.rev)
	}
	switch {
	case expected > cur:
		return wrongVersion, 0
	case expected == cur:
		return write, 0
	}
	if len(events) == 0 {
		return wrongVersion, 0
	}
	for k, e := range events {
		rev := expected + 1 + int64(k)
		if rev > cur || d.log[revs[rev]].id != e.id {
			return wrongVersion, 0
		}
	}
	return retry, expected + int64(len(events))
}

// append decides and writes an append. transaction gives the events the
// positions of an explicit transaction instead of an append's.
func (d *Server) append(stream string, exp expectation, events []*doubleEvent, transaction bool) (outcome, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.appendCalls++
	cur := int64(len(d.streams[stream])) - 1
	dec, end := d.check(stream, cur, exp, events)
	switch dec {
	case wrongVersion:
		return outcome{wrong: true, current: cur}, nil
	case retry:
		// The request manager answers a retry with the revision of the last
		// retried event and, in current nodes, its position.
		out := outcome{current: end}
		if !d.retriesNoPosition {
			e := d.log[d.streams[stream][end]]
			out.pos = &position{e.commit, e.prepare}
		}
		return out, nil
	}

	now := time.Now().UnixNano() / 100
	next := d.next
	recs := make([]*doubleEvent, 0, 2*len(events))
	for k, e := range events {
		e.stream, e.revision = stream, uint64(cur+1+int64(k))
		e.commit, e.prepare, e.created = next, next, now
		next += recordSize(e)
		recs = append(recs, e)
	}
	var answer position
	switch {
	case len(events) == 0:
		// A node writes an empty prepare record: it takes log space and is
		// the answer's position, but no reader ever sees it.
		answer = position{next, next}
		next += uint64(64 + len(stream))
	case transaction:
		for _, e := range recs {
			e.commit = next // the commit record, after every prepare
		}
		last := recs[len(recs)-1]
		answer = position{last.commit, last.prepare}
		next += 64
	default:
		last := recs[len(recs)-1]
		answer = position{last.commit, last.prepare}
	}
	if cat, _, found := strings.Cut(stream, "-"); found && !strings.HasPrefix(stream, "$") {
		ce := "$ce-" + cat
		base := uint64(len(d.streams[ce]))
		for k, e := range events { // what $by_category would emit, a moment later
			l := &doubleEvent{
				id: uuid.New(), stream: ce, revision: base + uint64(k),
				commit: next, prepare: next, created: now,
				typ:  "$>",
				data: []byte(strconv.FormatUint(e.revision, 10) + "@" + e.stream),
			}
			next += recordSize(l)
			recs = append(recs, l)
		}
	}
	if d.file != nil {
		if err := d.file.write(next, recs); err != nil {
			return outcome{}, status.Error(codes.Unavailable, "double: writing the log: "+err.Error())
		}
	}
	for _, e := range recs {
		d.index(e)
	}
	d.next = next
	close(d.changed)
	d.changed = make(chan struct{})

	if d.lostAcks > 0 {
		d.lostAcks--
		return outcome{}, errLostAck
	}
	return outcome{current: int64(len(d.streams[stream])) - 1, pos: &answer}, nil
}

// recordSize is the log space a record takes: positions are byte offsets.
func recordSize(e *doubleEvent) uint64 {
	return uint64(64 + len(e.stream) + len(e.typ) + len(e.data) + len(e.meta))
}

func appendResp(exp expectation, out outcome) *api.AppendResp {
	if out.wrong {
		return &api.AppendResp{Result: &api.AppendResp_WrongExpectedVersion_{
			WrongExpectedVersion: wrongExpected(exp, out.current),
		}}
	}
	s := &api.AppendResp_Success{}
	if out.current < 0 {
		s.CurrentRevisionOption = &api.AppendResp_Success_NoStream{NoStream: &shared.Empty{}}
	} else {
		s.CurrentRevisionOption = &api.AppendResp_Success_CurrentRevision{CurrentRevision: uint64(out.current)}
	}
	if out.pos == nil {
		s.PositionOption = &api.AppendResp_Success_NoPosition{NoPosition: &shared.Empty{}}
	} else {
		s.PositionOption = &api.AppendResp_Success_Position{Position: &api.AppendResp_Position{
			CommitPosition: out.pos.commit, PreparePosition: out.pos.prepare,
		}}
	}
	return &api.AppendResp{Result: &api.AppendResp_Success_{Success: s}}
}

// wrongExpected fills both the current fields and the ones clients of
// 20.6.0 read, as a node does.
func wrongExpected(exp expectation, current int64) *api.AppendResp_WrongExpectedVersion {
	w := &api.AppendResp_WrongExpectedVersion{}
	if current >= 0 {
		w.CurrentRevisionOption = &api.AppendResp_WrongExpectedVersion_CurrentRevision{CurrentRevision: uint64(current)}
		w.CurrentRevisionOption_20_6_0 = &api.AppendResp_WrongExpectedVersion_CurrentRevision_20_6_0{CurrentRevision_20_6_0: uint64(current)}
	} else {
		w.CurrentRevisionOption = &api.AppendResp_WrongExpectedVersion_CurrentNoStream{CurrentNoStream: &shared.Empty{}}
		w.CurrentRevisionOption_20_6_0 = &api.AppendResp_WrongExpectedVersion_NoStream_20_6_0{NoStream_20_6_0: &shared.Empty{}}
	}
	switch exp.kind {
	case expRevision:
		w.ExpectedRevisionOption = &api.AppendResp_WrongExpectedVersion_ExpectedRevision{ExpectedRevision: exp.rev}
		w.ExpectedRevisionOption_20_6_0 = &api.AppendResp_WrongExpectedVersion_ExpectedRevision_20_6_0{ExpectedRevision_20_6_0: exp.rev}
	case expNoStream:
		w.ExpectedRevisionOption = &api.AppendResp_WrongExpectedVersion_ExpectedNoStream{ExpectedNoStream: &shared.Empty{}}
	case expStreamExists:
		w.ExpectedRevisionOption = &api.AppendResp_WrongExpectedVersion_ExpectedStreamExists{ExpectedStreamExists: &shared.Empty{}}
		w.ExpectedRevisionOption_20_6_0 = &api.AppendResp_WrongExpectedVersion_StreamExists_20_6_0{StreamExists_20_6_0: &shared.Empty{}}
	default:
		w.ExpectedRevisionOption = &api.AppendResp_WrongExpectedVersion_ExpectedAny{ExpectedAny: &shared.Empty{}}
		w.ExpectedRevisionOption_20_6_0 = &api.AppendResp_WrongExpectedVersion_Any_20_6_0{Any_20_6_0: &shared.Empty{}}
	}
	return w
}

// batchAppendResp answers a batch: a conflict is a google.rpc.Status with
// code AlreadyExists and the WrongExpectedVersion details, as a node sends.
func batchAppendResp(corr *shared.UUID, stream string, exp expectation, out outcome) *api.BatchAppendResp {
	resp := &api.BatchAppendResp{
		CorrelationId:    corr,
		StreamIdentifier: &shared.StreamIdentifier{StreamName: []byte(stream)},
	}
	if out.wrong {
		w := &shared.WrongExpectedVersion{}
		if out.current >= 0 {
			w.CurrentStreamRevisionOption = &shared.WrongExpectedVersion_CurrentStreamRevision{CurrentStreamRevision: uint64(out.current)}
		} else {
			w.CurrentStreamRevisionOption = &shared.WrongExpectedVersion_CurrentNoStream{CurrentNoStream: &emptypb.Empty{}}
		}
		switch exp.kind {
		case expRevision:
			w.ExpectedStreamPositionOption = &shared.WrongExpectedVersion_ExpectedStreamPosition{ExpectedStreamPosition: exp.rev}
		case expNoStream:
			w.ExpectedStreamPositionOption = &shared.WrongExpectedVersion_ExpectedNoStream{ExpectedNoStream: &emptypb.Empty{}}
		case expStreamExists:
			w.ExpectedStreamPositionOption = &shared.WrongExpectedVersion_ExpectedStreamExists{ExpectedStreamExists: &emptypb.Empty{}}
		default:
			w.ExpectedStreamPositionOption = &shared.WrongExpectedVersion_ExpectedAny{ExpectedAny: &emptypb.Empty{}}
		}
		details, err := anypb.New(w)
		if err != nil {
			panic(err) // a generated message always marshals
		}
		resp.Result = &api.BatchAppendResp_Error{Error: &rpcstatus.Status{
			Code: int32(codes.AlreadyExists), Message: "WrongExpectedVersion", Details: []*anypb.Any{details},
		}}
		return resp
	}
	s := &api.BatchAppendResp_Success{}
	if out.current < 0 {
		s.CurrentRevisionOption = &api.BatchAppendResp_Success_NoStream{NoStream: &emptypb.Empty{}}
	} else {
		s.CurrentRevisionOption = &api.BatchAppendResp_Success_CurrentRevision{CurrentRevision: uint64(out.current)}
	}
	if out.pos == nil {
		s.PositionOption = &api.BatchAppendResp_Success_NoPosition{NoPosition: &emptypb.Empty{}}
	} else {
		s.PositionOption = &api.BatchAppendResp_Success_Position{Position: &shared.AllStreamPosition{
			CommitPosition: out.pos.commit, PreparePosition: out.pos.prepare,
		}}
	}
	resp.Result = &api.BatchAppendResp_Success_{Success: s}
	return resp
}

func protoUUID(u *shared.UUID) (uuid.UUID, error) {
	if s := u.GetStructured(); s != nil {
		return esdb.ParseUUIDFromInt64(s.GetMostSignificantBits(), s.GetLeastSignificantBits())
	}
	return uuid.Parse(u.GetString_())
}
