// Package record turns the events a decision produced into what a store
// appends: each event encoded at its current schema version, stamped with
// its metadata, sealed into its stream's hash chain (package integrity) and
// given a time-ordered id. The command side and the log generator
// (internal/audit) both record through Events, so a generated log is
// sealed byte for byte the way the API seals, and a change to one is a
// change to both.
package record

import (
	"fmt"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/eventstore"
	"github.com/partnercenter/multichannel/internal/integrity"
)

// Head is the end of the stream the events go to.
type Head struct {
	Stream string
	// Next is the revision the first event gets: the stream's length.
	Next uint64
	// Hash is the chain hash of the stream's last event ("" for a new
	// stream, or one recorded before chaining existed).
	Hash string
}

// Sealed is what Events made.
type Sealed struct {
	// Events are ready to append after the head, in order.
	Events []eventstore.EventData
	// Versions is each event's schema version, as its metadata says.
	Versions []int
	// Hash is the last event's chain hash: the next append's Head.Hash.
	Hash string
}

// Events records events after h. md stamps every event: its SchemaVersion
// is set per event from the encoding; its IdempotencyKey and
// IdempotencyFingerprint, when set, go on the first event only, so that a
// key is stored atomically with what it produced, once. Each event's hash
// covers its stream, revision, type, data and metadata, chained to the one
// before (integrity.Seal); ids are UUIDv7s, so that the store's id index
// grows at its right edge.
func Events(h Head, md domain.Metadata, events []domain.Event) (Sealed, error) {
	out := Sealed{
		Events:   make([]eventstore.EventData, len(events)),
		Versions: make([]int, len(events)),
		Hash:     h.Hash,
	}
	for i, e := range events {
		data, version, err := domain.EncodeEvent(e)
		if err != nil {
			return Sealed{}, fmt.Errorf("record: %w", err)
		}
		m := md
		m.SchemaVersion = version
		if i > 0 {
			m.IdempotencyKey, m.IdempotencyFingerprint = "", ""
		}
		mdBytes, err := domain.EncodeMetadata(m)
		if err != nil {
			return Sealed{}, fmt.Errorf("record: encode metadata of %s: %w", e.EventType(), err)
		}
		sealed, hash := integrity.Seal(out.Hash, h.Stream, h.Next+uint64(i), e.EventType(), data, mdBytes)
		out.Hash = hash
		id, err := uuid.NewV7()
		if err != nil {
			return Sealed{}, fmt.Errorf("record: event id: %w", err)
		}
		out.Events[i] = eventstore.EventData{ID: id, Type: e.EventType(), Data: data, Metadata: sealed}
		out.Versions[i] = version
	}
	return out, nil
}

// Expected is the expected revision of an append at h: no stream for a
// new one, else exactly its last revision.
func (h Head) Expected() eventstore.ExpectedRevision {
	if h.Next == 0 {
		return eventstore.NoStream()
	}
	return eventstore.Exact(h.Next - 1)
}
