package projections

import "github.com/partnercenter/multichannel/domain"

// EventTypes lists the event types the fold knows, for tests.
func EventTypes() []string { return append([]string(nil), eventTypes...) }

// HasFastDecoder reports whether decodeEvent has a fast path for typ.
func HasFastDecoder(typ string) bool {
	_, ok := fastDecoders[typ]
	return ok
}

// DecodeEventFast is decodeEvent, for tests, and whether it took the fast
// path.
func DecodeEventFast(typ string, version int, data []byte) (domain.Event, bool, error) {
	dec, ok := fastDecoders[typ]
	fast := ok && version == dec.version && plainJSON(data)
	if fast {
		if _, err := dec.decode(data); err != nil {
			fast = false
		}
	}
	ev, err := decodeEvent(typ, version, data)
	return ev, fast, err
}

// DecodeEvent is decodeEvent, for benchmarks.
var DecodeEvent = decodeEvent
