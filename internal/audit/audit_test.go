package audit_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/eventstore"
	"github.com/partnercenter/multichannel/eventstore/sqlite"
	"github.com/partnercenter/multichannel/internal/audit"
	"github.com/partnercenter/multichannel/projections"
)

// newLog generates a log of n events in a fresh embedded store file and
// returns the file's path, the store closed.
func newLog(t *testing.T, n int64) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "events.db")
	st, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := audit.Generate(context.Background(), st, n, audit.GenerateOptions{Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	if got != n {
		t.Fatalf("generated %d events, want %d", got, n)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func openRO(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	st, err := sqlite.OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func verify(t *testing.T, st eventstore.Store, opts audit.VerifyOptions) *audit.Report {
	t.Helper()
	rep, err := audit.Verify(context.Background(), st, opts)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestGeneratedLogVerifiesAndReplays(t *testing.T) {
	path := newLog(t, 3000)
	st := openRO(t, path)
	rep := verify(t, st, audit.VerifyOptions{})
	if !rep.Intact() || rep.EventCount != 3000 || rep.IntactCount != rep.StreamCount || rep.StreamCount < 500 {
		t.Fatalf("report %+v", rep)
	}
	m := projections.New(nil)
	res, err := audit.Replay(context.Background(), st, m, audit.ReplayOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Events != 3000 || res.Position != rep.Position || m.Position() != rep.Position {
		t.Fatalf("replay %+v, report position %s", res, rep.Position)
	}
	snap := m.Snapshot()
	if len(snap.Partners) == 0 || len(snap.Customers) == 0 || len(snap.Subscriptions) == 0 || len(snap.Relationships) == 0 {
		t.Fatalf("generated log lacks objects: %d partners, %d customers, %d subscriptions, %d relationships",
			len(snap.Partners), len(snap.Customers), len(snap.Subscriptions), len(snap.Relationships))
	}
	types := map[string]int{}
	for _, e := range snap.Index {
		types[e.Type]++
	}
	if len(types) < 10 {
		t.Errorf("generated log has %d event types, want the lifecycle's variety: %v", len(types), types)
	}

	// The live path (projections.Run) folds the same model.
	live := projections.New(nil)
	if _, err := audit.ReplayLive(context.Background(), st, live, rep.Position); err != nil {
		t.Fatal(err)
	}
	if d := projections.DiffSnapshots(snap, live.Snapshot(), 5); len(d) > 0 {
		t.Fatalf("live and batch replays differ: %v", d)
	}
	if snap.Digest() != live.Snapshot().Digest() {
		t.Fatal("equal snapshots, different digests")
	}
}

// TestVerifyCatchesEditedBytes edits one event's data in the SQLite file
// behind the store's back and expects verification to name the stream and
// the revision; the untouched file verifies clean before.
func TestVerifyCatchesEditedBytes(t *testing.T) {
	path := newLog(t, 1500)
	clean := func() *audit.Report {
		st, err := sqlite.OpenReadOnly(path)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		return verify(t, st, audit.VerifyOptions{})
	}
	before := clean()
	if !before.Intact() {
		t.Fatalf("untouched store does not verify: %+v", before.Broken)
	}

	// Pick an event in the middle of a stream with several events.
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	var seq int64
	var stream string
	var rev int64
	var data []byte
	err = db.QueryRow(`SELECT seq, stream, revision, data FROM events WHERE revision = 1 AND type = 'RelationshipAccepted' LIMIT 1`).
		Scan(&seq, &stream, &rev, &data)
	if err != nil {
		t.Fatal(err)
	}
	prefixBefore := func() *audit.Report {
		st, err := sqlite.OpenReadOnly(path)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		return verify(t, st, audit.VerifyOptions{UpToCount: seq - 1})
	}()
	// Change one hex digit of the relationship id: still valid JSON, same
	// length, a different fact.
	edited := bytes.Clone(data)
	i := bytes.Index(edited, []byte(`"relationshipId":"`)) + len(`"relationshipId":"`)
	if edited[i] == 'a' {
		edited[i] = 'b'
	} else {
		edited[i] = 'a'
	}
	if _, err := db.Exec(`UPDATE events SET data = ? WHERE seq = ?`, edited, seq); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	after := clean()
	if after.Intact() || after.BrokenCount != 1 || len(after.Broken) != 1 {
		t.Fatalf("edited store: %+v", after)
	}
	b := after.Broken[0]
	if b.Stream != stream || b.FirstBrokenRevision == nil || *b.FirstBrokenRevision != uint64(rev) || b.Reason != audit.ReasonMismatch {
		t.Fatalf("broken %+v, want %s@%d", b, stream, rev)
	}
	if after.IntactCount != before.StreamCount-1 || after.EventCount != before.EventCount {
		t.Fatalf("counts: before %+v, after %+v", before, after)
	}
	// The digest covers content: it changes from the edited event on, not
	// before it.
	if after.Digest == before.Digest {
		t.Fatal("digest did not change with the content")
	}
	// seq is the event's 1-based place in the log (the file has no gaps).
	st := openRO(t, path)
	prefixAfter := verify(t, st, audit.VerifyOptions{UpToCount: seq - 1})
	if prefixAfter.Digest != prefixBefore.Digest || !prefixAfter.Intact() {
		t.Fatal("the prefix before the edit should verify and digest as before")
	}
}

// TestDigestStableAfterAppends: a digest (n, D_n) taken earlier is still
// what the first n events hash to after more appends, and the report says
// the log extends it; a different digest does not match.
func TestDigestStableAfterAppends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.db")
	st, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	if _, err := audit.Generate(ctx, st, 800, audit.GenerateOptions{}); err != nil {
		t.Fatal(err)
	}
	early := verify(t, st, audit.VerifyOptions{})
	saved := early.Digest.String()
	if !strings.HasPrefix(saved, "800:") {
		t.Fatalf("digest %q", saved)
	}
	parsed, err := audit.ParseDigest(saved)
	if err != nil || parsed != early.Digest {
		t.Fatalf("parse %q: %v %v", saved, parsed, err)
	}

	more, err := audit.Generate(ctx, st, 300, audit.GenerateOptions{AllowNonEmpty: true})
	if err != nil {
		t.Fatal(err)
	}
	late := verify(t, st, audit.VerifyOptions{Expected: &parsed})
	if late.EventCount != 800+int64(more) || late.ExtendsExpected == nil || !*late.ExtendsExpected || !late.Intact() {
		t.Fatalf("late report %+v", late)
	}
	prefix := verify(t, st, audit.VerifyOptions{UpToCount: 800})
	if prefix.Digest != early.Digest || prefix.Position != early.Position {
		t.Fatalf("digest of the first 800 changed: %s vs %s", prefix.Digest, early.Digest)
	}
	wrong := parsed
	wrong.Sum[0] ^= 1
	if r := verify(t, st, audit.VerifyOptions{Expected: &wrong}); r.ExtendsExpected == nil || *r.ExtendsExpected {
		t.Fatal("a wrong digest must not match")
	}
	longer := parsed
	longer.Count = 1 << 40
	if r := verify(t, st, audit.VerifyOptions{Expected: &longer}); r.ExtendsExpected == nil || *r.ExtendsExpected {
		t.Fatal("a digest of more events than the log has must not match")
	}
	// An expected digest beyond UpToCount is still checked.
	if r := verify(t, st, audit.VerifyOptions{UpToCount: 10, Expected: &parsed}); r.EventCount != 10 || !*r.ExtendsExpected {
		t.Fatalf("upTo 10 with the 800 digest: %+v", r)
	}
	if _, err := audit.ParseDigest("12:abc"); !errors.Is(err, audit.ErrBadDigest) {
		t.Fatalf("bad digest: %v", err)
	}
}

func mustV7(t *testing.T) uuid.UUID {
	t.Helper()
	id, err := uuid.NewV7()
	if err != nil {
		t.Fatal(err)
	}
	return id
}
