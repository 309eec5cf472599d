package projections

import (
	"slices"
	"testing"
)

// TestEventsSlabNeighbours: lists handed out side by side never write into
// each other, however far one outgrows its room.
func TestEventsSlabNeighbours(t *testing.T) {
	var s eventsSlab
	a, b := s.take(), s.take()
	b = append(b, 100)
	for i := range int32(5) {
		a = append(a, i)
	}
	b = append(b, 101)
	if !slices.Equal(a, []int32{0, 1, 2, 3, 4}) || !slices.Equal(b, []int32{100, 101}) {
		t.Fatalf("a %v, b %v", a, b)
	}
}
