package projections

import "testing"

// TestChunkListAppend appends across several chunk boundaries: every index
// reads back its value, by at, get, all and appendTo alike.
func TestChunkListAppend(t *testing.T) {
	var l chunkList[int]
	n := 2*listChunk + 5
	for i := range n {
		if got := l.append(i); got != int32(i) {
			t.Fatalf("append %d returned index %d", i, got)
		}
	}
	if l.len() != n || len(l.chunks) != 3 {
		t.Fatalf("len %d in %d chunks, want %d in 3", l.len(), len(l.chunks), n)
	}
	for i := range n {
		if *l.at(int32(i)) != i || l.get(i) != i {
			t.Fatalf("entry %d reads %d / %d", i, *l.at(int32(i)), l.get(i))
		}
	}
	i := 0
	for v := range l.all {
		if v != i {
			t.Fatalf("all: entry %d is %d", i, v)
		}
		i++
	}
	if i != n {
		t.Fatalf("all yielded %d entries, want %d", i, n)
	}
	flat := l.appendTo(nil)
	for i, v := range flat {
		if v != i {
			t.Fatalf("appendTo: entry %d is %d", i, v)
		}
	}
	for _, c := range l.chunks[:2] {
		if cap(c) != listChunk {
			t.Fatalf("a full chunk has capacity %d, want %d", cap(c), listChunk)
		}
	}
}

// TestChunkListSmall: a list of a few entries holds a small array, not a
// whole chunk (the as-of folds make models of a few objects).
func TestChunkListSmall(t *testing.T) {
	var l chunkList[int]
	for i := range 3 {
		l.append(i)
	}
	if c := cap(l.chunks[0]); c > listFirst {
		t.Fatalf("3 entries hold capacity %d, want at most %d", c, listFirst)
	}
}

// TestChunkListView: a view keeps what it saw while the list grows, and
// entries it saw do not move (the first chunk is copied when it grows).
func TestChunkListView(t *testing.T) {
	var l chunkList[int]
	for i := range 10 {
		l.append(i)
	}
	v := l.view()
	first := v.at(0)
	for i := range listChunk + 10 {
		l.append(100 + i)
	}
	if v.len() != 10 {
		t.Fatalf("view len %d, want 10", v.len())
	}
	for i := range 10 {
		if *v.at(int32(i)) != i {
			t.Fatalf("view entry %d reads %d", i, *v.at(int32(i)))
		}
	}
	if *first != 0 {
		t.Fatalf("an entry the view handed out changed to %d", *first)
	}
}

// TestChunkListOf: a list over a slice shares it without copying, and
// appending to the list never writes into the slice.
func TestChunkListOf(t *testing.T) {
	backing := make([]int, listChunk+3, listChunk+100)
	for i := range backing {
		backing[i] = i
	}
	l := chunkListOf(backing)
	if l.len() != len(backing) || l.at(5) != &backing[5] || l.at(listChunk+1) != &backing[listChunk+1] {
		t.Fatal("the list does not share the slice")
	}
	l.append(-1)
	if spare := backing[:len(backing)+1]; spare[len(backing)] == -1 {
		t.Fatal("append wrote into the slice past its length")
	}
	if l.get(listChunk+3) != -1 || l.get(listChunk+2) != listChunk+2 || l.len() != listChunk+4 {
		t.Fatalf("after append: len %d, last two %d %d", l.len(), l.get(listChunk+2), l.get(listChunk+3))
	}
	for range 2 * listChunk {
		l.append(0)
	}
	for i, c := range l.chunks[:len(l.chunks)-1] {
		if len(c) != listChunk {
			t.Fatalf("chunk %d holds %d entries, want %d", i, len(c), listChunk)
		}
	}
	if empty := chunkListOf([]int(nil)); empty.len() != 0 || len(empty.chunks) != 0 {
		t.Fatal("a list of nothing has entries")
	}
}
