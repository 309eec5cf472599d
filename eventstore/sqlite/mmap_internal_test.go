package sqlite

import (
	"path/filepath"
	"testing"
)

// The server's readers (Open) read through the page cache: a memory map
// keeps every page the start-up fold touched resident in the process. A
// command-line reader (OpenReadOnly) maps the file, which it reads once.
func TestReadersMapTheFileOnlyWhenReadOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var size int64
	if err := s.rdb.QueryRow("PRAGMA mmap_size").Scan(&size); err != nil {
		t.Fatal(err)
	}
	if size != 0 {
		t.Errorf("the server's readers: mmap_size %d, want 0", size)
	}
	ro, err := OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if err := ro.rdb.QueryRow("PRAGMA mmap_size").Scan(&size); err != nil {
		t.Fatal(err)
	}
	if size != 1<<30 {
		t.Errorf("a read-only store's readers: mmap_size %d, want %d", size, 1<<30)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}
