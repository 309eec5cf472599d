package sqlite

import (
	"fmt"
	"testing"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/eventstore"
)

// commits of events with seqs from 101 on, in commits of varying sizes,
// with gaps in the seqs (a file's seqs need not be dense).
func tailEvents(n int) []eventstore.RecordedEvent {
	evs := make([]eventstore.RecordedEvent, n)
	for i := range evs {
		seq := uint64(101 + 2*i)
		evs[i] = eventstore.RecordedEvent{Position: eventstore.Position{Commit: seq, Prepare: seq}, Type: "E", Data: []byte(fmt.Sprint(seq))}
	}
	return evs
}

func TestTail(t *testing.T) {
	all := tailEvents(3*tailSize + 17)
	tl := &tail{base: 99}
	for i := 0; i < len(all); {
		n := min(1+i%50, len(all)-i)
		tl.add(all[i : i+n])
		i += n
	}
	if len(tl.events) < tailSize || len(tl.events) > 2*tailSize {
		t.Fatalf("the tail keeps %d events, want between %d and %d", len(tl.events), tailSize, 2*tailSize)
	}
	first := len(all) - len(tl.events) // index in all of the first kept event
	if got, want := tl.base, int64(all[first-1].Position.Commit); got != want {
		t.Fatalf("base %d, want %d (the event before the first kept)", got, want)
	}
	// From the base or later: everything after, from memory.
	for _, from := range []int{first - 1, first, len(all) - 2, len(all) - 1} {
		minSeq := int64(all[from].Position.Commit)
		got, ok := tl.after(minSeq, 10)
		if !ok {
			t.Fatalf("after seq %d: not covered", minSeq)
		}
		want := all[from+1 : min(from+11, len(all))]
		if len(got) != len(want) {
			t.Fatalf("after seq %d: %d events, want %d", minSeq, len(got), len(want))
		}
		for i := range got {
			if got[i].Position != want[i].Position || string(got[i].Data) != string(want[i].Data) {
				t.Fatalf("after seq %d: event %d is %v, want %v", minSeq, i, got[i].Position, want[i].Position)
			}
		}
	}
	// A seq between two kept events (a gap) starts at the next one.
	if got, _ := tl.after(int64(all[first].Position.Commit)+1, 1); got[0].Position != all[first+1].Position {
		t.Fatalf("after a gap: %v, want %v", got[0].Position, all[first+1].Position)
	}
	// Before the base: the file must be read.
	if _, ok := tl.after(int64(all[first-1].Position.Commit)-1, 10); ok {
		t.Fatal("a position before the base was answered from memory")
	}
	// The receiver owns the bytes it gets.
	got, _ := tl.after(int64(all[len(all)-2].Position.Commit), 1)
	got[0].Data[0] = 'X'
	again, _ := tl.after(int64(all[len(all)-2].Position.Commit), 1)
	if again[0].Data[0] == 'X' {
		t.Fatal("a receiver's change to its bytes reached the tail")
	}
}

// A store reopened on a file with events serves the old ones from the file
// and the new ones from memory, in one order, with nothing missed.
func TestTailAfterReopen(t *testing.T) {
	path := t.TempDir() + "/events.db"
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for i := range 5 {
		if _, err := s.Append(ctx, fmt.Sprintf("s-%d", i), eventstore.NoStream(), eventstore.EventData{ID: uuid.Must(uuid.NewV7()), Type: "E", Data: []byte("{}"), Metadata: []byte("{}")}); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	if s, err = Open(path); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.tail.base != 5 {
		t.Fatalf("base %d after reopening a file of 5 events", s.tail.base)
	}
	for i := 5; i < 8; i++ {
		if _, err := s.Append(ctx, fmt.Sprintf("s-%d", i), eventstore.NoStream(), eventstore.EventData{ID: uuid.Must(uuid.NewV7()), Type: "E", Data: []byte("{}"), Metadata: []byte("{}")}); err != nil {
			t.Fatal(err)
		}
	}
	evs, err := s.ReadAll(ctx, eventstore.Position{}, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 8 {
		t.Fatalf("read %d events, want 8", len(evs))
	}
	for i, ev := range evs {
		if ev.Stream != fmt.Sprintf("s-%d", i) || ev.Position.Commit != uint64(i+1) {
			t.Fatalf("event %d: %s at %v", i, ev.Stream, ev.Position)
		}
	}
	if fromMemory, ok := s.tail.after(5, 100); !ok || len(fromMemory) != 3 {
		t.Fatalf("the tail holds %d events after the reopen (covered %v), want the 3 new", len(fromMemory), ok)
	}
}
