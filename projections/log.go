package projections

import (
	"context"
	"errors"

	"github.com/partnercenter/multichannel/eventstore"
)

// LogReader is what the model's reads need of the log: one stream's events
// by revision. The model keeps compact headers, not payloads, so `events`,
// `history`, `causation` and the as-of folds read the payloads through
// it. A store is one; the request's context bounds each read.
type LogReader interface {
	ReadStream(ctx context.Context, stream string, dir eventstore.Direction, from uint64, max int) ([]eventstore.RecordedEvent, error)
}

// ReadLogFrom gives the model the log its reads take payloads from (the
// server passes its store). Call it before the model serves reads; until
// then those reads fail with errNoLog.
func (m *Model) ReadLogFrom(log LogReader) { m.log = log }

// errNoLog: ReadLogFrom was not called.
var errNoLog = errors.New("projections: the model has no log to read payloads from")

// reader is the model's log, or one that refuses every read.
func (m *Model) reader() LogReader {
	if m.log == nil {
		return noLog{}
	}
	return m.log
}

type noLog struct{}

func (noLog) ReadStream(context.Context, string, eventstore.Direction, uint64, int) ([]eventstore.RecordedEvent, error) {
	return nil, errNoLog
}
