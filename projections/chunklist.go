package projections

// chunkList is an append-only list stored in fixed-size chunks, for the
// model's ever-growing lists (streams, actors, objects in creation order).
// A flat slice is copied whole each time it grows: at ten million events
// the stream list alone is millions of entries, each growth a copy of all
// of them and the old array left to the collector, and the arrays it
// leaves behind fragment the heap. Full chunks never move, so an append
// costs the same at any size. Only the first chunk starts small and grows
// by doubling (up to a chunk), so that a model of a few objects (an as-of
// fold) does not pay for a whole chunk.
//
// Indices are int32, as the event index stores them.
type chunkList[T any] struct {
	chunks [][]T
	n      int
}

// listChunk is how many entries a full chunk holds (a power of two, so
// that an index splits with a shift and a mask): 16,384, a MiB of stream
// states or 128 KiB of pointers.
const (
	listChunkBits = 14
	listChunk     = 1 << listChunkBits
	listFirst     = 16 // the first chunk's first capacity
)

// chunkListOf lists s without copying it: its chunks are windows of s
// with their capacity clipped, so that appends to the list never write
// into s past a chunk.
func chunkListOf[T any](s []T) chunkList[T] {
	l := chunkList[T]{n: len(s)}
	for i := 0; i < len(s); i += listChunk {
		end := min(i+listChunk, len(s))
		l.chunks = append(l.chunks, s[i:end:end])
	}
	return l
}

// len is the number of entries.
func (l *chunkList[T]) len() int { return l.n }

// at returns the i-th entry (0 <= i < len).
func (l *chunkList[T]) at(i int32) *T {
	return &l.chunks[i>>listChunkBits][i&(listChunk-1)]
}

// get returns the i-th entry's value (0 <= i < len).
func (l *chunkList[T]) get(i int) T {
	return l.chunks[i>>listChunkBits][i&(listChunk-1)]
}

// append adds v at the end and returns its index.
func (l *chunkList[T]) append(v T) int32 {
	i := l.n >> listChunkBits
	if i == len(l.chunks) {
		size := listChunk
		if i == 0 {
			size = listFirst
		}
		l.chunks = append(l.chunks, make([]T, 0, size))
	}
	c := &l.chunks[i]
	if len(*c) == cap(*c) {
		// A chunk not yet full size: the first, or the last of a list made
		// by chunkListOf.
		size := listChunk
		if i == 0 {
			size = min(2*cap(*c), listChunk)
		}
		grown := make([]T, len(*c), size)
		copy(grown, *c)
		*c = grown
	}
	*c = append(*c, v)
	l.n++
	return int32(l.n - 1)
}

// all yields every entry in order.
func (l *chunkList[T]) all(yield func(T) bool) {
	for _, c := range l.chunks {
		for _, v := range c {
			if !yield(v) {
				return
			}
		}
	}
}

// appendTo appends every entry, in order, to dst.
func (l *chunkList[T]) appendTo(dst []T) []T {
	for _, c := range l.chunks {
		dst = append(dst, c...)
	}
	return dst
}

// view is a read-only copy of the list as it is now, to be read without
// the model's lock: full chunks never move and the first chunk, when it
// grows, is copied (the view keeps the old array), so only the chunk list
// is copied, never an entry.
func (l *chunkList[T]) view() chunkList[T] {
	return chunkList[T]{chunks: append([][]T(nil), l.chunks...), n: l.n}
}

// pointers lists a pointer to each element of s, in order.
func pointers[T any](s []T) []*T {
	ps := make([]*T, len(s))
	for i := range s {
		ps[i] = &s[i]
	}
	return ps
}
