package projections_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/eventstore"
	"github.com/partnercenter/multichannel/projections"
)

func eventTypes(c projections.EventConnection) []string {
	out := make([]string, len(c.Edges))
	for i, e := range c.Edges {
		out[i] = e.Node.Type
	}
	return out
}

func TestEventsPagesInLogOrder(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	all, _ := w.f.store.ReadAll(ctx, eventstore.Start, 1000)

	page, err := w.f.model.Events(ctx, auditor, projections.EventFilter{}, ptr(5), nil)
	if err != nil {
		t.Fatal(err)
	}
	if page.TotalCount != len(all) || len(page.Edges) != 5 || !page.PageInfo.HasNextPage {
		t.Fatalf("page 1: total %d, %d edges, %+v", page.TotalCount, len(page.Edges), page.PageInfo)
	}
	// Walk every page: the log, in order, each event once, even with new
	// events appended in between.
	var seen []eventstore.Position
	for {
		for _, e := range page.Edges {
			if e.Cursor != e.Node.Position.String() {
				t.Fatalf("cursor %q is not the position %s", e.Cursor, e.Node.Position)
			}
			seen = append(seen, e.Node.Position)
		}
		if !page.PageInfo.HasNextPage {
			break
		}
		w.f.enroll("Newcomer")
		page, err = w.f.model.Events(ctx, auditor, projections.EventFilter{}, ptr(5), page.PageInfo.EndCursor)
		if err != nil {
			t.Fatal(err)
		}
	}
	final, _ := w.f.store.ReadAll(ctx, eventstore.Start, 1000)
	if len(seen) != len(final) {
		t.Fatalf("walked %d events, log has %d", len(seen), len(final))
	}
	for i := range seen {
		if seen[i] != final[i].Position {
			t.Fatalf("event %d at %s, log has %s", i, seen[i], final[i].Position)
		}
	}

	for _, bad := range []string{"x", "cu:1-1", "1"} {
		if _, err := w.f.model.Events(ctx, auditor, projections.EventFilter{}, nil, ptr(bad)); !errors.Is(err, domain.ErrBadUserInput) {
			t.Errorf("cursor %q: %v", bad, err)
		}
	}
}

func TestEventsFiltersAndView(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	p := f.enroll("P")
	c := f.onboard(p, "Northwind", false)
	from := f.at
	s := f.record(c, "M365", domain.LicenseBased, domain.ChannelOpen, nil)
	r := f.request(p, c, 0)
	to := f.at
	f.accept(r, p, c)

	get := func(v domain.Actor, fl projections.EventFilter) projections.EventConnection {
		t.Helper()
		conn, err := f.model.Events(ctx, v, fl, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		return conn
	}
	got := get(auditor, projections.EventFilter{Types: []string{domain.TypeRelationshipRequested, domain.TypeRelationshipAccepted, "NoSuchType"}})
	if ts := eventTypes(got); len(ts) != 2 || ts[0] != domain.TypeRelationshipRequested || ts[1] != domain.TypeRelationshipAccepted {
		t.Fatalf("types: %v", ts)
	}
	if got := get(auditor, projections.EventFilter{Types: []string{"NoSuchType"}}); got.TotalCount != 0 {
		t.Fatalf("unknown type matched %d", got.TotalCount)
	}
	// from inclusive, to exclusive: the subscription and the request.
	got = get(auditor, projections.EventFilter{From: &from, To: &to})
	if ts := eventTypes(got); len(ts) != 2 || ts[0] != domain.TypeExternalSubscriptionRecorded || ts[1] != domain.TypeRelationshipRequested {
		t.Fatalf("from/to: %v", ts)
	}
	custAdmin := user(c, domain.RoleGlobalAdmin)
	got = get(auditor, projections.EventFilter{ActorUserID: &custAdmin.UserID})
	if ts := eventTypes(got); len(ts) != 2 || ts[0] != domain.TypeExternalSubscriptionRecorded || ts[1] != domain.TypeRelationshipAccepted {
		t.Fatalf("actor: %v", ts)
	}
	one := got.Edges[0].Node
	got = get(auditor, projections.EventFilter{CorrelationID: &one.CorrelationID})
	if got.TotalCount != 1 || got.Edges[0].Node.ID != one.ID {
		t.Fatalf("correlation: %+v", got)
	}

	// The view: metadata and data as recorded.
	if one.Stream != domain.SubscriptionStream(s) || one.Revision != 0 || one.SchemaVersion != 1 ||
		!one.RecordedAt.Equal(from) || one.Actor != custAdmin || one.CausationID == nil || *one.CausationID != one.CorrelationID {
		t.Fatalf("event view: %+v", one)
	}
	var data domain.ExternalSubscriptionRecorded
	if err := json.Unmarshal(one.Data, &data); err != nil || data.SubscriptionID != s || data.Offer != "M365" {
		t.Fatalf("data: %s %v", one.Data, err)
	}
	if one.RecordedAt.Location() != time.UTC {
		t.Fatal("recordedAt not UTC")
	}

	// A partner that does not see the customer fully sees its own streams
	// only; the customer user sees its streams, not the partner's.
	q := f.enroll("Q")
	f.request(q, c, 0)
	qEvents := get(user(q, domain.RoleSalesAgent), projections.EventFilter{})
	if ts := eventTypes(qEvents); len(ts) != 2 || ts[0] != domain.TypePartnerEnrolled || ts[1] != domain.TypeRelationshipRequested {
		t.Fatalf("partner Q sees %v", ts)
	}
	cEvents := get(custAdmin, projections.EventFilter{})
	for _, e := range cEvents.Edges {
		if e.Node.Type == domain.TypePartnerEnrolled {
			t.Fatal("customer user sees a partner stream")
		}
	}
	want := []string{domain.TypeCustomerOnboarded, domain.TypeExternalSubscriptionRecorded,
		domain.TypeRelationshipRequested, domain.TypeRelationshipAccepted, domain.TypeRelationshipRequested}
	if ts := eventTypes(cEvents); len(ts) != len(want) || cEvents.TotalCount != len(want) {
		t.Fatalf("customer user sees %v, want %v", ts, want)
	}
	for i, e := range cEvents.Edges {
		if e.Node.Type != want[i] {
			t.Fatalf("customer user sees %v, want %v", eventTypes(cEvents), want)
		}
	}
}

func TestEventViewUpcastsAndRejectsUnknown(t *testing.T) {
	t.Parallel()
	m := projections.New(nil)
	if _, err := m.EventView(eventstore.RecordedEvent{Type: "Nope", Data: []byte(`{}`), Metadata: []byte(`{"schemaVersion":1}`)}); !errors.Is(err, domain.ErrUnknownEventType) {
		t.Fatalf("unknown type: %v", err)
	}
	if _, err := m.EventView(eventstore.RecordedEvent{Type: domain.TypePartnerEnrolled, Data: []byte(`{}`), Metadata: []byte(`not json`)}); err == nil {
		t.Fatal("bad metadata accepted")
	}
	id := uuid.New()
	ev, err := m.EventView(eventstore.RecordedEvent{
		ID: id, Type: domain.TypePartnerEnrolled, Data: []byte(`{"partnerId":"` + id.String() + `","name":"P","cloud":"PUBLIC"}`),
		Metadata: []byte(`{"schemaVersion":1,"recordedAt":"2025-01-10T10:00:00.123456+01:00"}`),
	})
	if err != nil || !ev.RecordedAt.Equal(time.Date(2025, 1, 10, 9, 0, 0, 123e6, time.UTC)) || ev.RecordedAt.Location() != time.UTC {
		t.Fatalf("view: %+v %v", ev, err)
	}
}

// streamsOnly is a LogReader that reads streams only, as EventStoreDB's
// adapter does: it hides the embedded store's PositionReader.
type streamsOnly struct{ projections.LogReader }

// TestEventsReadByPositionOrByStream: a page reads its events by position
// from a store that can, and stream by stream from one that cannot, and
// both give the same page.
func TestEventsReadByPositionOrByStream(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	if _, ok := any(w.f.store).(eventstore.PositionReader); !ok {
		t.Fatal("the embedded store reads no event by position")
	}
	byPos, err := w.f.model.Events(ctx, auditor, projections.EventFilter{}, ptr(50), nil)
	if err != nil {
		t.Fatal(err)
	}
	w.f.model.ReadLogFrom(streamsOnly{w.f.store})
	byStream, err := w.f.model.Events(ctx, auditor, projections.EventFilter{}, ptr(50), nil)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(byPos)
	b, _ := json.Marshal(byStream)
	if len(byPos.Edges) < 10 || string(a) != string(b) {
		t.Fatalf("%d edges by position, %d by stream:\n%s\n%s", len(byPos.Edges), len(byStream.Edges), a, b)
	}
}
