package projections

import (
	"slices"
	"testing"
)

// TestListSlabNeighbours: lists handed out side by side never write into
// each other, however far one outgrows its room.
func TestListSlabNeighbours(t *testing.T) {
	var s listSlab[int32]
	a, b := s.take(streamEventsRoom), s.take(streamEventsRoom)
	b = append(b, 100)
	for i := range int32(5) {
		a = append(a, i)
	}
	b = append(b, 101)
	if !slices.Equal(a, []int32{0, 1, 2, 3, 4}) || !slices.Equal(b, []int32{100, 101}) {
		t.Fatalf("a %v, b %v", a, b)
	}
}
