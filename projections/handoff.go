package projections

import (
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"sync"
	"sync/atomic"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/eventstore"
)

// Handing decided events over to the fold.
//
// The command side encodes each event it decides, and a moment later the
// fold decodes the same bytes back from the log. Under a load of
// mutations that decoding was about 4% of the server's CPU, on the one
// goroutine every mutation waits for. Offer lets the command side hand
// the decided value over, keyed by the event's id, and Apply takes it
// instead of decoding when the event reaches it. Events this process did
// not decide (another server's, or a rebuild's) are decoded as before.
//
// The fold must not depend on where an event came from: a replay decodes
// every event, and the read models it builds must equal the live ones
// (the auditors' read-model digest). A handed-over event must therefore
// be exactly what decoding its bytes gives, and Apply checks that: one
// handed-over event in handoffCheckEvery (every one with CheckHandoffs,
// as the tests run) is decoded anyway and compared. On a difference the
// decoded value is folded, the mismatch is logged and counted, and the
// model takes no handed-over event again; with CheckHandoffs it is an
// error of Apply instead, which stops the fold.
type handoff struct {
	events     sync.Map // uuid.UUID (event id) -> domain.Event
	disabled   atomic.Bool
	mismatches atomic.Int64
	// taken counts the handed-over events taken; Decode runs on several
	// goroutines at once, so both are atomic.
	taken  atomic.Uint64
	strict atomic.Bool
}

// handoffCheckEvery is how often a handed-over event is decoded anyway to
// check it (see handoff).
const handoffCheckEvery = 64

// ErrHandoffMismatch is Apply's error, with CheckHandoffs, for a
// handed-over event that differs from its decoded bytes.
var ErrHandoffMismatch = errors.New("handed-over event differs from its stored bytes")

// CheckHandoffs makes Apply check every handed-over event against its
// decoded bytes, instead of one in handoffCheckEvery, and fail on a
// difference (for tests: every mutation they make is checked).
func (m *Model) CheckHandoffs() {
	m.handoff.strict.Store(true)
}

// HandoffMismatches is how many handed-over events differed from their
// decoded bytes: a bug, never expected.
func (m *Model) HandoffMismatches() int64 { return m.handoff.mismatches.Load() }

// decode returns e's event: the one handed over for it, or its bytes
// decoded. It is safe to call from several goroutines (see Decode).
func (m *Model) decode(e eventstore.RecordedEvent, version int) (domain.Event, error) {
	v, ok := m.handoff.events.LoadAndDelete(e.ID)
	if !ok {
		return decodeEvent(e.Type, version, e.Data)
	}
	ev := v.(domain.Event)
	if ev.EventType() != e.Type {
		// An id the log gives another event: not what was offered.
		return decodeEvent(e.Type, version, e.Data)
	}
	h := &m.handoff
	strict := h.strict.Load()
	if taken := h.taken.Add(1); !strict && taken%handoffCheckEvery != 0 {
		return ev, nil
	}
	decoded, err := decodeEvent(e.Type, version, e.Data)
	if err != nil {
		return nil, err
	}
	if !reflect.DeepEqual(ev, decoded) {
		h.mismatches.Add(1)
		if strict {
			return nil, fmt.Errorf("%w: %#v, decoded %#v", ErrHandoffMismatch, ev, decoded)
		}
		if !h.disabled.Swap(true) {
			slog.Error("projections: a handed-over event differs from its stored bytes; decoding every event from now on",
				"type", e.Type, "position", e.Position.String(), "stream", e.Stream,
				"handedOver", ev, "decoded", decoded)
			h.events.Clear()
		}
		return decoded, nil
	}
	return ev, nil
}
