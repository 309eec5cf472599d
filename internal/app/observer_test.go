package app

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/eventstore"
	"github.com/partnercenter/multichannel/eventstore/sqlite"
	"github.com/partnercenter/multichannel/internal/observability"
)

// The embedded store's group commits reach the store metrics.
func TestStoreMetrics(t *testing.T) {
	t.Parallel()
	m := observability.NewMetrics()
	s, err := sqlite.Open(t.TempDir()+"/events.db", sqlite.WithObserver(storeObserver{m}))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range 3 {
		evs := []eventstore.EventData{{ID: uuid.Must(uuid.NewV7()), Type: "T", Data: []byte(`{}`)}, {ID: uuid.Must(uuid.NewV7()), Type: "T", Data: []byte(`{}`)}}
		if _, err := s.Append(context.Background(), fmt.Sprint("s-", i), eventstore.NoStream(), evs...); err != nil {
			t.Fatal(err)
		}
	}
	ts := httptest.NewServer(m.Handler())
	defer ts.Close()
	resp, err := http.Get(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		"multichannel_store_appends_total 3",
		"multichannel_store_events_written_total 6",
		"multichannel_store_commit_events_sum 6",
		"multichannel_store_commit_duration_seconds_count 3",
		"multichannel_store_commit_failures_total 0",
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
