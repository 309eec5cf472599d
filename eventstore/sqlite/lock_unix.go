//go:build unix

package sqlite

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"github.com/partnercenter/multichannel/eventstore"
)

// fileLock is an exclusive advisory lock held for the life of a writing
// Store. flock locks belong to the open file description, so a second Open
// conflicts whether it comes from another process or from this one, and the
// kernel drops the lock if the process dies.
type fileLock struct{ f *os.File }

func lockFile(path string) (*fileLock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open lock file %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("sqlite: %s is held by another writer (only one process may write an event store file; readers can use read-only mode): %w", path, eventstore.ErrLocked)
		}
		return nil, fmt.Errorf("sqlite: lock %s: %w", path, err)
	}
	return &fileLock{f: f}, nil
}

// release drops the lock; closing the file releases it.
func (l *fileLock) release() error {
	if err := l.f.Close(); err != nil {
		return fmt.Errorf("release lock %s: %w", l.f.Name(), err)
	}
	return nil
}
