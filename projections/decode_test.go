package projections_test

import (
	"reflect"
	"testing"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/internal/audit"
	"github.com/partnercenter/multichannel/projections"
)

// TestDecodeEvent: the fast decoder has an entry for every event type the
// fold knows, and decodes every event of a generated log (every type, as
// the command side writes them) exactly as domain.DecodeEvent does.
func TestDecodeEvent(t *testing.T) {
	for _, typ := range projections.EventTypes() {
		if !projections.HasFastDecoder(typ) {
			t.Errorf("no fast decoder for %s", typ)
		}
	}
	st := newLogStore(t)
	if _, err := audit.Generate(t.Context(), st.Store, 5000, audit.GenerateOptions{Seed: 3}); err != nil {
		t.Fatal(err)
	}
	st.reload(t)
	seen := map[string]int{}
	for _, e := range st.all {
		md, err := domain.DecodeMetadata(e.Metadata)
		if err != nil {
			t.Fatal(err)
		}
		fast, fastPath, err := projections.DecodeEventFast(e.Type, md.SchemaVersion, e.Data)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := domain.DecodeEvent(e.Type, md.SchemaVersion, e.Data)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(fast, ref) {
			t.Fatalf("%s %s: fast %#v, reference %#v", e.Type, e.Data, fast, ref)
		}
		if fastPath {
			seen[e.Type]++
		}
	}
	for _, typ := range projections.EventTypes() {
		if seen[typ] == 0 {
			t.Errorf("no %s of the generated log took the fast path", typ)
		}
	}
}

// BenchmarkDecodeEvent decodes the payloads of a generated log with the
// fast path and with domain.DecodeEvent, in one run:
//
//	go test -run '^$' -bench DecodeEvent -count 3 ./projections/
func BenchmarkDecodeEvent(b *testing.B) {
	st := newLogStore(b)
	if _, err := audit.Generate(b.Context(), st.Store, 20000, audit.GenerateOptions{Seed: 3}); err != nil {
		b.Fatal(err)
	}
	st.reload(b)
	for _, c := range []struct {
		name   string
		decode func(string, int, []byte) (domain.Event, error)
	}{
		{"fast", projections.DecodeEvent},
		{"reference", domain.DecodeEvent},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				for _, e := range st.all {
					if _, err := c.decode(e.Type, 1, e.Data); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(st.all)), "ns/event")
		})
	}
}
