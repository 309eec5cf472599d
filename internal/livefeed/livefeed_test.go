package livefeed_test

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/internal/livefeed"
	"github.com/partnercenter/multichannel/projections"
)

func TestMatches(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	corr := uuid.New()
	e := projections.Event{Stream: "customer-x", Type: domain.TypeCustomerOnboarded, RecordedAt: at,
		Actor: domain.Actor{UserID: "u1"}, CorrelationID: corr}
	str := func(s string) *string { return &s }
	tm := func(t time.Time) *time.Time { return &t }
	other := uuid.New()
	for _, tc := range []struct {
		name string
		f    projections.EventFilter
		want bool
	}{
		{"empty", projections.EventFilter{}, true},
		{"stream", projections.EventFilter{Stream: str("customer-x")}, true},
		{"other stream", projections.EventFilter{Stream: str("customer-y")}, false},
		{"type listed", projections.EventFilter{Types: []string{"X", domain.TypeCustomerOnboarded}}, true},
		{"type not listed", projections.EventFilter{Types: []string{"X"}}, false},
		{"actor", projections.EventFilter{ActorUserID: str("u1")}, true},
		{"other actor", projections.EventFilter{ActorUserID: str("u2")}, false},
		{"correlation", projections.EventFilter{CorrelationID: &corr}, true},
		{"other correlation", projections.EventFilter{CorrelationID: &other}, false},
		{"from is inclusive", projections.EventFilter{From: tm(at)}, true},
		{"from after", projections.EventFilter{From: tm(at.Add(time.Millisecond))}, false},
		{"to is exclusive", projections.EventFilter{To: tm(at)}, false},
		{"to after", projections.EventFilter{To: tm(at.Add(time.Millisecond))}, true},
	} {
		if got := livefeed.Matches(tc.f, e); got != tc.want {
			t.Errorf("%s: Matches = %v, want %v", tc.name, got, tc.want)
		}
	}
}
