package projections

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/google/uuid"
)

// The snapshot body's encoding, written by hand: gob's reflection cost
// more than reading the file, and its decoder gives every string and
// slice an allocation of its own, which the restore then copied again.
//
// The body is a sequence of sections, each prefixed by its length, so
// that the reader splits them without decoding and decodes them side by
// side. A section is three parts:
//
//	symbols: the distinct values of its enum and catalog fields (clouds,
//	         statuses, offers, roles), each field written as an index
//	heap:    the bytes of every other string, one after the other
//	rows:    the elements, fields as varints, ids as their 16 bytes,
//	         strings as their length in the heap
//
// so that decoding a section turns its heap into one string and slices
// every string out of it (one allocation, no pointers for the collector
// to follow), and the symbols are made the model's shared copies once,
// before the sections are decoded in parallel.

// errSnapshotBody is what a body that does not decode fails with; it is
// wrapped with ErrSnapshotInvalid by the caller.
var errSnapshotBody = errors.New("malformed body")

// enc writes one section.
type enc struct {
	syms    map[string]uint64
	symList []string
	heap    []byte
	rows    []byte
}

func newEnc(rows int) *enc {
	return &enc{syms: make(map[string]uint64), rows: make([]byte, 0, rows)}
}

func (e *enc) u(v uint64)       { e.rows = binary.AppendUvarint(e.rows, v) }
func (e *enc) i(v int64)        { e.rows = binary.AppendVarint(e.rows, v) }
func (e *enc) id(v uuid.UUID)   { e.rows = append(e.rows, v[:]...) }
func (e *enc) boolean(v bool)   { e.rows = append(e.rows, b2u(v)) }
func (e *enc) str(s string)     { e.u(uint64(len(s))); e.heap = append(e.heap, s...) }
func (e *enc) opt(present bool) { e.rows = append(e.rows, b2u(present)) }

func b2u(v bool) byte {
	if v {
		return 1
	}
	return 0
}

// sym writes s as its index among the section's symbols.
func sym[S ~string](e *enc, s S) {
	i, ok := e.syms[string(s)]
	if !ok {
		i = uint64(len(e.symList))
		e.syms[string(s)] = i
		e.symList = append(e.symList, string(s))
	}
	e.u(i)
}

// The times of the read models are UTC as the fold makes them (the
// metadata's recordedAt, at the API's precision): those are written as
// seconds and nanoseconds. Any other zone is kept as time.MarshalBinary
// keeps it, so that a restored time is the time that was written.
const (
	timeUTC   = 0
	timeOther = 1
)

func (e *enc) time(t time.Time) {
	if t.Location() == time.UTC {
		e.rows = append(e.rows, timeUTC)
		e.i(t.Unix())
		e.u(uint64(t.Nanosecond()))
		return
	}
	b, err := t.MarshalBinary()
	if err != nil {
		// A zone offset that is not a whole minute: the time is kept as UTC.
		e.time(t.UTC())
		return
	}
	e.rows = append(e.rows, timeOther)
	e.u(uint64(len(b)))
	e.rows = append(e.rows, b...)
}

func (e *enc) timePtr(t *time.Time) {
	e.opt(t != nil)
	if t != nil {
		e.time(*t)
	}
}

func (e *enc) strPtr(s *string) {
	e.opt(s != nil)
	if s != nil {
		e.str(*s)
	}
}

func (e *enc) idPtr(v *uuid.UUID) {
	e.opt(v != nil)
	if v != nil {
		e.id(*v)
	}
}

// ids writes a list of ids, keeping a nil list apart from an empty one.
func (e *enc) ids(v []uuid.UUID) {
	e.listLen(len(v), v == nil)
	for _, id := range v {
		e.id(id)
	}
}

// listLen writes a list's length, 0 for nil, n+1 otherwise.
func (e *enc) listLen(n int, isNil bool) {
	if isNil {
		e.u(0)
		return
	}
	e.u(uint64(n) + 1)
}

// size is the section's length once written (without its length prefix).
func (e *enc) size() int {
	n := uvarintLen(uint64(len(e.symList)))
	for _, s := range e.symList {
		n += uvarintLen(uint64(len(s))) + len(s)
	}
	return n + uvarintLen(uint64(len(e.heap))) + len(e.heap) + len(e.rows)
}

// writeTo writes the section, its length first.
func (e *enc) writeTo(w io.Writer) error {
	var b []byte
	b = binary.LittleEndian.AppendUint64(b, uint64(e.size()))
	b = binary.AppendUvarint(b, uint64(len(e.symList)))
	for _, s := range e.symList {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = binary.AppendUvarint(b, uint64(len(e.heap)))
	for _, p := range [][]byte{b, e.heap, e.rows} {
		if _, err := w.Write(p); err != nil {
			return err
		}
	}
	return nil
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// dec reads one section. A read past the end, or a value out of range,
// sets err and returns zero values from then on: the caller checks err
// once after a loop, and counts are checked against the bytes left
// before anything is allocated for them, so a damaged section can
// neither panic nor ask for more memory than its size. It keeps offsets,
// not resliced strings and slices: storing a pointer costs a write
// barrier while the collector runs, which it does all through a load.
type dec struct {
	syms []string
	heap string
	rows []byte
	hoff int // read offset in heap
	off  int // read offset in rows
	err  error
}

// newDec splits a section into its symbols, heap and rows. The symbols
// are passed through canon (the model's interning) by the caller before
// the rows are read.
func newDec(section []byte) *dec {
	d := &dec{rows: section}
	n := d.count(1)
	d.syms = make([]string, 0, n)
	for range n {
		l := d.count(1)
		if d.err != nil {
			break
		}
		d.syms = append(d.syms, string(d.rows[d.off:d.off+l]))
		d.off += l
	}
	hl := d.count(1)
	if d.err == nil {
		d.heap = string(d.rows[d.off : d.off+hl])
		d.off += hl
	}
	return d
}

func (d *dec) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: "+format, append([]any{errSnapshotBody}, args...)...)
	}
	d.off = len(d.rows)
}

func (d *dec) left() int { return len(d.rows) - d.off }

func (d *dec) u() uint64 {
	// The common case, one byte, inline.
	if d.off < len(d.rows) {
		if b := d.rows[d.off]; b < 0x80 {
			d.off++
			return uint64(b)
		}
	}
	if d.off >= len(d.rows) {
		d.fail("short")
		return 0
	}
	v, n := binary.Uvarint(d.rows[d.off:])
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.off += n
	return v
}

func (d *dec) i() int64 {
	if d.off >= len(d.rows) {
		d.fail("short")
		return 0
	}
	v, n := binary.Varint(d.rows[d.off:])
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.off += n
	return v
}

// count reads a count of elements of at least min bytes each, and checks
// that the section has room for them.
func (d *dec) count(min int) int {
	v := d.u()
	if v > uint64(d.left()/max(min, 1)) {
		d.fail("count %d beyond the section's %d bytes", v, d.left())
		return 0
	}
	return int(v)
}

// index reads an index below n.
func (d *dec) index(n int) int {
	v := d.u()
	if v >= uint64(n) {
		d.fail("index %d out of range (%d)", v, n)
		return 0
	}
	return int(v)
}

func (d *dec) id() (v uuid.UUID) {
	if d.left() < 16 {
		d.fail("short id")
		return v
	}
	copy(v[:], d.rows[d.off:])
	d.off += 16
	return v
}

func (d *dec) byte1() byte {
	if d.off >= len(d.rows) {
		d.fail("short")
		return 0
	}
	b := d.rows[d.off]
	d.off++
	return b
}

func (d *dec) boolean() bool { return d.byte1() == 1 }
func (d *dec) opt() bool     { return d.byte1() == 1 }

func (d *dec) str() string {
	l := d.u()
	if l > uint64(len(d.heap)-d.hoff) {
		d.fail("string beyond the heap")
		d.hoff = len(d.heap)
		return ""
	}
	s := d.heap[d.hoff : d.hoff+int(l)]
	d.hoff += int(l)
	return s
}

func decSym[S ~string](d *dec) S {
	i := d.index(len(d.syms))
	if d.err != nil {
		return ""
	}
	return S(d.syms[i])
}

func (d *dec) time() time.Time {
	switch d.byte1() {
	case timeUTC:
		sec := d.i()
		nsec := d.u()
		if nsec >= 1e9 {
			d.fail("nanoseconds %d", nsec)
			return time.Time{}
		}
		return time.Unix(sec, int64(nsec)).UTC()
	case timeOther:
		l := d.count(1)
		if d.err != nil {
			return time.Time{}
		}
		var t time.Time
		err := t.UnmarshalBinary(d.rows[d.off : d.off+l])
		d.off += l
		if err != nil {
			d.fail("time: %v", err)
		}
		return t
	}
	d.fail("time kind")
	return time.Time{}
}

// listLen reads what enc.listLen wrote: isNil, and the length of a list
// of elements of at least min bytes.
func (d *dec) listLen(min int) (n int, isNil bool) {
	v := d.u()
	if v == 0 {
		return 0, true
	}
	v--
	if v > uint64(d.left()/max(min, 1)) {
		d.fail("list of %d beyond the section", v)
		return 0, false
	}
	return int(v), false
}

func (d *dec) done(what string) error {
	if d.err == nil && (d.left() != 0 || d.hoff != len(d.heap)) {
		d.fail("%s: %d bytes left over", what, d.left()+len(d.heap)-d.hoff)
	}
	if d.err != nil {
		return fmt.Errorf("%s: %w", what, d.err)
	}
	return nil
}

// block hands out slices of one array, so that a restore allocates once
// per kind of element instead of once per object (as slab does for the
// fold). Each slice is capped at its length: an append by the fold copies
// it instead of writing over its neighbour's elements.
type block[T any] struct{ free []T }

func newBlock[T any](n int) block[T] { return block[T]{free: make([]T, 0, n)} }

func (b *block[T]) take(n int) []T {
	if n > cap(b.free)-len(b.free) {
		// More than the section said it holds: a slice of its own.
		return make([]T, n)
	}
	s := b.free[len(b.free) : len(b.free)+n : len(b.free)+n]
	b.free = b.free[:len(b.free)+n]
	return s
}

func (b *block[T]) one() *T { return &b.take(1)[0] }
