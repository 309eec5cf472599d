package command

import (
	"slices"
	"sync"

	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/partnercenter/multichannel/domain"
)

// WithStreamCache keeps the decoded events of up to size streams in
// memory, so that a mutation folds the streams it needs without reading
// and decoding them again: most mutations read the same few streams (the
// caller's tenant, the customer) that the previous one read.
//
// It is correct only when every append to the store goes through these
// handlers, in this process: the embedded store, which one process holds
// with a file lock. The cache then moves with each append, and an entry
// never lags an acknowledged mutation (a mutation is acknowledged after
// its append, which updated the entry). With a store other processes
// write (EventStoreDB behind several API servers), leave it off: an entry
// could lag another server's acknowledged append, and a rule that reads a
// stream it does not append to (the customer a subscription is recorded
// for) would decide on the older state.
//
// A stale entry cannot cause a lost update: the append after it carries
// the expected revision of the entry, which the store checks; the
// conflict drops the entry, and the retry reads the store.
func WithStreamCache(size int) Option {
	return func(h *Handlers) {
		if size > 0 {
			h.cache = newStreamCache(size)
		}
	}
}

// cachedStream is a stream as far as the cache knows it: its events in
// order (shared by every reader: never changed in place, replaced by a
// longer copy), how many there are, and the hash chained into the last.
type cachedStream struct {
	events   []domain.Event
	version  uint64
	lastHash string
}

type streamCache struct {
	mu  sync.Mutex
	lru *simplelru.LRU[string, cachedStream]
}

func newStreamCache(size int) *streamCache {
	l, err := simplelru.NewLRU[string, cachedStream](size, nil)
	if err != nil {
		panic(err) // only for size <= 0, which WithStreamCache excludes
	}
	return &streamCache{lru: l}
}

func (c *streamCache) get(stream string) (cachedStream, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Get(stream)
}

// put records what a read found. A read can finish after an append that
// went further has updated the entry: the longer stream wins, so that the
// entry never goes back.
func (c *streamCache) put(stream string, s cachedStream) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.lru.Peek(stream); ok && old.version > s.version {
		return
	}
	c.lru.Add(stream, s)
}

// appended records events appended after the version loaded, under the
// expected revision of that version: the entry becomes the loaded events
// followed by them. The loaded state is known to have been the stream's
// whole content, since the store accepted the expected revision.
func (c *streamCache) appended(l loaded, events []domain.Event, lastHash string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if l.version == 0 || l.events == nil {
		// A stream the append created (the handlers do not decode its
		// events back: reading it when a mutation next needs it costs
		// less), or one loaded without keeping its events: nothing to
		// extend, and the entry, which may say it did not exist, goes.
		c.lru.Remove(l.name)
		return
	}
	version := l.version + uint64(len(events))
	if old, ok := c.lru.Peek(l.name); ok && old.version >= version {
		return
	}
	c.lru.Add(l.name, cachedStream{events: slices.Concat(l.events, events), version: version, lastHash: lastHash})
}

// forget drops stream: an append to it failed, and the store may or may
// not hold it (a conflict says the entry is stale; an unconfirmed append
// may have been written).
func (c *streamCache) forget(stream string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lru.Remove(stream)
}
