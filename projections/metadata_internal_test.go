package projections

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
)

// The fast metadata scanner must agree with encoding/json on every
// document, taking the fallback where it cannot read one itself.
func TestDecodeMetaAgreesWithEncodingJSON(t *testing.T) {
	t.Parallel()
	corr := uuid.MustParse("0190c2f4-7c3a-7d2e-9a41-6b1f0e2d3c4b")
	tenant := uuid.MustParse("0190c2f4-7c3a-7d2e-9a41-6b1f0e2d3c4c")
	base := domain.Metadata{
		SchemaVersion: 1, RecordedAt: time.Date(2025, 1, 2, 3, 4, 5, 678e6, time.UTC),
		Actor: domain.Actor{UserID: "alice", TenantID: tenant, Role: domain.RoleSalesAgent}, CorrelationID: corr, CausationID: &corr,
		Hash: "abc123",
	}
	docs := [][]byte{}
	for _, mut := range []func(*domain.Metadata){
		func(*domain.Metadata) {},
		func(m *domain.Metadata) { m.IdempotencyKey, m.IdempotencyFingerprint = "key-1", "fp" },
		func(m *domain.Metadata) { m.Actor.UserID = `quote"and<angle>&amp` }, // escaped: fallback
		func(m *domain.Metadata) { m.Actor.UserID = "ünïcødé" },
		func(m *domain.Metadata) { m.CausationID = nil; m.Hash = "" },
		func(m *domain.Metadata) { m.RecordedAt = time.Date(2025, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600)) },
	} {
		m := base
		mut(&m)
		b, err := domain.EncodeMetadata(m)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, b)
	}
	docs = append(docs,
		[]byte(` { "schemaVersion" : 2 , "extra": [1, {"a": null}, true, -1.5e3], "actor": {"userId":"u","role":"AUDITOR","x":{}} } `),
		[]byte(`{}`),
	)
	for _, doc := range docs {
		var fast, ref metaLite
		if err := decodeMeta(doc, &fast); err != nil {
			t.Fatalf("%s: %v", doc, err)
		}
		if err := json.Unmarshal(doc, &ref); err != nil {
			t.Fatal(err)
		}
		if fast != ref && !(fast.RecordedAt.Equal(ref.RecordedAt) && withoutTime(fast) == withoutTime(ref)) {
			t.Fatalf("%s:\nfast %+v\nref  %+v", doc, fast, ref)
		}
	}
	for _, bad := range []string{``, `{`, `{"schemaVersion":}`, `{"actor":{"tenantId":"nope"}}`, `{} x`, `[]`} {
		var md metaLite
		if err := decodeMeta([]byte(bad), &md); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func withoutTime(m metaLite) metaLite { m.RecordedAt = time.Time{}; return m }
