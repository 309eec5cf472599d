package sqlite

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/google/uuid"
	"github.com/partnercenter/multichannel/eventstore"
)

func request(stream string, exp eventstore.ExpectedRevision, typ string) *appendRequest {
	return &appendRequest{
		stream:   stream,
		expected: exp,
		events:   []eventstore.EventData{{ID: uuid.Must(uuid.NewV7()), Type: typ, Data: []byte(`{}`)}},
		done:     make(chan appendResponse, 1),
	}
}

// When SQLite fails a batch, every append in it fails, nothing is written,
// and the head cache does not advance: the same appends then succeed.
func TestFailedBatchFailsAllAndKeepsHeads(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// A trigger refuses one event type, standing in for a disk error.
	if err := ExecOnWriter(s, `CREATE TRIGGER poison BEFORE INSERT ON events WHEN NEW.type = 'Poison' BEGIN SELECT RAISE(ABORT, 'poisoned'); END`); err != nil {
		t.Fatal(err)
	}
	// The test drives the writer's batches directly, so that their makeup
	// is not left to timing.
	w, release := heldWriter(s)
	defer release()
	existing := "batch-" + uuid.NewString()
	first := request(existing, eventstore.NoStream(), "Ok")
	w.commit([]*appendRequest{first})
	if resp := <-first.done; resp.err != nil {
		t.Fatal(resp.err)
	}

	fresh := "batch-" + uuid.NewString()
	batch := []*appendRequest{
		request(fresh, eventstore.NoStream(), "Ok"),
		request(existing, eventstore.Exact(0), "Ok"),
		request("batch-"+uuid.NewString(), eventstore.Any(), "Poison"),
	}
	w.commit(batch)
	for i, req := range batch {
		resp := <-req.done
		if resp.err == nil || errors.Is(resp.err, eventstore.ErrWrongExpectedRevision) {
			t.Fatalf("append %d of a failed batch: %v, want the batch's error", i, resp.err)
		}
	}
	if h := w.heads[existing]; h.revision != 0 && h.exists {
		t.Fatalf("head cache advanced to %d by a failed batch", h.revision)
	}

	// A wrong expected revision fails alone, and the retried appends succeed.
	retry := []*appendRequest{
		request(fresh, eventstore.NoStream(), "Ok"),
		request(existing, eventstore.Exact(5), "Ok"),
		request(existing, eventstore.Exact(0), "Ok"),
	}
	w.commit(retry)
	want := []error{nil, eventstore.ErrWrongExpectedRevision, nil}
	for i, req := range retry {
		resp := <-req.done
		if !errors.Is(resp.err, want[i]) {
			t.Fatalf("append %d: %v, want %v", i, resp.err, want[i])
		}
	}
	all, err := s.ReadAll(t.Context(), eventstore.Start, 100)
	if err != nil || len(all) != 3 {
		t.Fatalf("log has %d events (%v), want 3", len(all), err)
	}
	if all[2].Stream != existing || all[2].Revision != 1 {
		t.Fatalf("last event is %s@%d, want %s@1", all[2].Stream, all[2].Revision, existing)
	}
}

// An AppendBatch that the writer takes with other appends commits alone:
// its conflict undoes none of them, and theirs none of it.
func TestAppendBatchCommitsAloneAmongAppends(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	w, release := heldWriter(s)
	defer release()
	ev := func(typ string) []eventstore.EventData {
		return []eventstore.EventData{{ID: uuid.Must(uuid.NewV7()), Type: typ, Data: []byte(`{}`)}}
	}
	group := func(entries ...eventstore.StreamAppend) *appendRequest {
		return &appendRequest{entries: entries, done: make(chan appendResponse, 1)}
	}
	a, b, c := "batch-"+uuid.NewString(), "batch-"+uuid.NewString(), "batch-"+uuid.NewString()
	batch := []*appendRequest{
		request(a, eventstore.NoStream(), "Single"),
		group(
			eventstore.StreamAppend{Stream: b, Expected: eventstore.NoStream(), Events: ev("Grouped")},
			eventstore.StreamAppend{Stream: a, Expected: eventstore.Exact(7), Events: ev("Grouped")}, // a is at 0
		),
		request(a, eventstore.Exact(0), "Single"),
		request(c, eventstore.Exact(3), "Single"), // a conflict of its own
		group(eventstore.StreamAppend{Stream: c, Expected: eventstore.NoStream(), Events: ev("Grouped")}),
	}
	w.commit(batch)
	want := []error{nil, eventstore.ErrWrongExpectedRevision, nil, eventstore.ErrWrongExpectedRevision, nil}
	for i, req := range batch {
		resp := <-req.done
		if !errors.Is(resp.err, want[i]) {
			t.Fatalf("request %d: %v, want %v", i, resp.err, want[i])
		}
	}
	all, err := s.ReadAll(t.Context(), eventstore.Start, 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range all {
		got = append(got, e.Stream+"/"+e.Type)
	}
	wantLog := []string{a + "/Single", a + "/Single", c + "/Grouped"}
	if len(got) != len(wantLog) {
		t.Fatalf("log %v, want %v", got, wantLog)
	}
	for i := range got {
		if got[i] != wantLog[i] {
			t.Fatalf("log %v, want %v", got, wantLog)
		}
	}
	if _, ok := w.heads[b]; ok {
		t.Fatalf("the head cache kept stream %s of a failed batch", b)
	}
}
