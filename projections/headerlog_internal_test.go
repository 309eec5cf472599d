package projections

import "testing"

// TestHeaderLogStartsSmall: a log of a few headers holds a few, not a
// chunk's worth (an as-of fold makes one per request); past the first
// chunk every header is still where at finds it, and views taken before
// the first chunk grew still read what they saw.
func TestHeaderLogStartsSmall(t *testing.T) {
	var l headerLog
	for i := range 10 {
		l.append(header{rev: uint64(i)})
	}
	if c := cap(l.chunks[0]); c >= headerChunk {
		t.Fatalf("10 headers hold a first chunk of %d", c)
	}
	early := headerView{chunks: append([][]header(nil), l.chunks...), n: l.len()}
	n := 3*headerChunk + 17
	for i := 10; i < n; i++ {
		l.append(header{rev: uint64(i)})
	}
	if l.len() != n || len(l.chunks) != 4 || cap(l.chunks[0]) != headerChunk {
		t.Fatalf("%d headers in %d chunks, the first of %d", l.len(), len(l.chunks), cap(l.chunks[0]))
	}
	for i := range n {
		if got := l.at(i).rev; got != uint64(i) {
			t.Fatalf("header %d holds %d", i, got)
		}
	}
	for i := range early.n {
		if got := early.chunks[0][i].rev; got != uint64(i) {
			t.Fatalf("an early view's header %d holds %d", i, got)
		}
	}
}
