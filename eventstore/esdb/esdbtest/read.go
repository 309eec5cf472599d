package esdbtest

import (
	"context"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/serverfeatures"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	api "github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Read serves stream reads, $all reads and $all subscriptions.
func (d *Server) Read(req *api.ReadReq, out api.Streams_ReadServer) error {
	o := req.GetOptions()
	filter, err := compileFilter(o.GetFilter())
	if err != nil {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	// A node sends ids as strings when asked, structured otherwise
	// (Streams.Read in EventStore.Core). The Node.js client asks for
	// strings, the Go client for structured ones.
	_, stringIDs := o.GetUuidOption().GetContent().(*api.ReadReq_Options_UUIDOption_String_)
	send := func(e *doubleEvent) error { return out.Send(e.proto(stringIDs)) }
	switch so := o.GetStreamOption().(type) {
	case *api.ReadReq_Options_Stream:
		if o.GetSubscription() != nil {
			return status.Error(codes.Unimplemented, "double: stream subscriptions are not covered")
		}
		return d.readStream(so.Stream, o, out, send)
	case *api.ReadReq_Options_All:
		if o.GetSubscription() != nil {
			return d.subscribeAll(so.All, filter, out, send)
		}
		return d.readAll(so.All, o, filter, send)
	}
	return status.Error(codes.InvalidArgument, "read: no stream option")
}

func (d *Server) readStream(so *api.ReadReq_Options_StreamOptions, o *api.ReadReq_Options, out api.Streams_ReadServer, send func(*doubleEvent) error) error {
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
		if err := send(e); err != nil {
			return err
		}
	}
	return nil
}

// readAll reads $all from a position, inclusively: a read from an event's
// own position returns that event first.
func (d *Server) readAll(ao *api.ReadReq_Options_AllOptions, o *api.ReadReq_Options, filter func(*doubleEvent) bool, send func(*doubleEvent) error) error {
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
		for i := firstAt(log, ao, false); i < len(log) && uint64(len(page)) < count; i++ {
			if filter(log[i]) {
				page = append(page, log[i])
			}
		}
	}
	for _, e := range page {
		if err := send(e); err != nil {
			return err
		}
	}
	return nil
}

// firstAt is the index of the first event at (inclusive) or after
// (exclusive) the position named by ao. $all is ordered by commit, then
// prepare position, so it is a binary search: a log of millions of events
// is read in pages without rescanning it.
func firstAt(log []*doubleEvent, ao *api.ReadReq_Options_AllOptions, exclusive bool) int {
	switch p := ao.GetAllOption().(type) {
	case *api.ReadReq_Options_AllOptions_End:
		return len(log)
	case *api.ReadReq_Options_AllOptions_Position:
		c, pr := p.Position.GetCommitPosition(), p.Position.GetPreparePosition()
		return sort.Search(len(log), func(i int) bool {
			e := log[i]
			return e.commit > c || (e.commit == c && e.prepare > pr) || (!exclusive && e.commit == c && e.prepare == pr)
		})
	default:
		return 0
	}
}

// subscribeAll confirms, catches up from after the position, says it caught
// up, then sends events as they are appended. A filtered subscription sends
// a checkpoint after a pass that skipped events, so a client can record its
// progress through filtered-out stretches.
func (d *Server) subscribeAll(ao *api.ReadReq_Options_AllOptions, filter func(*doubleEvent) bool, out api.Streams_ReadServer, send func(*doubleEvent) error) error {
	d.mu.Lock()
	d.subscribes++
	dropAfter := -1
	if len(d.dropAfter) > 0 {
		dropAfter, d.dropAfter = d.dropAfter[0], d.dropAfter[1:]
	}
	i := firstAt(d.log, ao, true)
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
			if err := send(e); err != nil {
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

func (e *doubleEvent) proto(stringID bool) *api.ReadResp {
	id := &shared.UUID{Value: &shared.UUID_String_{String_: e.id.String()}}
	if !stringID {
		most, least := esdb.UUIDAsInt64(e.id)
		id = &shared.UUID{Value: &shared.UUID_Structured_{Structured: &shared.UUID_Structured{
			MostSignificantBits: most, LeastSignificantBits: least,
		}}}
	}
	content := "application/octet-stream"
	if e.json {
		content = "application/json"
	}
	return &api.ReadResp{Content: &api.ReadResp_Event{Event: &api.ReadResp_ReadEvent{
		Event: &api.ReadResp_ReadEvent_RecordedEvent{
			Id:               id,
			StreamIdentifier: &shared.StreamIdentifier{StreamName: []byte(e.stream)},
			StreamRevision:   e.revision,
			PreparePosition:  e.prepare,
			CommitPosition:   e.commit,
			Metadata: map[string]string{
				"type":         e.typ,
				"content-type": content,
				"created":      strconv.FormatInt(e.created, 10),
			},
			CustomMetadata: e.meta,
			Data:           e.data,
		},
		Position: &api.ReadResp_ReadEvent_CommitPosition{CommitPosition: e.commit},
	}}}
}

// features answers ServerFeatures as a node does: lower-cased service and
// method names, with the features a node lists for them.
type features struct {
	serverfeatures.UnimplementedServerFeaturesServer
}

// ServerVersion is the EventStoreDB version the double reports.
const ServerVersion = "24.10.0"

func (features) GetSupportedMethods(context.Context, *shared.Empty) (*serverfeatures.SupportedMethods, error) {
	const streams = "event_store.client.streams.streams"
	return &serverfeatures.SupportedMethods{
		EventStoreServerVersion: ServerVersion,
		Methods: []*serverfeatures.SupportedMethod{
			{ServiceName: streams, MethodName: "read", Features: []string{"position", "events"}},
			{ServiceName: streams, MethodName: "append"},
			{ServiceName: streams, MethodName: "batchappend", Features: []string{"deadline_duration"}},
		},
	}, nil
}
