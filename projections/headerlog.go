package projections

// headerLog is the event index: headers in log order, stored in fixed-size
// chunks. A flat slice would be copied whole each time it grows (tens of
// MB at a million events, and garbage for the collector each time);
// chunks never move once written, so appending costs the same at any size.
type headerLog struct {
	chunks [][]header
	n      int
}

// headerChunk is how many headers a chunk holds (a power of two, so that
// an index splits with a shift and a mask): 65,536 x 56 bytes, 3.5 MiB.
// The first chunk starts at headerFirst and doubles up to a chunk: an
// as-of fold, a model of a few streams' events made for one request, took
// a whole 3.5 MiB chunk for its first header.
const (
	headerChunkBits = 16
	headerChunk     = 1 << headerChunkBits
	headerFirst     = 64
)

// len is the number of headers.
func (l *headerLog) len() int { return l.n }

// at returns the i-th header (0 <= i < len).
func (l *headerLog) at(i int) *header {
	return &l.chunks[i>>headerChunkBits][i&(headerChunk-1)]
}

// append adds h at the end.
func (l *headerLog) append(h header) {
	if l.n&(headerChunk-1) == 0 {
		size := headerChunk
		if l.n == 0 {
			size = headerFirst
		}
		l.chunks = append(l.chunks, make([]header, 0, size))
	}
	c := &l.chunks[len(l.chunks)-1]
	if len(*c) == cap(*c) {
		// The first chunk, not yet full size. A reader's view keeps the
		// old array, which is never written again.
		grown := make([]header, len(*c), min(2*cap(*c), headerChunk))
		copy(grown, *c)
		*c = grown
	}
	*c = append(*c, h)
	l.n++
}
