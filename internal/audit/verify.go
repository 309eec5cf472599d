package audit

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"

	"github.com/partnercenter/multichannel/eventstore"
	"github.com/partnercenter/multichannel/internal/integrity"
)

// Reasons a stream is reported broken.
const (
	// ReasonMismatch: an event's stored hash is not the one computed from
	// its content and its predecessor's stored hash (changed data, type,
	// metadata or hash; an event removed or moved within the stream).
	ReasonMismatch = "HASH_MISMATCH"
	// ReasonUnsealed: an event carries no hash in the form integrity.Seal
	// writes (written before chaining, or its hash was removed).
	ReasonUnsealed = "UNSEALED"
	// ReasonGap: the stream's revisions in log order are not 0, 1, 2, ...
	ReasonGap = "REVISION_GAP"
)

// StreamIntegrity is the verdict on one stream.
type StreamIntegrity struct {
	Stream     string
	Intact     bool
	EventCount int64
	// FirstBrokenRevision is the first revision that does not verify
	// (nil when intact); for a gap, the first missing revision.
	FirstBrokenRevision *uint64
	// Reason is one of the Reason constants ("" when intact).
	Reason string
}

// Report is the outcome of Verify.
type Report struct {
	// EventCount is the number of events verified (and covered by Digest).
	EventCount int64
	// StreamCount and IntactCount count the streams seen and those intact.
	StreamCount int
	IntactCount int
	// Broken lists the broken streams, in the order their first break was
	// found (log order), at most VerifyOptions.MaxBroken of them.
	Broken []StreamIntegrity
	// BrokenCount counts every broken stream, listed or not.
	BrokenCount int
	// Digest is the log digest after EventCount events.
	Digest Digest
	// Position is the position of the last event covered (Start for an
	// empty log).
	Position eventstore.Position
	// ExtendsExpected is set when VerifyOptions.Expected was given: whether
	// the log's first Expected.Count events hash to Expected (false when the
	// log has fewer events).
	ExtendsExpected *bool
}

// Intact reports whether every stream verified.
func (r *Report) Intact() bool { return r.BrokenCount == 0 }

// VerifyOptions narrows Verify.
type VerifyOptions struct {
	// UpToCount, when positive, verifies and digests the first UpToCount
	// events of the log only (an auditor's checkpoint).
	UpToCount int64
	// Expected, when set, is a digest taken earlier: Verify reports whether
	// the log still starts with the events it covered. The scan goes on to
	// Expected.Count events if UpToCount stops earlier, for the digest only.
	Expected *Digest
	// MaxBroken bounds Report.Broken (default 1000); BrokenCount counts all.
	MaxBroken int
	// PageSize is the size of a log read (default DefaultPageSize).
	PageSize int
	// Progress, when set, is called after each page with the number of
	// events read so far.
	Progress func(events int64)
}

// ErrIntegrity is wrapped by callers (the command line) that turn a report
// with broken streams into an error.
var ErrIntegrity = errors.New("audit: the log does not verify")

// streamCheck is what Verify keeps per stream while it scans.
type streamCheck struct {
	next int64 // the revision the next event must have
	// stored is the previous event's hash as stored; computed is the
	// previous event's hash as recomputed along the chain. They are the
	// same string while the stream is intact, so an intact stream costs
	// one hash per event and one string per stream.
	stored, computed string
	count            int64
	broken           int // index into brokenList + 1; 0 while intact
}

// Verify recomputes every stream's hash chain from the events of the log
// (read from the start, page by page, hashing the stored bytes: no JSON is
// decoded) and the log digest. Each event's hash is recomputed from its
// content and its predecessor's stored hash, the comparison integrity.Verify
// makes, so one changed event breaks its stream at that revision and the
// report names it. The digest chains the recomputed hashes (see Digest), so
// it depends on the events' content alone, never on the stored hashes.
func Verify(ctx context.Context, store eventstore.Store, opts VerifyOptions) (*Report, error) {
	if opts.MaxBroken <= 0 {
		opts.MaxBroken = 1000
	}
	limit := opts.UpToCount
	scanTo := limit
	if opts.Expected != nil && scanTo > 0 && opts.Expected.Count > scanTo {
		scanTo = opts.Expected.Count
	}
	var (
		rep     Report
		dig     digester
		seen    int64
		streams = make(map[string]*streamCheck)
		broken  []*StreamIntegrity
		expOK   *bool
	)
	checkExpected := func() {
		if opts.Expected != nil && expOK == nil && dig.d.Count == opts.Expected.Count {
			ok := subtle.ConstantTimeCompare(dig.d.Sum[:], opts.Expected.Sum[:]) == 1
			expOK = &ok
		}
	}
	checkExpected() // an expected digest of 0 events
	breakAt := func(sc *streamCheck, stream string, rev uint64, reason string) {
		if sc.broken != 0 {
			return
		}
		r := rev
		broken = append(broken, &StreamIntegrity{Stream: stream, FirstBrokenRevision: &r, Reason: reason})
		sc.broken = len(broken)
	}

	err := scanLog(ctx, store, eventstore.Start, opts.PageSize, func(evs []eventstore.RecordedEvent) (bool, error) {
		for i := range evs {
			e := &evs[i]
			if scanTo > 0 && seen >= scanTo {
				return true, nil
			}
			seen++
			inScope := limit <= 0 || seen <= limit
			sc := streams[e.Stream]
			if sc == nil {
				sc = &streamCheck{}
				// Stream names from the store are fresh strings per row:
				// keep one copy per stream, not one per event.
				streams[strings.Clone(e.Stream)] = sc
			}
			if inScope && int64(e.Revision) != sc.next {
				want := uint64(sc.next)
				if int64(e.Revision) < sc.next {
					want = e.Revision
				}
				breakAt(sc, e.Stream, want, ReasonGap)
			}
			md, stored, sealed := integrity.Open(e.Metadata)
			if !sealed {
				md = e.Metadata
			}
			computed := integrity.Hash(sc.computed, e.Stream, e.Revision, e.Type, e.Data, md)
			var storedNext string
			switch {
			case !sealed:
				if inScope {
					breakAt(sc, e.Stream, e.Revision, ReasonUnsealed)
				}
				storedNext = computed
			case sc.stored == sc.computed && stored == computed:
				// The common case: intact so far and this event verifies.
				storedNext = computed
			default:
				// The stored chain and the recomputed one have parted (here
				// or earlier): judge this event against its predecessor's
				// stored hash, as integrity.Verify does.
				if inScope && integrity.Verify(sc.stored, e.Stream, e.Revision, e.Type, e.Data, e.Metadata) != nil {
					breakAt(sc, e.Stream, e.Revision, ReasonMismatch)
				}
				storedNext = stored
			}
			sc.stored, sc.computed = storedNext, computed
			sc.next = int64(e.Revision) + 1
			dig.add(computed)
			checkExpected()
			if inScope {
				sc.count++
				rep.EventCount++
				rep.Position = e.Position
				rep.Digest = dig.d
			}
		}
		if opts.Progress != nil {
			opts.Progress(seen)
		}
		return false, nil
	})
	if err != nil {
		return nil, fmt.Errorf("audit: verify: %w", err)
	}
	for _, sc := range streams {
		if sc.count == 0 {
			continue // seen only past UpToCount, for the expected digest
		}
		rep.StreamCount++
		if sc.broken == 0 {
			rep.IntactCount++
			continue
		}
		broken[sc.broken-1].EventCount = sc.count
	}
	rep.BrokenCount = len(broken)
	for _, b := range broken[:min(len(broken), opts.MaxBroken)] {
		rep.Broken = append(rep.Broken, *b)
	}
	if opts.Expected != nil {
		if expOK == nil {
			f := false // the log has fewer events than the digest covered
			expOK = &f
		}
		rep.ExtendsExpected = expOK
	}
	return &rep, nil
}
