package command

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/partnercenter/multichannel/eventstore"
)

// Retries of an append that failed with eventstore.ErrUnavailable: how many
// tries in all, and the backoff between them (doubling up to the maximum).
const (
	appendTries       = 5
	appendBackoff     = 20 * time.Millisecond
	appendBackoffMax  = 320 * time.Millisecond
	appendRetryReason = "the store did not confirm the append"
)

// appendRetrying appends events, and retries the very same append while the
// store answers ErrUnavailable. Such an answer does not say whether the
// events were written (the acknowledgement may be what was lost), so a
// retry must neither write them twice nor write them differently: it sends
// the same event ids with the same exact expected revision (or NoStream),
// which both stores treat as idempotent. Were the events written, the retry
// succeeds and returns where they landed; were they not, it writes them now;
// did another writer get in between, it is a wrong expected revision, and
// the caller decides again on fresh state as for any conflict.
//
// With Any or StreamExists the stores only try their best to recognise a
// retry, so such an append is never retried (the handlers use neither).
func (h *Handlers) appendRetrying(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events []eventstore.EventData) (eventstore.AppendResult, error) {
	_, exact := expected.Revision()
	tries := 1
	if exact || expected.IsNoStream() {
		tries = appendTries
	}
	wait := appendBackoff
	for try := 1; ; try++ {
		res, err := h.store.Append(ctx, stream, expected, events...)
		if err == nil || !errors.Is(err, eventstore.ErrUnavailable) || try >= tries || ctx.Err() != nil {
			return res, err
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return res, fmt.Errorf("%s (%d tries) before the deadline: %w", appendRetryReason, try, err)
		}
		wait = min(2*wait, appendBackoffMax)
	}
}
