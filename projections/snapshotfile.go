package projections

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
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
//	the model's state, in sections of a binary encoding (snapshotcodec.go)
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
const SnapshotVersion = 2

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

// copyState takes the copy holding applyMu, not mu: every change to the
// model is made under both (see applyDecoded), so the state cannot change
// while it is copied, and readers, who take mu alone, are not held at all;
// only the fold waits for the copy (held says how long). The copy's arrays
// are made before, outside the lock, with room to spare: allocating and
// clearing them costs about as much as filling them, and appends make more
// room in the rare case the model outgrew them in between.
func (m *Model) copyState() (c *copied, held time.Duration) {
	m.mu.RLock()
	np, nc, ns, nr := len(m.partners), m.customerOrder.len(), m.subOrder.len(), m.relOrder.len()
	na, npe, nst, nac := len(m.access), len(m.pending), m.streamList.len(), m.actorList.len()
	m.mu.RUnlock()
	room := func(n int) int { return n + n/16 + 1024 }
	c = &copied{
		partners:  make([]Partner, 0, room(np)),
		customers: make([]customerState, 0, room(nc)),
		subs:      make([]*subState, 0, room(ns)),
		subViews:  make([]subState, 0, room(ns)),
		rels:      make([]*relState, 0, room(nr)),
		relViews:  make([]relState, 0, room(nr)),
		access:    make([]AccessSnapshot, 0, room(na)),
		pending:   make([]uuid.UUID, 0, room(npe)),
		streams:   make([]streamState, 0, room(nst)),
		actors:    make([]domain.Actor, 0, room(nac)),
	}
	// Written once here, so that the copy under the lock does not take the
	// page faults of memory the system has not handed over yet.
	clear(c.subViews[:cap(c.subViews)])
	clear(c.streams[:cap(c.streams)])
	clear(c.customers[:cap(c.customers)])
	clear(c.relViews[:cap(c.relViews)])
	m.applyMu.Lock()
	defer m.applyMu.Unlock()
	start := time.Now()
	c.pos, c.first, c.last = m.pos, m.first, m.last
	c.chunks, c.n = slices.Clone(m.headers.chunks), m.headers.len()
	c.subs = m.subOrder.appendTo(c.subs)
	c.rels = m.relOrder.appendTo(c.rels)
	c.streams = m.streamList.appendTo(c.streams)
	c.actors = m.actorList.appendTo(c.actors)
	for _, p := range m.partners {
		c.partners = append(c.partners, *p)
	}
	for cs := range m.customerOrder.all {
		c.customers = append(c.customers, *cs)
	}
	for s := range m.subOrder.all {
		c.subViews = append(c.subViews, *s)
	}
	for r := range m.relOrder.all {
		c.relViews = append(c.relViews, *r)
	}
	for k, a := range m.access {
		c.access = append(c.access, AccessSnapshot{Partner: k.partner, Customer: k.customer,
			Accepted: a.accepted, Relationships: a.relationships, Sells: a.sells})
	}
	for id := range m.pending {
		c.pending = append(c.pending, id)
	}
	return c, time.Since(start)
}

// WriteSnapshot writes m's read models to w in the snapshot format. The
// fold is held only while the state is copied (Info.Held); encoding and
// writing run beside it.
func (m *Model) WriteSnapshot(w io.Writer) (SnapshotInfo, error) {
	c, held := m.copyState()
	info := SnapshotInfo{Position: c.pos, Events: c.n, Held: held}
	hdr := SnapshotHeader{
		Format: snapshotFormat, Version: SnapshotVersion, Position: c.pos.String(), Events: c.n,
		First: c.first, Last: c.last, WrittenAt: time.Now().UTC(),
	}
	hdr.First.Pos, hdr.Last.Pos = c.first.Position.String(), c.last.Position.String()
	line, err := json.Marshal(hdr)
	if err != nil {
		return info, fmt.Errorf("snapshot header: %w", err)
	}
	secs := c.encodeBody()
	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(w, h)}
	bw := bufio.NewWriterSize(cw, 1<<20)
	bw.Write(line)
	bw.WriteByte('\n')
	for _, e := range secs {
		if err := e.writeTo(bw); err != nil {
			return info, fmt.Errorf("snapshot: write: %w", err)
		}
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
//
// Reading, hashing and decoding overlap: the file is read in chunks, each
// hashed on another goroutine while the next is read, and each section of
// the body is decoded on a goroutine of its own as soon as its bytes are
// in. Nothing decoded is used unless the digest matches, and a digest that
// does not is the error reported, whatever else the damage broke.
func ReadSnapshot(r io.ReaderAt, size int64, clock func() time.Time) (*Model, SnapshotHeader, error) {
	if size < int64(trailerLen) {
		return nil, SnapshotHeader{}, fmt.Errorf("%w: %d bytes, too short", ErrSnapshotInvalid, size)
	}
	buf := make([]byte, size)
	return readSnapshot(buf, func(off, end int64) error {
		_, err := r.ReadAt(buf[off:end], off)
		return err
	}, clock)
}

// errNoMap says a snapshot file cannot be mapped here.
var errNoMap = errors.New("cannot map the file")

// readSnapshot is ReadSnapshot on buf, the file's size, whose bytes
// from off to end fill fills in, in order (nil: buf holds them already,
// the file mapped).
func readSnapshot(buf []byte, fill func(off, end int64) error, clock func() time.Time) (*Model, SnapshotHeader, error) {
	var hdr SnapshotHeader
	size := int64(len(buf))
	if size < int64(trailerLen) {
		return nil, hdr, fmt.Errorf("%w: %d bytes, too short", ErrSnapshotInvalid, size)
	}
	body := size - int64(trailerLen)
	chunks := make(chan []byte, 4)
	sum := make(chan string, 1)
	go func() {
		h := sha256.New()
		for c := range chunks {
			h.Write(c)
		}
		sum <- hex.EncodeToString(h.Sum(nil))
	}()
	if fill == nil {
		// Every byte is there already: the whole body goes to the hasher
		// at once, so that handing the sections to their decoders is not
		// paced by the hashing, which is as long as the longest section.
		chunks <- buf[:body]
		close(chunks)
	}
	m := New(clock)
	rs := &restoring{m: m}
	var rerr, herr, derr error // reading, the header line, the body
	start := int64(-1)         // where the next section begins, once the header line is read
	for off := int64(0); off < size; off += readChunk {
		end := min(off+readChunk, size)
		if fill != nil {
			if err := fill(off, end); err != nil {
				rerr = err
				break
			}
		}
		in := min(end, body)
		if fill != nil {
			chunks <- buf[off:in]
		}
		if start < 0 && herr == nil {
			if nl := bytes.IndexByte(buf[:in], '\n'); nl >= 0 {
				hdr, herr = parseHeader(buf[:nl])
				start = int64(nl) + 1
			} else if in == body {
				herr = fmt.Errorf("%w: no header line", ErrSnapshotInvalid)
			}
		}
		for start >= 0 && derr == nil && herr == nil && start+8 <= in {
			l := int64(binary.LittleEndian.Uint64(buf[start:]))
			if l < 0 || l > body-start-8 {
				derr = fmt.Errorf("%w: a section longer than the file", errSnapshotBody)
				break
			}
			if start+8+l > in {
				break
			}
			derr = rs.section(buf[start+8 : start+8+l])
			start += 8 + l
		}
	}
	if fill != nil {
		close(chunks)
	}
	got := <-sum
	pos, werr := rs.wait()
	if rerr != nil {
		return nil, hdr, fmt.Errorf("snapshot: read: %w", rerr)
	}
	trailer := buf[body:]
	want, ok := strings.CutPrefix(strings.TrimSuffix(string(trailer), "\n"), "sha256 ")
	if !ok || trailer[trailerLen-1] != '\n' {
		return nil, hdr, fmt.Errorf("%w: no digest at the end (truncated?)", ErrSnapshotInvalid)
	}
	if got != want {
		return nil, hdr, fmt.Errorf("%w: digest %s, the file says %s (corrupt)", ErrSnapshotInvalid, got, want)
	}
	if herr != nil {
		return nil, hdr, herr
	}
	if derr == nil && start != body {
		derr = fmt.Errorf("%w: %d bytes after the last section", errSnapshotBody, body-start)
	}
	if derr == nil {
		derr = werr
	}
	if derr != nil {
		return nil, hdr, fmt.Errorf("%w: decode: %w", ErrSnapshotInvalid, derr)
	}
	if pos.String() != hdr.Position || m.headers.len() != hdr.Events || hdr.Last.Position != pos {
		return nil, hdr, fmt.Errorf("%w: header and body disagree", ErrSnapshotInvalid)
	}
	m.pos = pos
	m.first, m.last = hdr.First, hdr.Last
	m.started = pos != eventstore.Start
	return m, hdr, nil
}

// parseHeader checks a snapshot's header line: its format, its version and
// its positions.
func parseHeader(line []byte) (SnapshotHeader, error) {
	var hdr SnapshotHeader
	if err := json.Unmarshal(bytes.TrimSpace(line), &hdr); err != nil || hdr.Format != snapshotFormat {
		return hdr, fmt.Errorf("%w: not a read-model snapshot", ErrSnapshotInvalid)
	}
	if hdr.Version != SnapshotVersion {
		return hdr, fmt.Errorf("%w: format version %d, this read model is version %d", ErrSnapshotInvalid, hdr.Version, SnapshotVersion)
	}
	for _, p := range []struct {
		s   string
		dst *eventstore.Position
	}{{hdr.Position, nil}, {hdr.First.Pos, &hdr.First.Position}, {hdr.Last.Pos, &hdr.Last.Position}} {
		pos, err := eventstore.ParsePosition(p.s)
		if err != nil {
			return hdr, fmt.Errorf("%w: position %q: %w", ErrSnapshotInvalid, p.s, err)
		}
		if p.dst != nil {
			*p.dst = pos
		}
	}
	return hdr, nil
}

// readChunk is how much ReadSnapshot reads before handing it to the hash.
const readChunk = 4 << 20

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
	var (
		m   *Model
		hdr SnapshotHeader
	)
	if buf, unmap, merr := mapSnapshot(f, fi.Size()); merr == nil {
		// Nothing restored points into buf (the sections' strings are
		// copies), so the mapping ends with the restore.
		m, hdr, err = readSnapshot(buf, nil, clock)
		unmap()
	} else {
		m, hdr, err = ReadSnapshot(f, fi.Size(), clock)
	}
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
