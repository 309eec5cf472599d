package projections

import (
	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
)

// streamIndex finds a stream's index in streamList by its name. The fold
// looks a stream up for every event, so the common case avoids hashing
// and comparing the name: a name of the form the domain writes
// (category-id, the id in lower case) stands for its category and id one
// to one, and is keyed by those, 17 bytes held in the map itself (no
// pointer for the collector to follow, nothing to dereference to compare).
// Any other name the fold takes (an id in upper case, which uuid.Parse
// accepts) is keyed by the name itself, in a map of its own.
type streamIndex struct {
	byKey  map[streamKey]int32
	byName map[string]int32 // names not of the domain's form; nil until one
}

type streamKey struct {
	id  uuid.UUID
	cat category
}

func newStreamIndex(n int) streamIndex {
	return streamIndex{byKey: make(map[streamKey]int32, n)}
}

// streamRef is a stream name, parsed for the index: its category and id,
// and whether the name has the domain's form, so that the key stands for
// it.
type streamRef struct {
	key   streamKey
	keyed bool
}

// refOf parses a stream name for the index. A name outside the four
// categories is keyed by name (the fold never takes one; readers may ask).
func refOf(name string) streamRef {
	catName, id, ok := domain.SplitStream(name)
	if !ok {
		return streamRef{}
	}
	return refParsed(name, categoryOf(catName), id)
}

// refParsed is refOf for a name SplitStream has already parsed into cat
// and id.
func refParsed(name string, cat category, id uuid.UUID) streamRef {
	return streamRef{key: streamKey{id: id, cat: cat}, keyed: cat != catOther && lowerID(name)}
}

// lowerID reports whether the 36 characters ending name, an id that
// uuid.Parse took, hold no upper-case hex digit: then the name is the
// one domain's stream functions write for its category and id.
func lowerID(name string) bool {
	for i := len(name) - 36; i < len(name); i++ {
		if c := name[i]; 'A' <= c && c <= 'F' {
			return false
		}
	}
	return true
}

// get finds the stream name, parsed as r.
func (x *streamIndex) get(name string, r *streamRef) (int32, bool) {
	if r.keyed {
		si, ok := x.byKey[r.key]
		return si, ok
	}
	si, ok := x.byName[name]
	return si, ok
}

// lookup finds a stream by name, for the readers.
func (x *streamIndex) lookup(name string) (int32, bool) {
	r := refOf(name)
	return x.get(name, &r)
}

// put indexes the stream name, parsed as r, at si.
func (x *streamIndex) put(name string, r *streamRef, si int32) {
	if r.keyed {
		x.byKey[r.key] = si
		return
	}
	if x.byName == nil {
		x.byName = make(map[string]int32)
	}
	x.byName[name] = si
}

// len is the number of streams indexed.
func (x *streamIndex) len() int { return len(x.byKey) + len(x.byName) }
