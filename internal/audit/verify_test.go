package audit_test

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/eventstore"
	"github.com/partnercenter/multichannel/eventstore/eventstoretest"
	"github.com/partnercenter/multichannel/internal/audit"
	"github.com/partnercenter/multichannel/internal/integrity"
)

// logStore is a read-only log held in memory: ReadAll only, which is all
// Verify reads.
type logStore struct{ all []eventstore.RecordedEvent }

var errReadOnly = errors.New("read-only test log")

func (s *logStore) Append(context.Context, string, eventstore.ExpectedRevision, ...eventstore.EventData) (eventstore.AppendResult, error) {
	return eventstore.AppendResult{}, errReadOnly
}

func (s *logStore) ReadStream(context.Context, string, eventstore.Direction, uint64, int) ([]eventstore.RecordedEvent, error) {
	return nil, errReadOnly
}

func (s *logStore) ReadAll(_ context.Context, after eventstore.Position, max int) ([]eventstore.RecordedEvent, error) {
	i := 0
	for i < len(s.all) && !after.Less(s.all[i].Position) {
		i++
	}
	out := make([]eventstore.RecordedEvent, 0, max)
	for ; i < len(s.all) && len(out) < max; i++ {
		out = append(out, s.all[i])
	}
	return out, nil
}

// pagedStore is a logStore that is also an eventstore.PageReader, and
// a spiteful one: before it reads a page into memory handed back, it
// fills that memory with garbage, so that whatever its reader still held
// of the page it was given before changes under it.
type pagedStore struct{ *logStore }

func (s pagedStore) ReadAllInto(ctx context.Context, after eventstore.Position, max int, p *eventstore.Page) error {
	evs, err := s.ReadAll(ctx, after, max)
	if err != nil {
		return err
	}
	eventstoretest.SpitefulPage(p, evs)
	return nil
}

func (s *logStore) SubscribeAll(context.Context, eventstore.Position, func(eventstore.RecordedEvent) error) error {
	return errReadOnly
}

func (s *logStore) Close() error { return nil }

// damagedLog is a sealed log of n events over a few streams, then damaged
// at random: events unsealed (their hash removed), their data changed,
// their stored hash replaced, revisions skipped or repeated. Each kind of
// damage is also made several times in one stream, so that chains part
// and come back.
func damagedLog(rng *rand.Rand, n int) *logStore {
	type stream struct {
		name string
		rev  uint64
		prev string
	}
	streams := make([]*stream, 1+n/20)
	for i := range streams {
		streams[i] = &stream{name: fmt.Sprintf("subscription-%s", uuid.New())}
	}
	st := &logStore{}
	for i := range n {
		s := streams[rng.IntN(len(streams))]
		rev := s.rev
		switch rng.IntN(60) {
		case 0:
			rev++ // a gap
		case 1:
			if rev > 0 {
				rev-- // a repeat
			}
		}
		data := fmt.Appendf(nil, `{"n":%d}`, i)
		md := fmt.Appendf(nil, `{"schemaVersion":1,"i":%d}`, i)
		sealed, h := integrity.Seal(s.prev, s.name, rev, "T", data, md)
		switch rng.IntN(40) {
		case 0:
			sealed = md // unsealed
		case 1:
			data = fmt.Appendf(nil, `{"n":%d,"x":1}`, i) // edited after sealing
		case 2:
			other := sha256.Sum256(data)
			sealed, _ = integrity.Seal(hex.EncodeToString(other[:]), s.name, rev, "T", data, md) // a forged hash
		}
		if rng.IntN(50) == 0 {
			h = hex.EncodeToString(make([]byte, 32)) // the next event chains to a wrong predecessor
		}
		s.prev, s.rev = h, rev+1
		st.all = append(st.all, eventstore.RecordedEvent{
			ID: uuid.New(), Stream: s.name, Revision: rev, Type: "T", Data: data, Metadata: sealed,
			Position: eventstore.Position{Commit: uint64(i + 1), Prepare: uint64(i + 1)},
		})
	}
	return st
}

// TestVerifyMatchesOnePass: the parallel Verify gives the report of a
// plain pass over the log in order (verifyOnePass, the algorithm as it was
// before the work was split), on damaged logs, with every option, at page
// sizes that cut its batches anywhere.
func TestVerifyMatchesOnePass(t *testing.T) {
	for seed := range uint64(6) {
		rng := rand.New(rand.NewPCG(seed, 1))
		st := damagedLog(rng, 300+rng.IntN(3000))
		clean, err := audit.Verify(context.Background(), st, audit.VerifyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		half := clean.Digest
		half.Count = int64(len(st.all) / 2)
		half.Sum = verifyOnePass(st.all[:half.Count], audit.VerifyOptions{}).Digest.Sum
		for _, opts := range []audit.VerifyOptions{
			{},
			{PageSize: 7},
			{PageSize: 300, MaxBroken: 3},
			{UpToCount: int64(len(st.all) / 3), PageSize: 100},
			{Expected: &half},
			{UpToCount: 10, Expected: &half, PageSize: 1000},
			{Expected: &clean.Digest},
		} {
			want := verifyOnePass(st.all, opts)
			for _, store := range []eventstore.Store{st, pagedStore{st}} {
				got, err := audit.Verify(context.Background(), store, opts)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("seed %d, %+v, %T:\n got %+v\nwant %+v", seed, opts, store, got, want)
				}
			}
			if seed == 0 && opts.PageSize == 0 && opts.Expected == nil && want.BrokenCount == 0 {
				t.Fatal("the damaged log verifies: the test damages nothing")
			}
		}
	}
}

// verifyOnePass is Verify as one loop over the events, hashing each in
// turn with integrity's own functions: the reference the staged Verify
// must agree with.
func verifyOnePass(all []eventstore.RecordedEvent, opts audit.VerifyOptions) *audit.Report {
	if opts.MaxBroken <= 0 {
		opts.MaxBroken = 1000
	}
	limit := opts.UpToCount
	scanTo := limit
	if opts.Expected != nil && scanTo > 0 && opts.Expected.Count > scanTo {
		scanTo = opts.Expected.Count
	}
	type check struct {
		next             int64
		stored, computed string
		count            int64
		broken           int
	}
	var (
		rep     audit.Report
		d       audit.Digest
		seen    int64
		streams = map[string]*check{}
		broken  []*audit.StreamIntegrity
		expOK   *bool
	)
	add := func(h string) {
		raw, err := hex.DecodeString(h)
		if err != nil || len(raw) != sha256.Size {
			sum := sha256.Sum256([]byte(h))
			raw = sum[:]
		}
		d.Sum = sha256.Sum256(append(d.Sum[:], raw...))
		d.Count++
	}
	checkExpected := func() {
		if opts.Expected != nil && expOK == nil && d.Count == opts.Expected.Count {
			ok := subtle.ConstantTimeCompare(d.Sum[:], opts.Expected.Sum[:]) == 1
			expOK = &ok
		}
	}
	checkExpected()
	breakAt := func(sc *check, stream string, rev uint64, reason string) {
		if sc.broken != 0 {
			return
		}
		r := rev
		broken = append(broken, &audit.StreamIntegrity{Stream: stream, FirstBrokenRevision: &r, Reason: reason})
		sc.broken = len(broken)
	}
	for i := range all {
		e := &all[i]
		if scanTo > 0 && seen >= scanTo {
			break
		}
		seen++
		inScope := limit <= 0 || seen <= limit
		sc := streams[e.Stream]
		if sc == nil {
			sc = &check{}
			streams[e.Stream] = sc
		}
		if inScope && int64(e.Revision) != sc.next {
			want := uint64(sc.next)
			if int64(e.Revision) < sc.next {
				want = e.Revision
			}
			breakAt(sc, e.Stream, want, audit.ReasonGap)
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
				breakAt(sc, e.Stream, e.Revision, audit.ReasonUnsealed)
			}
			storedNext = computed
		case sc.stored == sc.computed && stored == computed:
			storedNext = computed
		default:
			if inScope && integrity.Verify(sc.stored, e.Stream, e.Revision, e.Type, e.Data, e.Metadata) != nil {
				breakAt(sc, e.Stream, e.Revision, audit.ReasonMismatch)
			}
			storedNext = stored
		}
		sc.stored, sc.computed = storedNext, computed
		sc.next = int64(e.Revision) + 1
		add(computed)
		checkExpected()
		if inScope {
			sc.count++
			rep.EventCount++
			rep.Position = e.Position
			rep.Digest = d
		}
	}
	for _, sc := range streams {
		if sc.count == 0 {
			continue
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
			f := false
			expOK = &f
		}
		rep.ExtendsExpected = expOK
	}
	return &rep
}
