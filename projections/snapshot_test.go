package projections_test

import (
	"testing"
	"time"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/projections"
)

// TestSnapshotDigest: a model folded from the same events has the same
// digest whatever its clock; one more event or a different fact changes it,
// and DiffSnapshots names the difference.
func TestSnapshotDigest(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	p := f.enroll("P")
	c := f.onboard(p, "Northwind", false)
	f.record(c, "M365", domain.LicenseBased, domain.ChannelOpen, nil)
	f.request(p, c, 0)

	again := projections.New(func() time.Time { return t0.Add(400 * 24 * time.Hour) }) // past every expiry
	evs, err := f.store.ReadAll(t.Context(), projections.New(nil).Position(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if err := again.Apply(e); err != nil {
			t.Fatal(err)
		}
	}
	a, b := f.model.Snapshot(), again.Snapshot()
	if a.Digest() != b.Digest() || len(projections.DiffSnapshots(a, b, 10)) != 0 {
		t.Fatalf("same events, different snapshots: %v", projections.DiffSnapshots(a, b, 10))
	}
	pos, d := f.model.Digest()
	if pos != f.model.Position() || d != a.Digest() || len(d) != 64 {
		t.Fatalf("Digest: %s %s", pos, d)
	}

	f.onboard(p, "Contoso", false)
	c2 := f.model.Snapshot()
	if c2.Digest() == a.Digest() {
		t.Fatal("one more customer, same digest")
	}
	diff := projections.DiffSnapshots(a, c2, 10)
	if len(diff) == 0 {
		t.Fatal("no difference named")
	}
}
