package esdbtest

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"

	"github.com/google/uuid"
)

// logFile is the double's log on disk: one frame per write, appended
// before the write is acknowledged. A frame is its payload's length and
// CRC-32C (4 bytes each, little-endian), then the payload: the log position
// after the write, the number of records, and each record's fields.
//
// The file is the only state: reopening it gives the same streams,
// revisions, ids and positions, so clients' checkpoints stay valid across a
// restart. A process killed in mid-write leaves a short last frame; it is
// cut off when the file is opened (that write was never acknowledged).
type logFile struct {
	f     *os.File
	size  int64 // of the good frames
	fsync bool
	buf   []byte
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// frameHeader is the length and the checksum of a frame's payload.
const frameHeader = 8

// openLogFile opens (or makes) path and hands each write it holds to apply,
// in order.
func openLogFile(path string, fsync bool, apply func(next uint64, recs []*doubleEvent)) (*logFile, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("esdbtest: data file: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("esdbtest: data file: %w", err)
	}
	lf := &logFile{f: f, fsync: fsync}
	if err := lf.load(apply); err != nil {
		f.Close()
		return nil, fmt.Errorf("esdbtest: data file %s: %w", path, err)
	}
	return lf, nil
}

func (lf *logFile) load(apply func(next uint64, recs []*doubleEvent)) error {
	st, err := lf.f.Stat()
	if err != nil {
		return err
	}
	r := bufio.NewReaderSize(lf.f, 1<<20)
	var off int64
	var head [frameHeader]byte
	for {
		if _, err := io.ReadFull(r, head[:]); err != nil {
			if errors.Is(err, io.EOF) {
				break // the end, on a frame boundary
			}
			if errors.Is(err, io.ErrUnexpectedEOF) {
				break // a torn header
			}
			return err
		}
		n := int64(binary.LittleEndian.Uint32(head[:4]))
		if off+frameHeader+n > st.Size() {
			break // a torn payload
		}
		// A fresh buffer per frame: the records keep slices of it.
		payload := make([]byte, n)
		if _, err := io.ReadFull(r, payload); err != nil {
			return err
		}
		last := off+frameHeader+n == st.Size()
		if crc32.Checksum(payload, castagnoli) != binary.LittleEndian.Uint32(head[4:]) {
			if last {
				break // the last write, not all on disk
			}
			return fmt.Errorf("a damaged record at offset %d, with more after it", off)
		}
		next, recs, err := decodeFrame(payload)
		if err != nil {
			return fmt.Errorf("record at offset %d: %w", off, err)
		}
		apply(next, recs)
		off += frameHeader + n
	}
	if off < st.Size() {
		if err := lf.f.Truncate(off); err != nil {
			return err
		}
	}
	if _, err := lf.f.Seek(off, io.SeekStart); err != nil {
		return err
	}
	lf.size = off
	return nil
}

// write adds one write's records; on failure the file is cut back to where
// it was, so a later write does not follow a torn one.
func (lf *logFile) write(next uint64, recs []*doubleEvent) error {
	p := lf.buf[:0]
	p = append(p, make([]byte, frameHeader)...)
	p = binary.AppendUvarint(p, next)
	p = binary.AppendUvarint(p, uint64(len(recs)))
	for _, e := range recs {
		p = append(p, e.id[:]...)
		p = appendBytes(p, []byte(e.stream))
		p = binary.AppendUvarint(p, e.revision)
		p = binary.AppendUvarint(p, e.commit)
		p = binary.AppendUvarint(p, e.prepare)
		p = appendBytes(p, []byte(e.typ))
		json := byte(0)
		if e.json {
			json = 1
		}
		p = append(p, json)
		p = binary.AppendVarint(p, e.created)
		p = appendBytes(p, e.data)
		p = appendBytes(p, e.meta)
	}
	binary.LittleEndian.PutUint32(p[:4], uint32(len(p)-frameHeader))
	binary.LittleEndian.PutUint32(p[4:8], crc32.Checksum(p[frameHeader:], castagnoli))
	lf.buf = p
	_, err := lf.f.Write(p)
	if err == nil && lf.fsync {
		err = lf.f.Sync()
	}
	if err != nil {
		if terr := lf.f.Truncate(lf.size); terr == nil {
			_, _ = lf.f.Seek(lf.size, io.SeekStart)
		}
		return err
	}
	lf.size += int64(len(p))
	return nil
}

func (lf *logFile) close() error {
	return lf.f.Close()
}

func appendBytes(p, b []byte) []byte {
	p = binary.AppendUvarint(p, uint64(len(b)))
	return append(p, b...)
}

// decodeFrame reads a payload written by write.
func decodeFrame(p []byte) (next uint64, recs []*doubleEvent, err error) {
	d := decoder{p: p}
	next = d.uvarint()
	n := d.uvarint()
	if n > uint64(len(p)) {
		return 0, nil, errors.New("bad record count")
	}
	recs = make([]*doubleEvent, 0, n)
	for range n {
		e := &doubleEvent{}
		copy(e.id[:], d.take(len(uuid.UUID{})))
		e.stream = string(d.bytes())
		e.revision = d.uvarint()
		e.commit = d.uvarint()
		e.prepare = d.uvarint()
		e.typ = string(d.bytes())
		flag := d.take(1)
		e.json = len(flag) == 1 && flag[0] == 1
		e.created = d.varint()
		e.data = d.bytes()
		e.meta = d.bytes()
		recs = append(recs, e)
	}
	if d.err != nil {
		return 0, nil, d.err
	}
	if d.i != len(p) {
		return 0, nil, errors.New("trailing bytes")
	}
	return next, recs, nil
}

type decoder struct {
	p   []byte
	i   int
	err error
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = errors.New("truncated record")
	}
	d.i = len(d.p)
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.p[d.i:])
	if n <= 0 {
		d.fail()
		return 0
	}
	d.i += n
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.p[d.i:])
	if n <= 0 {
		d.fail()
		return 0
	}
	d.i += n
	return v
}

func (d *decoder) take(n int) []byte {
	if n < 0 || len(d.p)-d.i < n {
		d.fail()
		return nil
	}
	b := d.p[d.i : d.i+n : d.i+n]
	d.i += n
	return b
}

// bytes is a length-prefixed byte string.
func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if n > uint64(len(d.p)-d.i) {
		d.fail()
		return nil
	}
	if n == 0 {
		return nil
	}
	return d.take(int(n))
}
