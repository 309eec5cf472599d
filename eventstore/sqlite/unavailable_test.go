package sqlite_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/partnercenter/multichannel/eventstore"
	"github.com/partnercenter/multichannel/eventstore/sqlite"
)

// bigEvent needs new pages of the file, whatever the free space in the
// pages already there.
func bigEvent(label string) eventstore.EventData {
	ev := event(label)
	ev.Data = []byte(`{"pad":"` + strings.Repeat("x", 256<<10) + `"}`)
	return ev
}

// A file that cannot grow (SQLite's SQLITE_FULL, as on a full disk) is
// ErrUnavailable, writes nothing, and the same store writes again once
// there is room, without a reopen.
func TestFullFileIsUnavailableAndRecovers(t *testing.T) {
	t.Parallel()
	s, _ := openTemp(t)
	ctx := context.Background()
	if _, err := s.Append(ctx, "s-1", eventstore.NoStream(), event("a")); err != nil {
		t.Fatal(err)
	}
	// The file may not grow past the pages it has: SQLite answers
	// SQLITE_FULL for the next page, as the disk would with no space.
	if err := sqlite.ExecOnWriter(s, "PRAGMA max_page_count = 1"); err != nil {
		t.Fatal(err)
	}
	_, err := s.Append(ctx, "s-1", eventstore.Exact(0), bigEvent("b"))
	if !errors.Is(err, eventstore.ErrUnavailable) {
		t.Fatalf("append to a full file: %v, want ErrUnavailable", err)
	}
	if errors.Is(err, eventstore.ErrWrongExpectedRevision) {
		t.Fatalf("a full file is not a conflict: %v", err)
	}
	evs, err := s.ReadStream(ctx, "s-1", eventstore.Forwards, 0, 10)
	if err != nil || len(evs) != 1 {
		t.Fatalf("after the failed append: %d events, %v; want the 1 written before", len(evs), err)
	}
	if err := sqlite.ExecOnWriter(s, "PRAGMA max_page_count = 1073741823"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, "s-1", eventstore.Exact(0), bigEvent("b")); err != nil {
		t.Fatalf("append once there is room: %v", err)
	}
}

// A write connection that SQLite holds read-only (SQLITE_READONLY, as for
// a data file made read-only) is ErrUnavailable; the store drops that
// connection, and the next append opens the file again and writes.
func TestReadOnlyFileIsUnavailableAndRecovers(t *testing.T) {
	t.Parallel()
	s, _ := openTemp(t)
	ctx := context.Background()
	if err := sqlite.ExecOnWriter(s, "PRAGMA query_only = 1"); err != nil {
		t.Fatal(err)
	}
	_, err := s.Append(ctx, "s-1", eventstore.NoStream(), event("a"))
	if !errors.Is(err, eventstore.ErrUnavailable) {
		t.Fatalf("append to a read-only file: %v, want ErrUnavailable", err)
	}
	if _, err := s.Append(ctx, "s-1", eventstore.NoStream(), event("a")); err != nil {
		t.Fatalf("append once the file is writable: %v", err)
	}
	evs, err := s.ReadStream(ctx, "s-1", eventstore.Forwards, 0, 10)
	if err != nil || len(evs) != 1 {
		t.Fatalf("%d events, %v; want 1", len(evs), err)
	}
}
