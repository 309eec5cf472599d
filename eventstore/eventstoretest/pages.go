package eventstoretest

import "github.com/partnercenter/multichannel/eventstore"

// SpitefulPage reads events into p as a PageReader would, and spitefully:
// before it copies their data and metadata into p's memory, it fills that
// memory with garbage, so that whatever a reader still held of the page it
// was given before changes under it. A test's store calls it from its
// ReadAllInto to show that its reader gives a page back only once nothing
// holds it.
func SpitefulPage(p *eventstore.Page, events []eventstore.RecordedEvent) {
	full := p.Bytes[:cap(p.Bytes)]
	for i := range full {
		full[i] = '#'
	}
	p.Events, p.Bytes = p.Events[:0], p.Bytes[:0]
	for _, e := range events {
		at := len(p.Bytes)
		p.Bytes = append(append(p.Bytes, e.Data...), e.Metadata...)
		e.Data = p.Bytes[at : at+len(e.Data) : at+len(e.Data)]
		e.Metadata = p.Bytes[at+len(e.Data) : len(p.Bytes) : len(p.Bytes)]
		p.Events = append(p.Events, e)
	}
}
