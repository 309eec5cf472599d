package sqlite

import (
	"errors"
	"fmt"

	"github.com/partnercenter/multichannel/eventstore"
	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// storageFailure reports whether err is SQLite saying the file cannot be
// written or read right now: a full disk (SQLITE_FULL), a file or
// directory made read-only (SQLITE_READONLY), an I/O error (SQLITE_IOERR),
// a file it cannot open (SQLITE_CANTOPEN), or a lock held past the busy
// timeout (SQLITE_BUSY). None of them is the request's fault, and each
// can clear without a restart (space freed, permissions restored), so the
// caller may retry: the store is unavailable, not broken.
func storageFailure(err error) bool {
	code, ok := resultCode(err)
	if !ok {
		return false
	}
	// The low byte is the primary result code; the rest are its extended
	// variants (SQLITE_IOERR_WRITE, SQLITE_READONLY_DBMOVED, ...).
	switch code & 0xff {
	case sqlite3.SQLITE_FULL, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_IOERR,
		sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_BUSY:
		return true
	}
	return false
}

// reopenNeeded reports whether a storage failure is one the write
// connection keeps once the cause is gone: SQLite decides at open whether
// the file is writable, and an I/O error can leave the connection's view
// of the file stale. A full disk is not: the same connection writes again
// once space is back.
func reopenNeeded(err error) bool {
	var serr *msqlite.Error
	if !errors.As(err, &serr) {
		return false
	}
	switch serr.Code() & 0xff {
	case sqlite3.SQLITE_READONLY, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN:
		return true
	}
	return false
}

// resultCode is SQLite's result code in err's chain, from the driver or
// from a logConn.
func resultCode(err error) (int, bool) {
	var serr *msqlite.Error
	if errors.As(err, &serr) {
		return serr.Code(), true
	}
	var cerr *connError
	if errors.As(err, &cerr) {
		return cerr.Code(), true
	}
	return 0, false
}

// classify wraps err with eventstore.ErrUnavailable when it is a storage
// failure, keeping SQLite's error in the chain for the logs.
func classify(err error) error {
	if storageFailure(err) {
		return fmt.Errorf("%w: %w", eventstore.ErrUnavailable, err)
	}
	return err
}
