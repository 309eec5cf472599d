// Package projections holds the read models: one in-memory Model folded
// from the global log, and the caller-scoped reads the API answers from it.
//
// The Model is rebuilt from the log when the server starts (New, then Run
// from the start) and kept current by the same subscription. It guards:
//
//   - Each event is applied once: an event at or before the checkpoint
//     (Position) is ignored, so a redelivered event changes nothing.
//   - Nothing is skipped: a stream's events must arrive with revisions
//     0, 1, 2, ... (ErrOutOfOrder otherwise), which a gap or a reordering
//     of the log would break.
//   - Reads never see a half-applied event and never share memory with
//     the writer: every view is a copy.
//   - Visibility is docs/domain.md's "What each caller sees", decided by
//     the domain (domain/visibility.go) from the ties the model folds, as
//     the command side and the live feed decide it.
//
// Its methods by client, one group per file:
//
//   - the API (graph): api.go (the caller-scoped reads), events.go,
//     history.go, asof.go and asof_point.go (the reads that take payloads
//     from the log, through the LogReader the model holds: log.go);
//   - the command side (internal/command declares SalesIndex, Handoff and
//     Waiter): commandside.go, and WaitFor (wait.go);
//   - the live feed (internal/livefeed declares ReadModel): livefeed.go,
//     with Position and WaitFor;
//   - auditors: Snapshot, Digest and DiffSnapshots (snapshot.go; the
//     read-model digest), and the as-of folds and causation above;
//   - the application's lifecycle (internal/app, internal/cli): New, Run,
//     Position (model.go), Apply (apply.go), the snapshot files
//     (snapshotfile.go) and the handoff checks (handoff.go).
//
// Visibility (visibility.go) is the domain's rule, asked with the ties the
// model folds; every read above applies it.
package projections
