package projections_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/eventstore"
	"github.com/partnercenter/multichannel/internal/audit"
	"github.com/partnercenter/multichannel/projections"
)

func generated(t testing.TB, n int64, seed uint64) *logStore {
	t.Helper()
	st := newLogStore(t)
	if _, err := audit.Generate(t.Context(), st.Store, n, audit.GenerateOptions{Seed: seed, Workers: 8}); err != nil {
		t.Fatal(err)
	}
	st.reload(t)
	return st
}

func fold(t testing.TB, m *projections.Model, st *logStore, from, to int) {
	t.Helper()
	for _, e := range st.all[from:to] {
		if err := m.Apply(e); err != nil {
			t.Fatal(err)
		}
	}
}

// body is a snapshot file without its header line (which carries the
// time it was written) and its digest line.
func body(t *testing.T, m *projections.Model) []byte {
	t.Helper()
	var b bytes.Buffer
	if _, err := m.WriteSnapshot(&b); err != nil {
		t.Fatal(err)
	}
	s := b.Bytes()
	return s[bytes.IndexByte(s, '\n')+1 : len(s)-72]
}

// TestSnapshotFileRoundTrip: a model loaded from a snapshot taken half-way
// and then folded to the end equals the model folded from position zero:
// the same audit digest, and the same bytes when snapshotted again (which
// covers what the digest leaves out: positions, the index's columns).
func TestSnapshotFileRoundTrip(t *testing.T) {
	t.Parallel()
	st := generated(t, 4000, 1)
	whole := projections.New(nil)
	fold(t, whole, st, 0, len(st.all))

	dir := t.TempDir()
	half := projections.New(nil)
	fold(t, half, st, 0, len(st.all)/2)
	info, err := projections.SaveSnapshot(dir, half)
	if err != nil {
		t.Fatal(err)
	}
	if info.Events == 0 || info.Position != half.Position() {
		t.Fatalf("saved %+v, model at %s", info, half.Position())
	}
	loaded, linfo, err := projections.LoadSnapshot(t.Context(), dir, st, nil, nil)
	if err != nil || loaded == nil {
		t.Fatalf("load: %v %v", loaded, err)
	}
	if linfo.Position != half.Position() || loaded.Position() != half.Position() {
		t.Fatalf("loaded at %s, want %s", loaded.Position(), half.Position())
	}
	fold(t, loaded, st, len(st.all)/2, len(st.all))
	_, want := whole.Digest()
	if _, got := loaded.Digest(); got != want {
		t.Fatalf("digest %s, folded from zero %s: %v", got, want,
			projections.DiffSnapshots(whole.Snapshot(), loaded.Snapshot(), 5))
	}
	if !bytes.Equal(body(t, whole), body(t, loaded)) {
		t.Fatal("same digest, different snapshot bytes")
	}

	// Only the newest two are kept.
	for i := range 3 {
		fold(t, half, st, len(st.all)/2+i, len(st.all)/2+i+1)
		if _, err := projections.SaveSnapshot(dir, half); err != nil {
			t.Fatal(err)
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "snapshot-*"))
	if len(files) != 2 {
		t.Fatalf("%d snapshot files kept: %v", len(files), files)
	}
}

// TestSnapshotFileIgnored: a snapshot that is corrupt, of another log, of
// a log cut short or of another format version is passed over with a log
// line, and LoadSnapshot falls back to the older valid one or to none.
func TestSnapshotFileIgnored(t *testing.T) {
	t.Parallel()
	st := generated(t, 2000, 2)
	other := generated(t, 2000, 3)
	m := projections.New(nil)
	fold(t, m, st, 0, 1000)

	save := func(t *testing.T) string {
		dir := t.TempDir()
		info, err := projections.SaveSnapshot(dir, m)
		if err != nil {
			t.Fatal(err)
		}
		return info.Path
	}
	load := func(t *testing.T, path string, store *logStore) (*projections.Model, string) {
		t.Helper()
		var logged bytes.Buffer
		got, _, err := projections.LoadSnapshot(t.Context(), filepath.Dir(path), store, nil,
			slog.New(slog.NewTextHandler(&logged, nil)))
		if err != nil {
			t.Fatal(err)
		}
		return got, logged.String()
	}
	// rewrite changes the file's bytes and, with reseal, its digest line too.
	rewrite := func(t *testing.T, path string, change func([]byte) []byte, reseal bool) {
		t.Helper()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		content := change(bytes.Clone(b[:len(b)-72]))
		trailer := b[len(b)-72:]
		if reseal {
			sum := sha256.Sum256(content)
			trailer = []byte("sha256 " + hex.EncodeToString(sum[:]) + "\n")
		}
		if err := os.WriteFile(path, append(content, trailer...), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("valid", func(t *testing.T) {
		if got, logged := load(t, save(t), st); got == nil || logged != "" {
			t.Fatalf("a valid snapshot was not loaded: %s", logged)
		}
	})
	t.Run("corrupt", func(t *testing.T) {
		path := save(t)
		rewrite(t, path, func(b []byte) []byte { b[len(b)/2] ^= 1; return b }, false)
		if got, logged := load(t, path, st); got != nil || !strings.Contains(logged, "corrupt") {
			t.Fatalf("corrupt snapshot: model %v, log %q", got != nil, logged)
		}
	})
	t.Run("truncated", func(t *testing.T) {
		path := save(t)
		if err := os.Truncate(path, 1000); err != nil {
			t.Fatal(err)
		}
		if got, logged := load(t, path, st); got != nil || !strings.Contains(logged, "ignored") {
			t.Fatalf("truncated snapshot: model %v, log %q", got != nil, logged)
		}
	})
	t.Run("other log", func(t *testing.T) {
		path := save(t)
		if got, logged := load(t, path, other); got != nil || !strings.Contains(logged, "another log") {
			t.Fatalf("another log's snapshot: model %v, log %q", got != nil, logged)
		}
	})
	t.Run("log cut short", func(t *testing.T) {
		path := save(t)
		// The same first 500 events, one append each: the same positions.
		short := newLogStore(t)
		for _, e := range st.all[:500] {
			if _, err := short.Append(t.Context(), e.Stream, eventstore.Any(), eventstore.EventData{ID: e.ID, Type: e.Type, Data: e.Data, Metadata: e.Metadata}); err != nil {
				t.Fatal(err)
			}
		}
		if got, logged := load(t, path, short); got != nil || !strings.Contains(logged, "cut short") {
			t.Fatalf("snapshot past the log's end: model %v, log %q", got != nil, logged)
		}
	})
	t.Run("old version", func(t *testing.T) {
		path := save(t)
		rewrite(t, path, func(b []byte) []byte {
			return bytes.Replace(b, []byte(fmt.Sprintf(`"version":%d`, projections.SnapshotVersion)), []byte(`"version":0`), 1)
		}, true)
		if got, logged := load(t, path, st); got != nil || !strings.Contains(logged, "format version 0") {
			t.Fatalf("old version: model %v, log %q", got != nil, logged)
		}
	})
	t.Run("falls back to an older one", func(t *testing.T) {
		dir := t.TempDir()
		if _, err := projections.SaveSnapshot(dir, m); err != nil {
			t.Fatal(err)
		}
		newer := projections.New(nil)
		fold(t, newer, st, 0, 1500)
		info, err := projections.SaveSnapshot(dir, newer)
		if err != nil {
			t.Fatal(err)
		}
		rewrite(t, info.Path, func(b []byte) []byte { b[len(b)-10] ^= 1; return b }, false)
		got, logged := load(t, info.Path, st)
		if got == nil || got.Position() != m.Position() || !strings.Contains(logged, "corrupt") {
			t.Fatalf("fallback: model %v, log %q", got != nil, logged)
		}
	})
}

// TestSnapshotRestoresTheEventsIndex: the per-tenant index of `events` is
// not in a snapshot but rebuilt from the restored state, so a model
// started from a snapshot pages every caller's events exactly as a model
// folded from zero, before and after the rest of the log is folded.
func TestSnapshotRestoresTheEventsIndex(t *testing.T) {
	t.Parallel()
	st := generated(t, 3000, 2)
	half := projections.New(nil)
	fold(t, half, st, 0, len(st.all)/2)
	dir := t.TempDir()
	if _, err := projections.SaveSnapshot(dir, half); err != nil {
		t.Fatal(err)
	}
	loaded, _, err := projections.LoadSnapshot(t.Context(), dir, st, nil, nil)
	if err != nil || loaded == nil {
		t.Fatalf("load: %v %v", loaded, err)
	}
	var viewers []domain.Actor
	seen := map[uuid.UUID]bool{}
	for _, e := range st.all {
		cat, id, _ := domain.SplitStream(e.Stream)
		if (cat == domain.CategoryPartner || cat == domain.CategoryCustomer) && !seen[id] && len(viewers) < 12 {
			seen[id] = true
			viewers = append(viewers, domain.Actor{UserID: "u", TenantID: id, Role: domain.RoleSalesAgent})
		}
	}
	check := func(stage string) {
		for _, v := range viewers {
			got, err := loaded.EventsIndexed(v, projections.EventFilter{}, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := loaded.EventsScanned(v, projections.EventFilter{}, nil, nil)
			got.Examined, want.Examined = 0, 0
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("%s: %s: index %v, scan %v", stage, v.TenantID, got, want)
			}
		}
	}
	check("restored")
	fold(t, loaded, st, len(st.all)/2, len(st.all))
	check("folded after the snapshot")
}

// TestSnapshotFileDamagedBody: a body damaged under a valid digest (a
// writer's bug, or a file edited and resealed) is refused as invalid or
// loaded, never a panic: every count, length and index the decoder reads
// is checked before it is used. Bytes are flipped and zeroed across the
// whole body, and the body is cut short at many places, for a model with
// every kind of object and for one with customers but no subscription or
// relationship yet (whose lists have nothing to point at).
func TestSnapshotFileDamagedBody(t *testing.T) {
	t.Parallel()
	st := generated(t, 1500, 4)
	full := projections.New(nil)
	fold(t, full, st, 0, len(st.all))
	early := projections.New(nil)
	for _, e := range st.all {
		if cat, _, _ := domain.SplitStream(e.Stream); cat != domain.CategoryPartner && cat != domain.CategoryCustomer {
			break
		}
		fold(t, early, st, early.EventCount(), early.EventCount()+1)
	}
	if early.EventCount() == 0 {
		t.Fatal("the log does not begin with partners and customers")
	}
	for name, m := range map[string]*projections.Model{"full": full, "no subscriptions": early} {
		t.Run(name, func(t *testing.T) { damageBodies(t, m) })
	}
}

func damageBodies(t *testing.T, m *projections.Model) {
	var b bytes.Buffer
	if _, err := m.WriteSnapshot(&b); err != nil {
		t.Fatal(err)
	}
	file := b.Bytes()
	bodyStart := bytes.IndexByte(file, '\n') + 1
	content := file[:len(file)-72]
	reseal := func(c []byte) []byte {
		sum := sha256.Sum256(c)
		return append(c, []byte("sha256 "+hex.EncodeToString(sum[:])+"\n")...)
	}
	load := func(what string, damaged []byte) {
		t.Helper()
		f := reseal(damaged)
		got, _, err := projections.ReadSnapshot(bytes.NewReader(f), int64(len(f)), nil)
		if err != nil && !errors.Is(err, projections.ErrSnapshotInvalid) {
			t.Fatalf("%s: %v, not ErrSnapshotInvalid", what, err)
		}
		if err == nil && got == nil {
			t.Fatalf("%s: no model and no error", what)
		}
	}
	step := 1 // every byte of a small body, 300 places of a large one
	if n := len(content) - bodyStart; n > 16<<10 {
		step = n / 300
	}
	for off := bodyStart; off < len(content); off += step {
		for _, change := range []func(byte) byte{func(v byte) byte { return v ^ 0x80 }, func(v byte) byte { return v + 1 }, func(v byte) byte { return v + 2 }, func(byte) byte { return 0 }, func(byte) byte { return 0xff }} {
			c := bytes.Clone(content)
			c[off] = change(c[off])
			load(fmt.Sprintf("byte %d changed", off), c)
		}
		load(fmt.Sprintf("cut at %d", off), bytes.Clone(content[:off]))
	}
}
