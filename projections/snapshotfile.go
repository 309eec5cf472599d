package projections

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/gob"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/eventstore"
)

// Snapshot files: the read models written to disk with the log position
// they reflect, so that a server starts from the newest valid one and folds
// only the events after it.
//
// A file is three parts:
//
//	a JSON header line (SnapshotHeader): format, version, position, the log's identity
//	the model's state, encoding/gob
//	"sha256 <64 hex>\n": SHA-256 of every byte before this line
//
// Nothing in a file is trusted without a check: a file whose digest does
// not match (corrupt, truncated), whose version is not SnapshotVersion (an
// older read model), or whose log identity the store does not confirm
// (the log's first event, and the event at the snapshot's position, by id
// and position) is ignored with a log line, and the model folds from the
// start.

// SnapshotVersion is the snapshot format's version. It changes whenever
// the model's state or the fold changes what the model holds for the same
// events: a snapshot of an older read model is then ignored, not loaded.
const SnapshotVersion = 1

const (
	snapshotFormat  = "multichannel read-model snapshot"
	snapshotPrefix  = "snapshot-"
	snapshotSuffix  = ".snap"
	trailerLen      = len("sha256 ") + 64 + 1
	snapshotsToKeep = 2
)

// ErrSnapshotInvalid is the error for a snapshot file that cannot be used:
// corrupt, of another version, or of another log.
var ErrSnapshotInvalid = errors.New("snapshot not usable")

// LogEvent names one event of the log: what a snapshot's identity is made of.
type LogEvent struct {
	ID       uuid.UUID           `json:"id"`
	Stream   string              `json:"stream"`
	Revision uint64              `json:"revision"`
	Position eventstore.Position `json:"-"`
	Pos      string              `json:"position"`
}

// SnapshotHeader is a snapshot file's first line.
type SnapshotHeader struct {
	Format    string    `json:"format"`
	Version   int       `json:"version"`
	Position  string    `json:"position"`
	Events    int       `json:"events"`
	First     LogEvent  `json:"first"` // the log's first event
	Last      LogEvent  `json:"last"`  // the event at Position
	WrittenAt time.Time `json:"writtenAt"`
}

// SnapshotInfo says what WriteSnapshot wrote or LoadSnapshot loaded.
type SnapshotInfo struct {
	Path     string
	Position eventstore.Position
	Events   int
	Bytes    int64
	// Held is how long the copy held the fold (the model's read lock).
	Held time.Duration
}

// The state as written: the model's structures with pointers turned into
// indices. Gob keeps it compact and fast without a schema of its own.
type snapState struct {
	Pos       eventstore.Position
	Partners  []Partner
	Customers []snapCustomer
	Subs      []snapSub
	Rels      []snapRel
	Access    []AccessSnapshot
	Pending   []uuid.UUID
	Streams   []snapStream
	Actors    []domain.Actor
	// The event index, column by column.
	Commit, Prepare, Rev []uint64
	RecordedAt           []int64
	Correlation          []byte // 16 bytes per event
	Stream, Actor        []int32
	Type                 []byte
}

type snapCustomer struct {
	View       Customer
	Pos        eventstore.Position
	Subs, Rels []int32 // indices into Subs, Rels
}

type snapSub struct {
	View       Subscription
	Pos        eventstore.Position
	ReplacedBy []uuid.UUID
}

type snapRel struct {
	View Relationship
	Pos  eventstore.Position
}

type snapStream struct {
	Name   string
	Next   uint64
	Events []int32
}

// copied is the model's state taken under the read lock: values and slice
// headers only. It shares memory with the model safely: the fold never
// writes below a slice's length once appended (headers, stream event
// lists, customers' lists), and replaces views' pointer and slice fields
// instead of writing through them (see fold), so the copy stays what it
// was when taken.
type copied struct {
	pos         eventstore.Position
	first, last LogEvent
	partners    []Partner
	customers   []customerState
	subs        []*subState
	subViews    []subState
	rels        []*relState
	relViews    []relState
	access      []AccessSnapshot
	pending     []uuid.UUID
	streams     []streamState
	actors      []domain.Actor
	chunks      [][]header
	n           int
}

func (m *Model) copyState() *copied {
	m.mu.RLock()
	defer m.mu.RUnlock()
	c := &copied{
		pos: m.pos, first: m.first, last: m.last,
		partners:  make([]Partner, 0, len(m.partners)),
		customers: make([]customerState, len(m.customerOrder)),
		subs:      slices.Clone(m.subOrder),
		subViews:  make([]subState, len(m.subOrder)),
		rels:      slices.Clone(m.relOrder),
		relViews:  make([]relState, len(m.relOrder)),
		access:    make([]AccessSnapshot, 0, len(m.access)),
		pending:   make([]uuid.UUID, 0, len(m.pending)),
		streams:   slices.Clone(m.streamList),
		actors:    slices.Clone(m.actorList),
		chunks:    slices.Clone(m.headers.chunks),
		n:         m.headers.len(),
	}
	for _, p := range m.partners {
		c.partners = append(c.partners, *p)
	}
	for i, cs := range m.customerOrder {
		c.customers[i] = *cs
	}
	for i, s := range m.subOrder {
		c.subViews[i] = *s
	}
	for i, r := range m.relOrder {
		c.relViews[i] = *r
	}
	for k, a := range m.access {
		c.access = append(c.access, AccessSnapshot{Partner: k.partner, Customer: k.customer,
			Accepted: a.accepted, Relationships: a.relationships, Sells: a.sells})
	}
	for id := range m.pending {
		c.pending = append(c.pending, id)
	}
	return c
}

// state turns the copy into what is written; it runs without any lock.
func (c *copied) state() *snapState {
	s := &snapState{
		Pos: c.pos, Partners: c.partners, Access: c.access, Pending: c.pending,
		Actors:    c.actors,
		Customers: make([]snapCustomer, len(c.customers)),
		Subs:      make([]snapSub, len(c.subs)),
		Rels:      make([]snapRel, len(c.rels)),
		Streams:   make([]snapStream, len(c.streams)),
		Commit:    make([]uint64, c.n), Prepare: make([]uint64, c.n), Rev: make([]uint64, c.n),
		RecordedAt: make([]int64, c.n), Correlation: make([]byte, 16*c.n),
		Stream: make([]int32, c.n), Actor: make([]int32, c.n), Type: make([]byte, c.n),
	}
	// Map order is random: sorted, equal models write equal bytes.
	slices.SortFunc(s.Access, func(a, b AccessSnapshot) int {
		return cmp.Or(bytes.Compare(a.Partner[:], b.Partner[:]), bytes.Compare(a.Customer[:], b.Customer[:]))
	})
	slices.SortFunc(s.Pending, func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })
	slices.SortFunc(s.Partners, func(a, b Partner) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	subIndex := make(map[*subState]int32, len(c.subs))
	for i, p := range c.subs {
		subIndex[p] = int32(i)
		s.Subs[i] = snapSub{View: c.subViews[i].view, Pos: c.subViews[i].pos, ReplacedBy: c.subViews[i].replacedBy}
	}
	relIndex := make(map[*relState]int32, len(c.rels))
	for i, p := range c.rels {
		relIndex[p] = int32(i)
		s.Rels[i] = snapRel{View: c.relViews[i].view, Pos: c.relViews[i].pos}
	}
	for i, cs := range c.customers {
		sc := snapCustomer{View: cs.view, Pos: cs.pos, Subs: make([]int32, len(cs.subs)), Rels: make([]int32, len(cs.rels))}
		for k, p := range cs.subs {
			sc.Subs[k] = subIndex[p]
		}
		for k, p := range cs.rels {
			sc.Rels[k] = relIndex[p]
		}
		s.Customers[i] = sc
	}
	for i, st := range c.streams {
		s.Streams[i] = snapStream{Name: st.name, Next: st.next(), Events: st.events}
	}
	for i := range c.n {
		h := &c.chunks[i>>headerChunkBits][i&(headerChunk-1)]
		s.Commit[i], s.Prepare[i], s.Rev[i] = h.pos.Commit, h.pos.Prepare, h.rev
		s.RecordedAt[i] = h.recordedAt
		copy(s.Correlation[16*i:], h.correlation[:])
		s.Stream[i], s.Actor[i], s.Type[i] = h.stream, h.actor(), h.typ()
	}
	return s
}

// restore fills an empty model from s, rebuilding every map and pointer.
func (m *Model) restore(s *snapState) error {
	n := len(s.Commit)
	if len(s.Prepare) != n || len(s.Rev) != n || len(s.RecordedAt) != n || len(s.Correlation) != 16*n ||
		len(s.Stream) != n || len(s.Actor) != n || len(s.Type) != n {
		return fmt.Errorf("%w: index columns of different lengths", ErrSnapshotInvalid)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range s.Partners {
		p := s.Partners[i]
		p.Cloud = intern(m, p.Cloud)
		m.partners[p.ID] = &p
	}
	subs := make([]*subState, len(s.Subs))
	for i, ss := range s.Subs {
		// Shared as the fold shares them (see intern).
		v := &ss.View
		v.Offer, v.BillingModel, v.Channel = intern(m, v.Offer), intern(m, v.BillingModel), intern(m, v.Channel)
		v.SellerPartnerID = m.partnerRef(v.SellerPartnerID)
		for k := range v.Services {
			v.Services[k].Name = intern(m, v.Services[k].Name)
		}
		st := m.slabs.subs.take()
		*st = subState{view: ss.View, pos: ss.Pos, replacedBy: ss.ReplacedBy}
		subs[i] = st
		m.subs[st.view.ID] = st
	}
	m.subOrder = subs
	rels := make([]*relState, len(s.Rels))
	for i, sr := range s.Rels {
		r := m.slabs.rels.take()
		*r = relState{view: sr.View, pos: sr.Pos}
		rels[i] = r
		m.rels[r.view.ID] = r
	}
	m.relOrder = rels
	m.customerOrder = make([]*customerState, len(s.Customers))
	for i, sc := range s.Customers {
		sc.View.Cloud = intern(m, sc.View.Cloud)
		c := m.slabs.customers.take()
		*c = customerState{view: sc.View, pos: sc.Pos, lowerName: lower(sc.View.Name),
			subs: make([]*subState, len(sc.Subs)), rels: make([]*relState, len(sc.Rels))}
		for k, j := range sc.Subs {
			if j < 0 || int(j) >= len(subs) {
				return fmt.Errorf("%w: customer %s: subscription %d", ErrSnapshotInvalid, c.view.ID, j)
			}
			c.subs[k] = subs[j]
		}
		for k, j := range sc.Rels {
			if j < 0 || int(j) >= len(rels) {
				return fmt.Errorf("%w: customer %s: relationship %d", ErrSnapshotInvalid, c.view.ID, j)
			}
			c.rels[k] = rels[j]
		}
		m.customers[c.view.ID] = c
		m.customerOrder[i] = c
	}
	for _, a := range s.Access {
		m.access[pairKey{partner: a.Partner, customer: a.Customer}] = &access{
			accepted: a.Accepted, relationships: a.Relationships, sells: a.Sells}
	}
	for _, id := range s.Pending {
		r := m.rels[id]
		if r == nil {
			return fmt.Errorf("%w: pending relationship %s unknown", ErrSnapshotInvalid, id)
		}
		m.pending[id] = r
	}
	m.streamList = make([]streamState, len(s.Streams))
	for i, st := range s.Streams {
		catName, id, ok := domain.SplitStream(st.Name)
		if !ok {
			return fmt.Errorf("%w: stream %q", ErrSnapshotInvalid, st.Name)
		}
		for _, e := range st.Events {
			if e < 0 || int(e) >= n {
				return fmt.Errorf("%w: stream %q: event %d", ErrSnapshotInvalid, st.Name, e)
			}
		}
		if st.Next != uint64(len(st.Events)) {
			return fmt.Errorf("%w: stream %q: next revision %d for %d events", ErrSnapshotInvalid, st.Name, st.Next, len(st.Events))
		}
		m.streamList[i] = streamState{name: st.Name, cat: categoryOf(catName), id: id, events: st.Events}
		m.streams[st.Name] = int32(i)
	}
	m.actorList = s.Actors
	for i, a := range s.Actors {
		m.actors[a] = int32(i)
	}
	for i := range n {
		h := header{pos: eventstore.Position{Commit: s.Commit[i], Prepare: s.Prepare[i]}, rev: s.Rev[i],
			recordedAt: s.RecordedAt[i], stream: s.Stream[i], actorTyp: packActorType(s.Actor[i], s.Type[i])}
		copy(h.correlation[:], s.Correlation[16*i:])
		if int(h.stream) >= len(m.streamList) || h.stream < 0 || int(s.Actor[i]) >= len(m.actorList) || s.Actor[i] < 0 ||
			int(s.Type[i]) >= len(eventTypes) {
			return fmt.Errorf("%w: index entry %d out of range", ErrSnapshotInvalid, i)
		}
		m.headers.append(h)
	}
	m.pos = s.Pos
	m.rebuildEventIndex()
	return nil
}

// WriteSnapshot writes m's read models to w in the snapshot format. The
// fold is held only while the state is copied (Info.Held); encoding and
// writing run beside it.
func (m *Model) WriteSnapshot(w io.Writer) (SnapshotInfo, error) {
	start := time.Now()
	c := m.copyState()
	info := SnapshotInfo{Position: c.pos, Events: c.n, Held: time.Since(start)}
	hdr := SnapshotHeader{
		Format: snapshotFormat, Version: SnapshotVersion, Position: c.pos.String(), Events: c.n,
		First: c.first, Last: c.last, WrittenAt: time.Now().UTC(),
	}
	hdr.First.Pos, hdr.Last.Pos = c.first.Position.String(), c.last.Position.String()
	line, err := json.Marshal(hdr)
	if err != nil {
		return info, fmt.Errorf("snapshot header: %w", err)
	}
	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(w, h)}
	bw := bufio.NewWriterSize(cw, 1<<20)
	bw.Write(line)
	bw.WriteByte('\n')
	if err := gob.NewEncoder(bw).Encode(c.state()); err != nil {
		return info, fmt.Errorf("snapshot: encode: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return info, fmt.Errorf("snapshot: write: %w", err)
	}
	n, err := fmt.Fprintf(w, "sha256 %s\n", hex.EncodeToString(h.Sum(nil)))
	info.Bytes = cw.n + int64(n)
	if err != nil {
		return info, fmt.Errorf("snapshot: write: %w", err)
	}
	return info, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// ReadSnapshot reads a snapshot written by WriteSnapshot into a new model
// (clock as for New), after checking its digest and version. It does not
// check the log's identity: LoadSnapshot does, against a store.
func ReadSnapshot(r io.ReaderAt, size int64, clock func() time.Time) (*Model, SnapshotHeader, error) {
	var hdr SnapshotHeader
	if size < int64(trailerLen) {
		return nil, hdr, fmt.Errorf("%w: %d bytes, too short", ErrSnapshotInvalid, size)
	}
	body := size - int64(trailerLen)
	trailer := make([]byte, trailerLen)
	if _, err := r.ReadAt(trailer, body); err != nil {
		return nil, hdr, fmt.Errorf("snapshot: read: %w", err)
	}
	want, ok := strings.CutPrefix(strings.TrimSuffix(string(trailer), "\n"), "sha256 ")
	if !ok || trailer[trailerLen-1] != '\n' {
		return nil, hdr, fmt.Errorf("%w: no digest at the end (truncated?)", ErrSnapshotInvalid)
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(r, 0, body)); err != nil {
		return nil, hdr, fmt.Errorf("snapshot: read: %w", err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return nil, hdr, fmt.Errorf("%w: digest %s, the file says %s (corrupt)", ErrSnapshotInvalid, got, want)
	}
	br := bufio.NewReaderSize(io.NewSectionReader(r, 0, body), 1<<20)
	line, err := br.ReadBytes('\n')
	if err != nil {
		return nil, hdr, fmt.Errorf("%w: no header line", ErrSnapshotInvalid)
	}
	if err := json.Unmarshal(bytes.TrimSpace(line), &hdr); err != nil || hdr.Format != snapshotFormat {
		return nil, hdr, fmt.Errorf("%w: not a read-model snapshot", ErrSnapshotInvalid)
	}
	if hdr.Version != SnapshotVersion {
		return nil, hdr, fmt.Errorf("%w: format version %d, this read model is version %d", ErrSnapshotInvalid, hdr.Version, SnapshotVersion)
	}
	for _, p := range []struct {
		s   string
		dst *eventstore.Position
	}{{hdr.Position, nil}, {hdr.First.Pos, &hdr.First.Position}, {hdr.Last.Pos, &hdr.Last.Position}} {
		pos, err := eventstore.ParsePosition(p.s)
		if err != nil {
			return nil, hdr, fmt.Errorf("%w: position %q: %w", ErrSnapshotInvalid, p.s, err)
		}
		if p.dst != nil {
			*p.dst = pos
		}
	}
	var s snapState
	if err := gob.NewDecoder(br).Decode(&s); err != nil {
		return nil, hdr, fmt.Errorf("%w: decode: %w", ErrSnapshotInvalid, err)
	}
	if s.Pos.String() != hdr.Position || len(s.Commit) != hdr.Events || hdr.Last.Position != s.Pos {
		return nil, hdr, fmt.Errorf("%w: header and body disagree", ErrSnapshotInvalid)
	}
	m := New(clock)
	if err := m.restore(&s); err != nil {
		return nil, hdr, err
	}
	m.first, m.last = hdr.First, hdr.Last
	m.started = s.Pos != eventstore.Start
	return m, hdr, nil
}

// SaveSnapshot writes m's snapshot into dir (made if missing), atomically:
// a temporary file, synced, renamed to its final name, and the directory
// synced. It keeps the newest two snapshots and removes older ones.
func SaveSnapshot(dir string, m *Model) (SnapshotInfo, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return SnapshotInfo{}, fmt.Errorf("snapshot: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".snapshot-*.tmp")
	if err != nil {
		return SnapshotInfo{}, fmt.Errorf("snapshot: %w", err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	info, err := m.WriteSnapshot(tmp)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return info, fmt.Errorf("snapshot: %w", err)
	}
	info.Path = filepath.Join(dir, snapshotName(info.Position))
	if err := os.Rename(tmp.Name(), info.Path); err != nil {
		return info, fmt.Errorf("snapshot: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	names, _ := listSnapshots(dir)
	for _, old := range names[min(len(names), snapshotsToKeep):] {
		os.Remove(filepath.Join(dir, old))
	}
	return info, nil
}

// snapshotName sorts by position: newest last.
func snapshotName(p eventstore.Position) string {
	return fmt.Sprintf("%s%020d-%020d%s", snapshotPrefix, p.Commit, p.Prepare, snapshotSuffix)
}

// listSnapshots lists dir's snapshot files, newest first.
func listSnapshots(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if n := e.Name(); e.Type().IsRegular() && strings.HasPrefix(n, snapshotPrefix) && strings.HasSuffix(n, snapshotSuffix) {
			names = append(names, n)
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(names)))
	return names, nil
}

// LoadSnapshot returns a model from the newest usable snapshot in dir,
// or nil when there is none (the caller folds from the start). A file is
// used only if its digest and version check out and store confirms its
// log: the log's first event and the event at the snapshot's position
// have the ids and positions the snapshot recorded. Each file passed over
// is logged with the reason. Only an error of the store itself (it cannot
// be asked) is returned.
func LoadSnapshot(ctx context.Context, dir string, store eventstore.Store, clock func() time.Time, log *slog.Logger) (*Model, SnapshotInfo, error) {
	if log == nil {
		log = slog.Default()
	}
	names, err := listSnapshots(dir)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			log.Warn("read-model snapshots: cannot list the directory; folding from the start", "dir", dir, "err", err)
		}
		return nil, SnapshotInfo{}, nil
	}
	for _, name := range names {
		path := filepath.Join(dir, name)
		m, info, err := loadOne(ctx, path, store, clock)
		if err == nil {
			return m, info, nil
		}
		if !errors.Is(err, ErrSnapshotInvalid) {
			return nil, SnapshotInfo{}, err
		}
		log.Warn("read-model snapshot ignored", "path", path, "reason", err)
	}
	return nil, SnapshotInfo{}, nil
}

func loadOne(ctx context.Context, path string, store eventstore.Store, clock func() time.Time) (*Model, SnapshotInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, SnapshotInfo{}, fmt.Errorf("%w: %w", ErrSnapshotInvalid, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, SnapshotInfo{}, fmt.Errorf("%w: %w", ErrSnapshotInvalid, err)
	}
	m, hdr, err := ReadSnapshot(f, fi.Size(), clock)
	if err != nil {
		return nil, SnapshotInfo{}, err
	}
	if err := checkLog(ctx, store, hdr); err != nil {
		return nil, SnapshotInfo{}, err
	}
	return m, SnapshotInfo{Path: path, Position: hdr.Last.Position, Events: hdr.Events, Bytes: fi.Size()}, nil
}

// checkLog confirms that store holds the log the snapshot was taken of.
func checkLog(ctx context.Context, store eventstore.Store, hdr SnapshotHeader) error {
	if hdr.Last.Position == eventstore.Start {
		return nil // a snapshot of an empty log fits every log
	}
	first, err := store.ReadAll(ctx, eventstore.Start, 1)
	if err != nil {
		return fmt.Errorf("snapshot: read the log's first event: %w", err)
	}
	if len(first) == 0 || first[0].ID != hdr.First.ID || first[0].Position != hdr.First.Position {
		return fmt.Errorf("%w: the log's first event is not the snapshot's %s at %s (another log)",
			ErrSnapshotInvalid, hdr.First.ID, hdr.First.Pos)
	}
	at, err := store.ReadStream(ctx, hdr.Last.Stream, eventstore.Forwards, hdr.Last.Revision, 1)
	if err != nil && !errors.Is(err, eventstore.ErrStreamNotFound) {
		return fmt.Errorf("snapshot: read %s@%d: %w", hdr.Last.Stream, hdr.Last.Revision, err)
	}
	if len(at) != 1 || at[0].ID != hdr.Last.ID || at[0].Position != hdr.Last.Position {
		return fmt.Errorf("%w: the log has no event %s at %s (%s@%d): another log, or one cut short",
			ErrSnapshotInvalid, hdr.Last.ID, hdr.Last.Pos, hdr.Last.Stream, hdr.Last.Revision)
	}
	return nil
}

// EventCount is how many events of the product's streams the model holds
// (the event index's length).
func (m *Model) EventCount() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.headers.len()
}
