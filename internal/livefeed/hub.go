package livefeed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/sync/singleflight"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/eventstore"
	"github.com/partnercenter/multichannel/projections"
)

// Hub serves every live feed of a server from one reader of the log.
//
// One tail follows the log's head and hands each new event, decoded once,
// to every feed that is live. A feed that starts behind the head (after a
// position) catches up first, page by page, through a cache shared by all
// feeds: a thousand feeds from "0-0" read each page of the log once, not a
// thousand times. Once a feed has caught up to the tail it joins it. A
// feed whose client does not keep up (its buffer full) leaves the tail
// and catches up again from the last event it took, so that one slow
// client never holds up the others, and what it holds is bounded by its
// buffer.
//
// The order is the log's, with no gap and no duplicate: a feed joins the
// tail only when it has taken every event up to the tail's head, and the
// tail skips the events a feed already has.
type Hub struct {
	store Log
	model ReadModel

	pages *lru.Cache[eventstore.Position, []*projections.Event]
	group singleflight.Group
	reads chan struct{} // bounds the store reads of catch-ups in flight

	// The tail starts with the first feed, from the read models' position
	// then: started at the server's start it would read the whole log
	// while the read models rebuild.
	start sync.Once
	wake  chan struct{}

	mu   sync.Mutex
	head eventstore.Position // the last event the tail handed out
	live map[*follower]struct{}
}

// Hub sizes. A page of ~1 KB events is ~256 KB; the cache holds the pages
// that feeds catching up together are reading.
const (
	pageSize     = 256
	cachedPages  = 64
	storeReads   = 4
	followBuffer = 64
)

// NewHub returns a Hub over store, judging visibility by model. Run
// runs its tail, from the first Follow on.
func NewHub(store Log, model ReadModel) *Hub {
	pages, _ := lru.New[eventstore.Position, []*projections.Event](cachedPages)
	return &Hub{
		store: store, model: model, pages: pages,
		reads: make(chan struct{}, storeReads),
		wake:  make(chan struct{}),
		live:  map[*follower]struct{}{},
	}
}

// follower is one feed.
type follower struct {
	viewer domain.Actor
	filter projections.EventFilter
	ch     chan *projections.Event
	// last is the position of the last event the feed has passed (taken,
	// or not its to take). Under Hub.mu while the feed is live; its own
	// goroutine's while it catches up.
	last eventstore.Position
	// behind is closed when the tail drops the feed for not keeping up.
	behind chan struct{}
}

// Run follows the log's head until ctx ends, resubscribing after a store
// failure.
func (h *Hub) Run(ctx context.Context) {
	select {
	case <-h.wake:
	case <-ctx.Done():
		return
	}
	wait := 50 * time.Millisecond
	for ctx.Err() == nil {
		h.mu.Lock()
		from := h.head
		h.mu.Unlock()
		err := h.store.SubscribeAll(ctx, from, h.publish(ctx))
		if ctx.Err() != nil {
			return
		}
		slog.Warn("live feed: tail stopped; resubscribing", "err", err, "retry_in", wait.String())
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

func (h *Hub) publish(ctx context.Context) func(eventstore.RecordedEvent) error {
	return func(e eventstore.RecordedEvent) error {
		// Visibility is judged by the read models, which must have applied
		// the event first (a customer onboarded by this very event makes
		// its stream visible to the partner).
		if err := h.model.WaitFor(ctx, e.Position); err != nil {
			return err
		}
		ev, err := h.model.EventView(e)
		if err != nil {
			return err
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		h.head = e.Position
		for f := range h.live {
			if !f.last.Less(e.Position) {
				continue // it has it from its catch-up
			}
			if !h.model.StreamVisible(f.viewer, ev.Stream) || !Matches(f.filter, ev) {
				f.last = e.Position
				continue
			}
			select {
			case f.ch <- &ev:
				f.last = e.Position
			default:
				// Its client does not keep up: it catches up from f.last.
				delete(h.live, f)
				close(f.behind)
			}
		}
		return nil
	}
}

// Follow starts a feed for viewer v, as the package's Follow does, served
// by the hub. The channel closes when ctx ends or the store fails.
func (h *Hub) Follow(ctx context.Context, v domain.Actor, f projections.EventFilter, after *string) (<-chan *projections.Event, error) {
	start := h.model.Position()
	if after != nil {
		p, err := eventstore.ParsePosition(*after)
		if err != nil {
			return nil, domain.Errorf(domain.CodeBadUserInput, "after is not a position this server issued")
		}
		start = p
	}
	h.start.Do(func() {
		h.mu.Lock()
		h.head = h.model.Position()
		h.mu.Unlock()
		close(h.wake)
	})
	fl := &follower{viewer: v, filter: f, ch: make(chan *projections.Event, followBuffer), last: start}
	go h.serve(ctx, fl)
	return fl.ch, nil
}

func (h *Hub) serve(ctx context.Context, f *follower) {
	defer func() {
		h.mu.Lock()
		delete(h.live, f)
		close(f.ch)
		h.mu.Unlock()
	}()
	for {
		behind, err := h.catchUp(ctx, f)
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, context.Canceled) {
				slog.WarnContext(ctx, "live feed stopped", "err", err)
			}
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-behind:
		}
	}
}

// catchUp hands f the events after f.last up to the tail's head, then
// makes it live; it returns the channel closed if the tail drops it.
func (h *Hub) catchUp(ctx context.Context, f *follower) (<-chan struct{}, error) {
	for {
		h.mu.Lock()
		if !f.last.Less(h.head) {
			f.behind = make(chan struct{})
			h.live[f] = struct{}{}
			behind := f.behind
			h.mu.Unlock()
			return behind, nil
		}
		h.mu.Unlock()
		page, err := h.page(ctx, f.last)
		if err != nil {
			return nil, err
		}
		if len(page) == 0 {
			// The tail has handed out what the store does not show yet: a
			// store read lagging its own subscription. Look again shortly.
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		if err := h.model.WaitFor(ctx, page[len(page)-1].Position); err != nil {
			return nil, err
		}
		for _, ev := range page {
			if h.model.StreamVisible(f.viewer, ev.Stream) && Matches(f.filter, *ev) {
				select {
				case f.ch <- ev:
				case <-ctx.Done():
					return nil, ctx.Err()
				}
			}
			f.last = ev.Position
		}
	}
}

// page returns the events after `after`, decoded: from the cache, or read
// once for every feed that asks for it at the same time.
func (h *Hub) page(ctx context.Context, after eventstore.Position) ([]*projections.Event, error) {
	if p, ok := h.pages.Get(after); ok {
		return p, nil
	}
	v, err, _ := h.group.Do(after.String(), func() (any, error) {
		// Not the asking feed's context: it may leave while others wait
		// for the same page. The read itself is bounded by the store.
		h.reads <- struct{}{}
		defer func() { <-h.reads }()
		got, err := h.store.ReadAll(context.WithoutCancel(ctx), after, pageSize)
		if err != nil {
			return nil, fmt.Errorf("live feed: read after %s: %w", after, err)
		}
		page := make([]*projections.Event, len(got))
		for i, e := range got {
			ev, err := h.model.EventView(e)
			if err != nil {
				return nil, err
			}
			page[i] = &ev
		}
		// A short page, read at the log's head, stays true as the log
		// grows: it is a prefix of what follows `after`, and a feed goes on
		// from its end. An empty one would not let a feed move on.
		if len(page) > 0 {
			h.pages.Add(after, page)
		}
		return page, nil
	})
	if err != nil {
		return nil, err
	}
	return v.([]*projections.Event), nil
}
