package projections_test

import (
	"strings"
	"testing"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/projections"
)

// TestStreamNameSpelledInUpperCase: a stream whose id is spelled in upper
// case (which the store and uuid.Parse accept) is a stream of its own, not
// the one the domain's lower-case name stands for, in the fold, for the
// readers, and in a model loaded from a snapshot.
func TestStreamNameSpelledInUpperCase(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	p := f.enroll("P")
	c := f.onboard(p, "Northwind", false)
	s := f.record(c, "Azure", domain.UsageBased, domain.ChannelEnterpriseAgreement, nil, "VM")
	lower := domain.SubscriptionStream(s)
	upper := "subscription-" + strings.ToUpper(s.String())
	// Revision 0 of its own stream: folded into the lower-case stream it
	// would be out of order.
	f.emit(upper, user(c, domain.RoleGlobalAdmin), domain.SubscriptionCancelled{SubscriptionID: s, CustomerID: c})

	check := func(what string, m *projections.Model) {
		t.Helper()
		for _, stream := range []string{lower, upper} {
			h, err := m.History(t.Context(), auditor, stream, nil, nil, false)
			if err != nil {
				t.Fatal(err)
			}
			if got := historyRevs(t, h); !equalRevs(got, []uint64{0}) {
				t.Fatalf("%s: history of %s: revisions %v, want [0]", what, stream, got)
			}
		}
		if !m.StreamVisible(user(c, domain.RoleGlobalAdmin), upper) {
			t.Fatalf("%s: the customer does not see %s", what, upper)
		}
	}
	check("folded", f.model)

	dir := t.TempDir()
	if _, err := projections.SaveSnapshot(dir, f.model); err != nil {
		t.Fatal(err)
	}
	loaded, _, err := projections.LoadSnapshot(t.Context(), dir, f.store, nil, nil)
	if err != nil || loaded == nil {
		t.Fatalf("load: %v %v", loaded, err)
	}
	loaded.ReadLogFrom(f.store)
	check("loaded", loaded)
	_, want := f.model.Digest()
	if _, got := loaded.Digest(); got != want {
		t.Fatal("the loaded model's digest differs")
	}
}
