package sqlite_test

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/partnercenter/multichannel/eventstore"
	"github.com/partnercenter/multichannel/eventstore/sqlite"
)

// schemaV1 is the schema version-1 files were written with, events_id
// included.
const schemaV1 = `
CREATE TABLE events (
    seq      INTEGER PRIMARY KEY,
    stream   TEXT    NOT NULL,
    revision INTEGER NOT NULL,
    id       BLOB    NOT NULL,
    type     TEXT    NOT NULL,
    data     BLOB    NOT NULL,
    metadata BLOB    NOT NULL,
    UNIQUE (stream, revision)
);
CREATE INDEX events_id ON events (id);
PRAGMA user_version = 1;
`

// writeV1 writes a version-1 file at path holding evs in stream, at
// revisions 0, 1, ...
func writeV1(t *testing.T, path, stream string, evs []eventstore.EventData) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(schemaV1); err != nil {
		t.Fatalf("v1 schema: %v", err)
	}
	for i, ev := range evs {
		if _, err := db.Exec(`INSERT INTO events (stream, revision, id, type, data, metadata) VALUES (?, ?, ?, ?, ?, ?)`,
			stream, i, ev.ID[:], ev.Type, ev.Data, ev.Metadata); err != nil {
			t.Fatalf("v1 insert: %v", err)
		}
	}
}

// indexes lists the file's index names, SQLite's own included.
func indexes(t *testing.T, path string) []string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT name FROM sqlite_master WHERE type = 'index' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return names
}

// A version-1 file opens as version 2: events_id is gone, the events are
// all there, and an Any retry is still recognised without that index.
func TestOpenMigratesVersion1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.db")
	stream := "v1-stream"
	evs := []eventstore.EventData{event("a"), event("b"), event("c")}
	writeV1(t, path, stream, evs)

	ro, err := sqlite.OpenReadOnly(path)
	if err != nil {
		t.Fatalf("read-only open of a version-1 file: %v", err)
	}
	ro.Close()

	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatalf("open version-1 file: %v", err)
	}
	defer s.Close()
	if v, err := sqlite.WriterPragma(s, "user_version"); err != nil || v != 2 {
		t.Fatalf("user_version after open = %d, %v; want 2", v, err)
	}
	ctx := t.Context()
	got, err := s.ReadStream(ctx, stream, eventstore.Forwards, 0, 10)
	if err != nil || len(got) != len(evs) {
		t.Fatalf("stream after migration: %d events, %v; want %d", len(got), err, len(evs))
	}
	for i, ev := range got {
		if ev.ID != evs[i].ID || ev.Revision != uint64(i) {
			t.Fatalf("event %d after migration = %s at %d; want %s at %d", i, ev.ID, ev.Revision, evs[i].ID, i)
		}
	}
	res, err := s.Append(ctx, stream, eventstore.Any(), evs[1:]...)
	if err != nil || res.NextRevision != 2 || res.Position != got[2].Position {
		t.Fatalf("Any retry of revisions 1-2 = %+v, %v; want revision 2 at %+v", res, err, got[2].Position)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, n := range indexes(t, path) {
		if strings.EqualFold(n, "events_id") {
			t.Fatalf("events_id still in the file after migration: %v", indexes(t, path))
		}
	}
}

// A file of a newer schema than the code is refused, and left as it was.
func TestOpenRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(strings.Replace(schemaV1, "user_version = 1", "user_version = 3", 1)); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if s, err := sqlite.Open(path); err == nil {
		s.Close()
		t.Fatal("open of a version-3 file succeeded")
	}
	if len(indexes(t, path)) != 2 {
		t.Fatalf("indexes of the refused file = %v; want both", indexes(t, path))
	}
}

// An Any retry is looked for among the stream's last AnyRetryWindow
// revisions only: past them, the same events are appended again.
func TestAnyRetryWindow(t *testing.T) {
	s, _ := openTemp(t)
	ctx := t.Context()
	stream := "window"
	old := event("old")
	if _, err := s.Append(ctx, stream, eventstore.Any(), old); err != nil {
		t.Fatal(err)
	}
	recent := make([]eventstore.EventData, sqlite.AnyRetryWindow)
	for i := range recent {
		recent[i] = event("recent")
	}
	first, err := s.Append(ctx, stream, eventstore.Any(), recent...)
	if err != nil {
		t.Fatal(err)
	}
	// Head is at revision AnyRetryWindow: recent[0] (revision 1) is the
	// oldest revision still in the window, old (revision 0) is out of it.
	res, err := s.Append(ctx, stream, eventstore.Any(), recent...)
	if err != nil || res != first {
		t.Fatalf("Any retry inside the window = %+v, %v; want %+v", res, err, first)
	}
	res, err = s.Append(ctx, stream, eventstore.Any(), old)
	if err != nil || res.NextRevision != sqlite.AnyRetryWindow+1 {
		t.Fatalf("Any append of an event past the window = %+v, %v; want a new revision %d", res, err, sqlite.AnyRetryWindow+1)
	}
}
