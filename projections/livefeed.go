package projections

import (
	"fmt"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/eventstore"
)

// For the live feed (internal/livefeed, whose ReadModel port these answer,
// with Position and WaitFor): whether a caller sees a stream's events, and
// an event as the API shows it (the API's event pages use EventView too).

// StreamVisible reports whether the caller may see the events of stream
// (for the live feed). Streams the model does not know are visible to
// auditors only.
func (m *Model) StreamVisible(v domain.Actor, stream string) bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	si, ok := m.streams.lookup(stream)
	if !ok {
		return v.Audits()
	}
	return m.streamVisible(v, m.streamList.at(si))
}

// EventView decodes a stored event for output: its metadata, and its data
// upcast to the type's current schema version.
func (m *Model) EventView(e eventstore.RecordedEvent) (Event, error) {
	md, err := domain.DecodeMetadata(e.Metadata)
	if err != nil {
		return Event{}, fmt.Errorf("event %s: %w", e.ID, err)
	}
	data, err := domain.Upcast(e.Type, md.SchemaVersion, e.Data)
	if err != nil {
		return Event{}, fmt.Errorf("event %s: %w", e.ID, err)
	}
	version := md.SchemaVersion
	if cur, ok := domain.SchemaVersion(e.Type); ok {
		version = cur
	}
	return Event{
		ID: e.ID, Stream: e.Stream, Revision: e.Revision, Position: e.Position,
		Type: e.Type, SchemaVersion: version, RecordedAt: domain.AtAPIPrecision(md.RecordedAt),
		Actor: md.Actor, CorrelationID: md.CorrelationID, CausationID: md.CausationID,
		Data: data,
	}, nil
}
