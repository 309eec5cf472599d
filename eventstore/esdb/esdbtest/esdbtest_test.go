package esdbtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/serverfeatures"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	api "github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
)

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// client is the official v4 Go client on d.
func client(t *testing.T, d *Server) *esdb.Client {
	t.Helper()
	cfg, err := esdb.ParseConnectionString(d.URL())
	if err != nil {
		t.Fatal(err)
	}
	cfg.Logger = esdb.NoopLogging()
	c, err := esdb.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// conn is a bare gRPC connection to d, for what the Go client does not
// send (string ids, BatchAppend, ServerFeatures).
func conn(t *testing.T, d *Server) *grpc.ClientConn {
	t.Helper()
	cc, err := grpc.NewClient(d.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

func events(n int) []esdb.EventData {
	out := make([]esdb.EventData, n)
	for i := range out {
		out[i] = esdb.EventData{EventID: uuid.New(), EventType: "T", ContentType: esdb.ContentTypeJson, Data: []byte(`{}`)}
	}
	return out
}

func readStream(t *testing.T, c *esdb.Client, stream string) []*esdb.RecordedEvent {
	t.Helper()
	rs, err := c.ReadStream(ctxT(t), stream, esdb.ReadStreamOptions{From: esdb.Start{}}, 100)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var out []*esdb.RecordedEvent
	for {
		ev, err := rs.Recv()
		if errors.Is(err, io.EOF) {
			return out
		}
		var ee *esdb.Error
		if errors.As(err, &ee) && ee.Code() == esdb.ErrorCodeResourceNotFound {
			return nil
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ev.Event)
	}
}

// Each event of a multi-event append has commit == prepare, growing, and
// the answer is the last event's position, as on a node.
func TestAppendPositions(t *testing.T) {
	d := NewServer(t)
	c := client(t, d)
	wr, err := c.AppendToStream(ctxT(t), "partner-1", esdb.AppendToStreamOptions{ExpectedRevision: esdb.NoStream{}}, events(3)...)
	if err != nil {
		t.Fatal(err)
	}
	got := readStream(t, c, "partner-1")
	if len(got) != 3 {
		t.Fatalf("read %d events, want 3", len(got))
	}
	for i, e := range got {
		if e.Position.Commit != e.Position.Prepare {
			t.Errorf("event %d at %d/%d: commit must equal prepare", i, e.Position.Commit, e.Position.Prepare)
		}
		if i > 0 && got[i-1].Position.Commit >= e.Position.Commit {
			t.Errorf("positions not growing: %d then %d", got[i-1].Position.Commit, e.Position.Commit)
		}
	}
	last := got[2].Position
	if wr.CommitPosition != last.Commit || wr.PreparePosition != last.Prepare || wr.NextExpectedVersion != 2 {
		t.Fatalf("append answered %d/%d revision %d, want the last event's %d/%d revision 2",
			wr.CommitPosition, wr.PreparePosition, wr.NextExpectedVersion, last.Commit, last.Prepare)
	}
}

// An append of no events is decided by its expected revision like any
// other and, accepted, writes nothing a reader sees.
func TestAppendNoEvents(t *testing.T) {
	d := NewServer(t)
	c := client(t, d)
	ctx := ctxT(t)
	if _, err := c.AppendToStream(ctx, "partner-1", esdb.AppendToStreamOptions{ExpectedRevision: esdb.NoStream{}}, events(1)...); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		stream string
		exp    esdb.ExpectedRevision
		ok     bool
	}{
		{"any on a missing stream", "partner-2", esdb.Any{}, true},
		{"no stream on a missing stream", "partner-2", esdb.NoStream{}, true},
		{"stream exists on a missing stream", "partner-2", esdb.StreamExists{}, false},
		{"exact on a missing stream", "partner-2", esdb.Revision(0), false},
		{"any", "partner-1", esdb.Any{}, true},
		{"stream exists", "partner-1", esdb.StreamExists{}, true},
		{"exact current", "partner-1", esdb.Revision(0), true},
		{"exact ahead", "partner-1", esdb.Revision(1), false},
		{"no stream on an existing stream", "partner-1", esdb.NoStream{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, before := d.Counts()
			_, err := c.AppendToStream(ctx, tc.stream, esdb.AppendToStreamOptions{ExpectedRevision: tc.exp})
			var ee *esdb.Error
			switch {
			case tc.ok && err != nil:
				t.Fatalf("refused: %v", err)
			case !tc.ok && (!errors.As(err, &ee) || ee.Code() != esdb.ErrorCodeWrongExpectedVersion):
				t.Fatalf("err = %v, want WrongExpectedVersion", err)
			}
			if _, _, after := d.Counts(); after != before {
				t.Fatalf("the log went from %d to %d records", before, after)
			}
		})
	}
	if got := readStream(t, c, "partner-2"); got != nil {
		t.Fatalf("an empty append made the stream: %d events", len(got))
	}
}

// Any and StreamExists: a retry is recognised by its ids; an append that
// repeats only some of them is a conflict, as in a node's commit check.
func TestIdempotenceWithAny(t *testing.T) {
	d := NewServer(t)
	c := client(t, d)
	ctx := ctxT(t)
	evs := events(2)
	first, err := c.AppendToStream(ctx, "partner-1", esdb.AppendToStreamOptions{ExpectedRevision: esdb.Any{}}, evs...)
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.AppendToStream(ctx, "partner-1", esdb.AppendToStreamOptions{ExpectedRevision: esdb.StreamExists{}}, evs...)
	if err != nil || *again != *first {
		t.Fatalf("retry answered %+v, %v; the first append %+v", again, err, first)
	}
	partly := append(evs[:1:1], events(1)...)
	_, err = c.AppendToStream(ctx, "partner-1", esdb.AppendToStreamOptions{ExpectedRevision: esdb.Any{}}, partly...)
	var ee *esdb.Error
	if !errors.As(err, &ee) || ee.Code() != esdb.ErrorCodeWrongExpectedVersion {
		t.Fatalf("a partial repeat: %v, want WrongExpectedVersion", err)
	}
	if got := readStream(t, c, "partner-1"); len(got) != 2 {
		t.Fatalf("stream has %d events, want 2", len(got))
	}
}

// Reads send ids in the format asked for: string for the Node.js client,
// structured for the Go client and when nothing is asked.
func TestReadUUIDFormat(t *testing.T) {
	d := NewServer(t)
	c := client(t, d)
	ev := events(1)
	// High bits set: a structured id then has negative halves.
	ev[0].EventID = uuid.MustParse("f1e2d3c4-b5a6-4978-8a9b-0c1d2e3f4a5b")
	if _, err := c.AppendToStream(ctxT(t), "partner-1", esdb.AppendToStreamOptions{}, ev...); err != nil {
		t.Fatal(err)
	}
	streams := api.NewStreamsClient(conn(t, d))
	for _, tc := range []struct {
		name   string
		option *api.ReadReq_Options_UUIDOption
		str    bool
	}{
		{"string", &api.ReadReq_Options_UUIDOption{Content: &api.ReadReq_Options_UUIDOption_String_{String_: &shared.Empty{}}}, true},
		{"structured", &api.ReadReq_Options_UUIDOption{Content: &api.ReadReq_Options_UUIDOption_Structured{Structured: &shared.Empty{}}}, false},
		{"unset", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc, err := streams.Read(ctxT(t), &api.ReadReq{Options: &api.ReadReq_Options{
				StreamOption: &api.ReadReq_Options_Stream{Stream: &api.ReadReq_Options_StreamOptions{
					StreamIdentifier: &shared.StreamIdentifier{StreamName: []byte("partner-1")},
					RevisionOption:   &api.ReadReq_Options_StreamOptions_Start{Start: &shared.Empty{}},
				}},
				CountOption:  &api.ReadReq_Options_Count{Count: 1},
				FilterOption: &api.ReadReq_Options_NoFilter{NoFilter: &shared.Empty{}},
				UuidOption:   tc.option,
			}})
			if err != nil {
				t.Fatal(err)
			}
			resp, err := rc.Recv()
			if err != nil {
				t.Fatal(err)
			}
			id := resp.GetEvent().GetEvent().GetId()
			if tc.str {
				if id.GetString_() != ev[0].EventID.String() {
					t.Fatalf("id = %v, want the string %s", id, ev[0].EventID)
				}
				return
			}
			got, err := protoUUID(id)
			if id.GetStructured() == nil || err != nil || got != ev[0].EventID {
				t.Fatalf("id = %v (%v), want %s structured", id, err, ev[0].EventID)
			}
		})
	}
}

// BatchAppend, as the Node.js client sends it: events spread over several
// requests of one correlation id, answered once the final one arrives; a
// conflict is a status with the WrongExpectedVersion details.
func TestBatchAppend(t *testing.T) {
	d := NewServer(t)
	ba, err := api.NewStreamsClient(conn(t, d)).BatchAppend(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	ids := []uuid.UUID{uuid.New(), uuid.New(), uuid.New()}
	msg := func(id uuid.UUID) *api.BatchAppendReq_ProposedMessage {
		return &api.BatchAppendReq_ProposedMessage{
			Id:       &shared.UUID{Value: &shared.UUID_String_{String_: id.String()}},
			Metadata: map[string]string{"type": "T", "content-type": "application/json"},
			Data:     []byte(`{}`),
		}
	}
	batch := func(exp *api.BatchAppendReq_Options, ids ...uuid.UUID) *api.BatchAppendResp {
		t.Helper()
		corr := &shared.UUID{Value: &shared.UUID_String_{String_: uuid.NewString()}}
		for i, id := range ids {
			req := &api.BatchAppendReq{CorrelationId: corr, ProposedMessages: []*api.BatchAppendReq_ProposedMessage{msg(id)}, IsFinal: i == len(ids)-1}
			if i == 0 {
				req.Options = exp
			}
			if err := ba.Send(req); err != nil {
				t.Fatal(err)
			}
		}
		resp, err := ba.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if resp.GetCorrelationId().GetString_() != corr.GetString_() || string(resp.GetStreamIdentifier().GetStreamName()) != "partner-1" {
			t.Fatalf("answer for %v on %q, want %v on partner-1", resp.GetCorrelationId(), resp.GetStreamIdentifier().GetStreamName(), corr)
		}
		return resp
	}
	noStream := &api.BatchAppendReq_Options{
		StreamIdentifier:       &shared.StreamIdentifier{StreamName: []byte("partner-1")},
		ExpectedStreamPosition: &api.BatchAppendReq_Options_NoStream{NoStream: &emptypb.Empty{}},
	}
	ok := batch(noStream, ids...)
	if ok.GetSuccess().GetCurrentRevision() != 2 || ok.GetSuccess().GetPosition() == nil {
		t.Fatalf("batch answered %v, want revision 2 and a position", ok)
	}
	retry := batch(noStream, ids...)
	if retry.GetSuccess().GetCurrentRevision() != 2 || retry.GetSuccess().GetPosition().GetCommitPosition() != ok.GetSuccess().GetPosition().GetCommitPosition() {
		t.Fatalf("retry answered %v, want %v", retry, ok)
	}
	wrong := batch(noStream, uuid.New())
	st := wrong.GetError()
	if st.GetCode() != int32(codes.AlreadyExists) || len(st.GetDetails()) != 1 {
		t.Fatalf("conflict answered %v", wrong)
	}
	var w shared.WrongExpectedVersion
	if err := st.GetDetails()[0].UnmarshalTo(&w); err != nil {
		t.Fatal(err)
	}
	if w.GetCurrentStreamRevision() != 2 || w.GetExpectedNoStream() == nil {
		t.Fatalf("conflict details %v, want current 2, expected no stream", &w)
	}
	if n := d.BatchAppends(); n != 3 {
		t.Fatalf("%d batch appends counted, want 3", n)
	}
	if got := readStream(t, client(t, d), "partner-1"); len(got) != 3 || got[0].EventID != ids[0] {
		t.Fatalf("stream holds %d events, want the batch's 3", len(got))
	}
}

func TestServerFeatures(t *testing.T) {
	d := NewServer(t)
	sm, err := serverfeatures.NewServerFeaturesClient(conn(t, d)).GetSupportedMethods(ctxT(t), &shared.Empty{})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, m := range sm.GetMethods() {
		found = found || (m.GetServiceName() == "event_store.client.streams.streams" && m.GetMethodName() == "batchappend")
	}
	if !found || sm.GetEventStoreServerVersion() != ServerVersion {
		t.Fatalf("supported methods %v: want batchappend listed and version %s", sm, ServerVersion)
	}

	old := NewServerWith(t, Options{NoServerFeatures: true})
	_, err = serverfeatures.NewServerFeaturesClient(conn(t, old)).GetSupportedMethods(ctxT(t), &shared.Empty{})
	if status.Code(err) != codes.Unimplemented {
		t.Fatalf("without server features: %v, want Unimplemented", err)
	}
	// The Go client carries on against such a node.
	if _, err := client(t, old).AppendToStream(ctxT(t), "partner-1", esdb.AppendToStreamOptions{}, events(1)...); err != nil {
		t.Fatal(err)
	}
}

// The data file keeps everything a client can see across a reopen:
// streams, revisions, ids, bytes and positions; the log goes on after it.
func TestDataFileSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "log")
	d := NewServerWith(t, Options{DataFile: path})
	c := client(t, d)
	ctx := ctxT(t)
	if _, err := c.AppendToStream(ctx, "partner-1", esdb.AppendToStreamOptions{ExpectedRevision: esdb.NoStream{}}, events(3)...); err != nil {
		t.Fatal(err)
	}
	if err := d.AppendTransaction("partner-2", Event{ID: uuid.New(), Type: "T", Data: []byte(`{"a":1}`), Metadata: []byte(`{ "m" :2}`)}); err != nil {
		t.Fatal(err)
	}
	before := d.snapshot()
	d.Close()

	d2 := NewServerWith(t, Options{DataFile: path})
	if got := d2.snapshot(); len(got) != len(before) {
		t.Fatalf("reopened with %d records, want %d", len(got), len(before))
	} else {
		for i := range got {
			if got[i].String() != before[i].String() {
				t.Fatalf("record %d: %s, want %s", i, got[i], before[i])
			}
		}
	}
	c2 := client(t, d2)
	if _, err := c2.AppendToStream(ctx, "partner-1", esdb.AppendToStreamOptions{ExpectedRevision: esdb.NoStream{}}, events(1)...); err == nil {
		t.Fatal("NoStream on a stream kept in the file was accepted")
	}
	wr, err := c2.AppendToStream(ctx, "partner-1", esdb.AppendToStreamOptions{ExpectedRevision: esdb.Revision(2)}, events(1)...)
	if err != nil {
		t.Fatal(err)
	}
	if last := before[len(before)-1]; wr.CommitPosition <= last.commit || wr.NextExpectedVersion != 3 {
		t.Fatalf("after reopening, an append went to %d revision %d; the log ended at %d", wr.CommitPosition, wr.NextExpectedVersion, last.commit)
	}
}

// A process killed in mid-write leaves part of a record: it is cut off, and
// the writes before it are kept. Damage followed by more records is an
// error, not a silent loss.
func TestDataFileTornTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	d := NewServerWith(t, Options{DataFile: path})
	c := client(t, d)
	for range 3 {
		if _, err := c.AppendToStream(ctxT(t), "partner-1", esdb.AppendToStreamOptions{}, events(1)...); err != nil {
			t.Fatal(err)
		}
	}
	d.Close()
	whole, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, _, records := d.Counts()

	for _, cut := range []int{1, 5, 9, 20} {
		if err := os.WriteFile(path, whole[:len(whole)-cut], 0o644); err != nil {
			t.Fatal(err)
		}
		d2, err := New(Options{DataFile: path})
		if err != nil {
			t.Fatalf("cut %d bytes: %v", cut, err)
		}
		_, _, n := d2.Counts()
		d2.Close()
		if n != records-2 { // the last write: an event and its link
			t.Fatalf("cut %d bytes: %d records, want %d", cut, n, records-2)
		}
		if st, _ := os.Stat(path); st.Size() >= int64(len(whole)-cut) {
			t.Fatalf("cut %d bytes: the torn record was not cut off", cut)
		}
	}

	damaged := append([]byte(nil), whole...)
	damaged[frameHeader+2] ^= 0xff // inside the first record
	if err := os.WriteFile(path, damaged, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{DataFile: path}); err == nil {
		t.Fatal("a damaged record followed by others was accepted")
	}
}

// snapshot describes every record, for comparisons.
func (d *Server) snapshot() []recordView {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]recordView, len(d.log))
	for i, e := range d.log {
		out[i] = recordView{e}
	}
	return out
}

type recordView struct{ *doubleEvent }

func (r recordView) String() string {
	e := r.doubleEvent
	return fmt.Sprintf("%s %s@%d %d/%d %s json=%v %q %q %d", e.id, e.stream, e.revision, e.commit, e.prepare,
		e.typ, e.json, e.data, e.meta, e.created)
}

// BenchmarkOpenDataFile reads a data file of 100,000 appended events (and
// their category links): how long a restarted double takes before it
// serves.
func BenchmarkOpenDataFile(b *testing.B) {
	path := filepath.Join(b.TempDir(), "log")
	d, err := New(Options{DataFile: path})
	if err != nil {
		b.Fatal(err)
	}
	const n = 100_000
	data := []byte(`{"partnerId":"0190d5c4-7f3a-7b4e-9a51-2f0c8d6e4a11","customerId":"0190d5c4-7f3a-7b4e-9a51-2f0c8d6e4a12","channel":"OPEN"}`)
	meta := []byte(`{"actor":{"userId":"u","tenantId":"0190d5c4-7f3a-7b4e-9a51-2f0c8d6e4a13","role":"SALES_AGENT"},"correlationId":"0190d5c4-7f3a-7b4e-9a51-2f0c8d6e4a14","schemaVersion":1,"hash":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}`)
	for i := range n {
		ev := &doubleEvent{id: uuid.New(), typ: "RelationshipRequested", json: true, data: data, meta: meta}
		if _, err := d.append(fmt.Sprintf("relationship-%d", i), expectation{kind: expNoStream}, []*doubleEvent{ev}, false); err != nil {
			b.Fatal(err)
		}
	}
	d.Close()
	b.ResetTimer()
	for b.Loop() {
		d, err := New(Options{DataFile: path})
		if err != nil {
			b.Fatal(err)
		}
		if _, _, records := d.Counts(); records != 2*n {
			b.Fatalf("%d records, want %d", records, 2*n)
		}
		d.Close()
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "events/s")
}
