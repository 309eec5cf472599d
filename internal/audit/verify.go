package audit

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/sourcegraph/conc/stream"

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

// hexHash is a chain hash as stored, HexLen lowercase hex digits, or the
// empty hash a stream starts from (n == 0).
type hexHash struct {
	b [integrity.HexLen]byte
	n uint8
}

func (h *hexHash) bytes() []byte { return h.b[:h.n] }

func (h *hexHash) set(b []byte) {
	if len(b) != integrity.HexLen {
		*h = hexHash{}
		return
	}
	copy(h.b[:], b)
	h.n = integrity.HexLen
}

// streamCheck is what Verify keeps per stream while it scans.
type streamCheck struct {
	// Read and written by the scan, in log order, before hashing.
	next int64 // the revision the next event must have
	// guess is the stream's last event's stored hash as the scan reads it
	// (without checking it): the predecessor's hash the workers hash the
	// next event with. The check below confirms it is the one the chain
	// needs, and hashes again (in order) where it is not.
	guess hexHash

	// Read and written by the check, in log order, after hashing.
	// stored is the previous event's hash as stored; computed is the
	// previous event's hash as recomputed along the chain. They are the
	// same while the stream is intact, so an intact stream costs one hash
	// per event.
	stored, computed hexHash
	count            int64
	broken           int // index into brokenList + 1; 0 while intact
}

// verifyEvent is one event on its way through Verify's three stages.
type verifyEvent struct {
	e       *eventstore.RecordedEvent
	sc      *streamCheck
	inScope bool
	gap     bool   // its revision is not its stream's next (in scope only)
	want    uint64 // then, the revision reported
	prev    hexHash

	// Set by a worker.
	sealed     bool
	stored     hexHash
	hashed     hexHash // the event's hash after prev
	head, tail []byte  // the metadata as hashed (the unsealed one)
}

// verifyBatch is how many events a verification worker hashes as one task.
const verifyBatch = 256

var (
	hasherPool = sync.Pool{New: func() any { return integrity.NewHasher() }}
	batchPool  = sync.Pool{New: func() any { return new([]verifyEvent) }}
)

// hashBatch is a worker's part: each event's unsealed metadata and its
// hash after the predecessor hash the scan guessed.
func hashBatch(vs []verifyEvent) {
	h := hasherPool.Get().(*integrity.Hasher)
	defer hasherPool.Put(h)
	for i := range vs {
		v := &vs[i]
		e := v.e
		head, tail, stored, ok := integrity.SplitSealed(e.Metadata)
		if !ok {
			head, tail = e.Metadata, nil
		}
		v.sealed, v.head, v.tail = ok, head, tail
		v.stored.set(stored)
		v.hashed.n = integrity.HexLen
		h.Sum(&v.hashed.b, v.prev.bytes(), e.Stream, e.Revision, e.Type, e.Data, head, tail)
	}
}

// Verify recomputes every stream's hash chain from the events of the log
// (read from the start, page by page, hashing the stored bytes: no JSON is
// decoded) and the log digest. Each event's hash is recomputed from its
// content and its predecessor's stored hash, the comparison integrity.Verify
// makes, so one changed event breaks its stream at that revision and the
// report names it. The digest chains the recomputed hashes (see Digest), so
// it depends on the events' content alone, never on the stored hashes.
//
// The work runs in three stages, so that hashing, most of it, runs on every
// core: the scan, in log order, finds each event's stream and the stored
// hash of the stream's previous event; workers hash batches of events in
// parallel, each after that predecessor; the check, in log order again,
// walks each stream's chain with those hashes, hashing again only where a
// stream's chain has parted from its stored hashes, and folds the log
// digest. The verdict is the one a single pass makes.
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
		hasher  = integrity.NewHasher() // the check's own
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
	// check is the last stage, in log order (one goroutine: the stream's
	// callbacks).
	check := func(v *verifyEvent) {
		e, sc := v.e, v.sc
		if v.gap {
			breakAt(sc, e.Stream, v.want, ReasonGap)
		}
		// hashed is the event's hash after sc.stored when the scan's guess
		// was right, which it is unless the previous event was unsealed.
		afterStored := func() *hexHash {
			if v.prev != sc.stored {
				v.prev = sc.stored
				hasher.Sum(&v.hashed.b, sc.stored.bytes(), e.Stream, e.Revision, e.Type, e.Data, v.head, v.tail)
			}
			return &v.hashed
		}
		var computed hexHash
		if sc.stored == sc.computed {
			computed = *afterStored()
		} else {
			computed.n = integrity.HexLen
			hasher.Sum(&computed.b, sc.computed.bytes(), e.Stream, e.Revision, e.Type, e.Data, v.head, v.tail)
		}
		var storedNext hexHash
		switch {
		case !v.sealed:
			if v.inScope {
				breakAt(sc, e.Stream, e.Revision, ReasonUnsealed)
			}
			storedNext = computed
		case sc.stored == sc.computed && v.stored == computed:
			// The common case: intact so far and this event verifies.
			storedNext = computed
		default:
			// The stored chain and the recomputed one have parted (here
			// or earlier): judge this event against its predecessor's
			// stored hash, as integrity.Verify does.
			if v.inScope && subtle.ConstantTimeCompare(afterStored().bytes(), v.stored.bytes()) != 1 {
				breakAt(sc, e.Stream, e.Revision, ReasonMismatch)
			}
			storedNext = v.stored
		}
		sc.stored, sc.computed = storedNext, computed
		dig.addHex(computed.b[:])
		checkExpected()
		if v.inScope {
			sc.count++
			rep.EventCount++
			rep.Position = e.Position
			rep.Digest = dig.d
		}
	}

	s := stream.New().WithMaxGoroutines(runtime.GOMAXPROCS(0))
	submit := func(vs *[]verifyEvent, pg *heldPage) {
		pg.hold()
		s.Go(func() stream.Callback {
			hashBatch(*vs)
			return func() {
				for i := range *vs {
					check(&(*vs)[i])
				}
				clear(*vs) // drop the page before the slice is reused
				batchPool.Put(vs)
				pg.drop()
			}
		})
	}
	// Nothing of a page is kept past its batches' checks (a stream's name
	// is cloned where it is kept), so its memory goes back to the reader.
	err := scanLog(ctx, store, eventstore.Start, opts.PageSize, true, func(evs []eventstore.RecordedEvent, release func()) (bool, error) {
		pg := &heldPage{release: release}
		pg.hold() // until every batch of the page is submitted
		defer pg.drop()
		stop := false
		for start := 0; start < len(evs) && !stop; start += verifyBatch {
			chunk := evs[start:min(start+verifyBatch, len(evs))]
			vs := batchPool.Get().(*[]verifyEvent)
			*vs = (*vs)[:0]
			for i := range chunk {
				e := &chunk[i]
				if scanTo > 0 && seen >= scanTo {
					stop = true
					break
				}
				seen++
				v := verifyEvent{e: e, inScope: limit <= 0 || seen <= limit}
				sc := streams[e.Stream]
				if sc == nil {
					// A stream's name is its event's own string, even
					// when the page's bytes are reused.
					sc = &streamCheck{}
					streams[e.Stream] = sc
				}
				if v.inScope && int64(e.Revision) != sc.next {
					v.gap, v.want = true, uint64(sc.next)
					if int64(e.Revision) < sc.next {
						v.want = e.Revision
					}
				}
				v.sc, v.prev = sc, sc.guess
				_, _, stored, _ := integrity.SplitSealed(e.Metadata)
				sc.guess.set(stored)
				sc.next = int64(e.Revision) + 1
				*vs = append(*vs, v)
			}
			if len(*vs) > 0 {
				submit(vs, pg)
			}
		}
		if opts.Progress != nil {
			opts.Progress(seen)
		}
		return stop, nil
	})
	s.Wait()
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

// heldPage counts what still holds a page of the scan: its memory goes
// back to the reader when the last lets go.
type heldPage struct {
	n       atomic.Int32
	release func()
}

func (p *heldPage) hold() { p.n.Add(1) }

func (p *heldPage) drop() {
	if p.n.Add(-1) == 0 {
		p.release()
	}
}

// addHex is digester.add for a computed hash held in an array: the same
// digest, without a string per event.
func (g *digester) addHex(h []byte) {
	copy(g.buf[:sha256.Size], g.d.Sum[:])
	if _, err := hex.Decode(g.buf[sha256.Size:], h); err != nil || len(h) != 2*sha256.Size {
		sum := sha256.Sum256(h)
		copy(g.buf[sha256.Size:], sum[:])
	}
	g.d.Sum = sha256.Sum256(g.buf[:])
	g.d.Count++
}
