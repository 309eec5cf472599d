package app

import (
	"github.com/partnercenter/multichannel/eventstore/sqlite"
	"github.com/partnercenter/multichannel/internal/observability"
)

// storeObserver reports the embedded store's group commits to the metrics:
// the wiring is where the adapter and observability meet, so that
// observability knows no store adapter.
type storeObserver struct{ m *observability.Metrics }

func (o storeObserver) ObserveCommit(c sqlite.CommitStats) {
	o.m.ObserveCommit(observability.Commit(c))
}

var _ sqlite.Observer = storeObserver{}
