package domain

import (
	"encoding/binary"
	"strings"

	"github.com/google/uuid"
)

// Stream categories. Streams are named <category>-<id> so that
// EventStoreDB's category projections ($ce-<category>) group them.
const (
	CategoryPartner      = "partner"
	CategoryCustomer     = "customer"
	CategorySubscription = "subscription"
	CategoryRelationship = "relationship"
)

func PartnerStream(id uuid.UUID) string      { return CategoryPartner + "-" + id.String() }
func CustomerStream(id uuid.UUID) string     { return CategoryCustomer + "-" + id.String() }
func SubscriptionStream(id uuid.UUID) string { return CategorySubscription + "-" + id.String() }
func RelationshipStream(id uuid.UUID) string { return CategoryRelationship + "-" + id.String() }

// SplitStream returns a stream's category and id; ok is false for a name
// that is not <category>-<uuid>.
func SplitStream(stream string) (category string, id uuid.UUID, ok bool) {
	category, rest, found := strings.Cut(stream, "-")
	if !found {
		return "", uuid.Nil, false
	}
	id, err := uuid.Parse(rest)
	if err != nil || len(rest) != 36 {
		return "", uuid.Nil, false
	}
	return category, id, true
}

// Derived ids. EventStoreDB appends to one stream atomically, never to two,
// so a rule spanning aggregates is guarded by a stream whose name is derived
// from the ids involved and appended with NoStream: the store lets exactly
// one writer create it. These are the only ids not made by uuid.NewV7.
var (
	relationshipNamespace = uuid.MustParse("2f1d4c6e-8a0b-4e57-9b61-0c3f5d2a7e91")
	replacementNamespace  = uuid.MustParse("7c9e2b14-3d5f-4a86-b0e2-61f8a4c3d925")
)

// RelationshipID is the id of the attempt-th reseller relationship request
// of partner to customer. "One PENDING or ACCEPTED relationship per pair" is
// kept by appending attempt n+1 with NoStream only after reading attempt n.
func RelationshipID(partner, customer uuid.UUID, attempt int) uuid.UUID {
	b := make([]byte, 0, 40)
	b = append(b, partner[:]...)
	b = append(b, customer[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(attempt))
	return uuid.NewSHA1(relationshipNamespace, b)
}

// ReplacementID is the id of the Azure subscription partner creates to
// replace legacy: at most one per pair, since its stream must not exist yet.
func ReplacementID(legacy, partner uuid.UUID) uuid.UUID {
	b := make([]byte, 0, 32)
	b = append(b, legacy[:]...)
	b = append(b, partner[:]...)
	return uuid.NewSHA1(replacementNamespace, b)
}
