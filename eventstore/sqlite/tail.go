package sqlite

import (
	"sync"

	"github.com/partnercenter/multichannel/eventstore"
)

// tailSize is how many of the latest committed events the writer keeps in
// memory for subscribers (a few MiB).
const tailSize = 8192

// tail holds the events the writer committed last, in log order, so that
// a subscriber that keeps up (the read models, which every mutation waits
// for) gets each commit from memory instead of reading back from the file
// what was written to it a moment before. A subscriber further behind
// reads the file as before.
//
// base is the global position just before the first kept event: the tail
// holds every event after base, since the writer is the only one that
// appends (the file's lock) and adds each commit here before it wakes the
// subscribers.
type tail struct {
	mu     sync.Mutex
	base   int64 // seq of the last event before events[0] (or of the log's last event when empty)
	events []eventstore.RecordedEvent
}

// add appends one commit's events, in seq order (and takes evs). Past
// twice tailSize the oldest are dropped down to tailSize, so that the copy
// is paid once per tailSize events, not on every commit.
func (t *tail) add(evs []eventstore.RecordedEvent) {
	if len(evs) == 0 {
		return
	}
	ownBytes(evs) // the appender's bytes are its own
	t.mu.Lock()
	defer t.mu.Unlock()
	t.events = append(t.events, evs...)
	if over := len(t.events) - tailSize; len(t.events) > 2*tailSize {
		t.base = int64(t.events[over-1].Position.Commit)
		n := copy(t.events, t.events[over:])
		clear(t.events[n:]) // let the dropped events' bytes go
		t.events = t.events[:n]
	}
}

// after returns up to max events with seq > minSeq, and false when the
// tail does not hold all of them (minSeq before base): then the caller
// reads the file.
func (t *tail) after(minSeq int64, max int) ([]eventstore.RecordedEvent, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if minSeq < t.base {
		return nil, false
	}
	// Events are in seq order: find the first after minSeq.
	lo, hi := 0, len(t.events)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if int64(t.events[m].Position.Commit) <= minSeq {
			lo = m + 1
		} else {
			hi = m
		}
	}
	n := min(len(t.events)-lo, max)
	if n <= 0 {
		return nil, true
	}
	// A copy, bytes included: the tail's backing array moves under add,
	// and a receiver owns what it is given (eventstore.RecordedEvent).
	out := append([]eventstore.RecordedEvent(nil), t.events[lo:lo+n]...)
	ownBytes(out)
	return out, true
}

// ownBytes gives evs copies of their Data and Metadata, in one slab.
func ownBytes(evs []eventstore.RecordedEvent) {
	size := 0
	for _, ev := range evs {
		size += len(ev.Data) + len(ev.Metadata)
	}
	slab := make([]byte, 0, size)
	for i := range evs {
		slab, evs[i].Data = keep(slab, evs[i].Data)
		slab, evs[i].Metadata = keep(slab, evs[i].Metadata)
	}
}

// keep appends b to slab and returns the copy, capped so that an append to
// it cannot reach the next one's bytes.
func keep(slab, b []byte) ([]byte, []byte) {
	start := len(slab)
	slab = append(slab, b...)
	return slab, slab[start:len(slab):len(slab)]
}
