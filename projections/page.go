package projections

import (
	"strings"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/eventstore"
)

// Cursors are opaque to clients. Each encodes the global position of the
// object's first event (for events, the event's own position), so a page
// continues strictly after it whatever was written since. The prefix tells
// the lists apart: a customers cursor is not a subscriptions cursor.
const (
	cursorCustomer     = "cu:"
	cursorSubscription = "su:"
	cursorRelationship = "re:"
	cursorEvent        = ""
)

const (
	defaultFirst = 20
	maxFirst     = 100
)

type pageReq struct {
	first    int
	after    eventstore.Position
	hasAfter bool
}

// parsePage checks the connection arguments: first in [0, 100] (20 when
// absent) and a cursor of this list's kind.
func parsePage(prefix string, first *int, after *string) (pageReq, error) {
	req := pageReq{first: defaultFirst}
	if first != nil {
		if *first < 0 || *first > maxFirst {
			return pageReq{}, domain.Errorf(domain.CodeBadUserInput, "first must be between 0 and %d, got %d", maxFirst, *first)
		}
		req.first = *first
	}
	if after != nil {
		rest, ok := strings.CutPrefix(*after, prefix)
		var pos eventstore.Position
		var err error
		if ok {
			pos, err = eventstore.ParsePosition(rest)
		}
		if !ok || err != nil || strings.Contains(rest, ":") {
			return pageReq{}, domain.Errorf(domain.CodeBadUserInput, "after: %q is not a cursor of this list", *after)
		}
		req.after, req.hasAfter = pos, true
	}
	return req, nil
}

// pager collects one page while counting every match, in list order.
type pager[T any] struct {
	req       pageReq
	total     int
	before    int // matches at or before the cursor
	more      bool
	items     []T
	positions []eventstore.Position
}

// add counts a match at pos and builds its node only if it is on the page.
func (p *pager[T]) add(pos eventstore.Position, build func() T) {
	p.total++
	if p.req.hasAfter && !p.req.after.Less(pos) {
		p.before++
		return
	}
	if len(p.items) >= p.req.first {
		p.more = true
		return
	}
	p.items = append(p.items, build())
	p.positions = append(p.positions, pos)
}

func (p *pager[T]) info(prefix string) PageInfo {
	info := PageInfo{HasNextPage: p.more, HasPreviousPage: p.before > 0}
	if n := len(p.positions); n > 0 {
		start := prefix + p.positions[0].String()
		end := prefix + p.positions[n-1].String()
		info.StartCursor, info.EndCursor = &start, &end
	}
	return info
}

func comparePos(a, b eventstore.Position) int {
	switch {
	case a.Less(b):
		return -1
	case b.Less(a):
		return 1
	}
	return 0
}
