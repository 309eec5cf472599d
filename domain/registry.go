package domain

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Actor is who caused an event: a user of a tenant, in a role.
type Actor struct {
	UserID   string    `json:"userId"`
	TenantID uuid.UUID `json:"tenantId"`
	Role     Role      `json:"role"`
}

// SystemActor is the actor of the server's own events (the expiry sweep).
var SystemActor = Actor{UserID: "system", TenantID: uuid.Nil, Role: RoleSystem}

// Metadata travels with every event, as the stored event's metadata
// document. Stream, revision and global position are the store's and are
// not repeated here.
type Metadata struct {
	SchemaVersion int       `json:"schemaVersion"`
	RecordedAt    time.Time `json:"recordedAt"`
	Actor         Actor     `json:"actor"`
	CorrelationID uuid.UUID `json:"correlationId"`
	// CausationID is the event or request that caused this one; for the
	// events of a mutation it is the request's id (the correlation id).
	CausationID *uuid.UUID `json:"causationId,omitempty"`
	// IdempotencyKey and IdempotencyFingerprint are set on the first event of
	// an append made under an Idempotency-Key header, so that a repeated
	// request is recognised even after a restart.
	IdempotencyKey         string `json:"idempotencyKey,omitempty"`
	IdempotencyFingerprint string `json:"idempotencyFingerprint,omitempty"`
	// Hash chains the event to its stream's previous event (see package
	// integrity); empty on events recorded before chaining existed.
	Hash string `json:"hash,omitempty"`
}

// registration is what the registry knows of one event type.
type registration struct {
	// version is the current schema version, written on new events.
	version int
	decode  func([]byte) (Event, error)
	// upcast[v] turns data of version v into version v+1.
	upcast map[int]func(json.RawMessage) (json.RawMessage, error)
}

func reg[E Event](version int) registration {
	return registration{
		version: version,
		decode: func(b []byte) (Event, error) {
			var e E
			if err := json.Unmarshal(b, &e); err != nil {
				return nil, err
			}
			return e, nil
		},
	}
}

// registrations is the one table of every stored event type, in the
// order the types were introduced. To change an event's shape, bump its
// version and add an upcaster from the old one. The order is permanent:
// read models number the types by their place here (see EventTypes), so a
// new type is appended, never inserted.
var registrations = []struct {
	typ string
	registration
}{
	{TypePartnerEnrolled, reg[PartnerEnrolled](1)},
	{TypeCustomerOnboarded, reg[CustomerOnboarded](1)},
	{TypeExternalSubscriptionRecorded, reg[ExternalSubscriptionRecorded](1)},
	{TypeRelationshipRequested, reg[RelationshipRequested](1)},
	{TypeRelationshipAccepted, reg[RelationshipAccepted](1)},
	{TypeRelationshipDeclined, reg[RelationshipDeclined](1)},
	{TypeRelationshipExpired, reg[RelationshipExpired](1)},
	{TypeRelationshipTerminated, reg[RelationshipTerminated](1)},
	{TypeSubscriptionCancelled, reg[SubscriptionCancelled](1)},
	{TypeSubscriptionSwitched, reg[SubscriptionSwitched](1)},
	{TypeAzureSubscriptionCreated, reg[AzureSubscriptionCreated](1)},
	{TypeLegacyServiceCancelled, reg[LegacyServiceCancelled](1)},
}

// registry is registrations by type.
var registry = func() map[string]registration {
	m := make(map[string]registration, len(registrations))
	for _, r := range registrations {
		m[r.typ] = r.registration
	}
	return m
}()

// EventTypes lists every stored event type, in the order they were
// introduced: a type's index in it never changes, so a read model may
// store the index instead of the name (projections' compact headers and
// snapshots do). The slice is the caller's.
func EventTypes() []string {
	out := make([]string, len(registrations))
	for i, r := range registrations {
		out[i] = r.typ
	}
	return out
}

// ErrUnknownEventType is returned when decoding a type the registry lacks.
var ErrUnknownEventType = errors.New("unknown event type")

// SchemaVersion returns the current schema version of an event type.
func SchemaVersion(eventType string) (int, bool) {
	r, ok := registry[eventType]
	return r.version, ok
}

// EncodeEvent returns the stored form of e and its schema version.
func EncodeEvent(e Event) (data []byte, version int, err error) {
	r, ok := registry[e.EventType()]
	if !ok {
		return nil, 0, fmt.Errorf("encode %s: %w", e.EventType(), ErrUnknownEventType)
	}
	data, err = json.Marshal(e)
	if err != nil {
		return nil, 0, fmt.Errorf("encode %s: %w", e.EventType(), err)
	}
	return data, r.version, nil
}

// Upcast brings data written at version up to the type's current version.
func Upcast(eventType string, version int, data []byte) ([]byte, error) {
	r, ok := registry[eventType]
	if !ok {
		return nil, fmt.Errorf("upcast %s: %w", eventType, ErrUnknownEventType)
	}
	if version < 1 || version > r.version {
		return nil, fmt.Errorf("upcast %s: unsupported schema version %d", eventType, version)
	}
	for v := version; v < r.version; v++ {
		up, ok := r.upcast[v]
		if !ok {
			return nil, fmt.Errorf("upcast %s: no upcaster from version %d", eventType, v)
		}
		out, err := up(data)
		if err != nil {
			return nil, fmt.Errorf("upcast %s from version %d: %w", eventType, v, err)
		}
		data = out
	}
	return data, nil
}

// DecodeEvent turns stored data of the given type and version into an Event,
// upcasting it first.
func DecodeEvent(eventType string, version int, data []byte) (Event, error) {
	data, err := Upcast(eventType, version, data)
	if err != nil {
		return nil, err
	}
	e, err := registry[eventType].decode(data)
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", eventType, err)
	}
	return e, nil
}

// EncodeMetadata and DecodeMetadata convert the metadata document.
func EncodeMetadata(m Metadata) ([]byte, error) { return json.Marshal(m) }

func DecodeMetadata(b []byte) (Metadata, error) {
	var m Metadata
	if err := json.Unmarshal(b, &m); err != nil {
		return Metadata{}, fmt.Errorf("decode metadata: %w", err)
	}
	return m, nil
}
