//go:build unix

package projections

import (
	"os"
	"syscall"
)

// mapSnapshot maps a snapshot file for reading. Read through the page
// cache, the file's pages are the kernel's: a restore that read it into a
// buffer of its own (1.5 GB at ten million events) first had to be given
// that much new memory, page by page, which on a virtual machine whose
// host hands memory over lazily is a good part of the start. The server
// writes a snapshot to a new file and renames it into place and removes
// old ones, neither of which disturbs a mapping; only a file cut short in
// place by another program while it is read would fault (SIGBUS).
func mapSnapshot(f *os.File, size int64) ([]byte, func(), error) {
	if size <= 0 || int64(int(size)) != size {
		return nil, nil, errNoMap
	}
	b, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED|mapPopulate)
	if err != nil {
		return nil, nil, err
	}
	return b, func() { _ = syscall.Munmap(b) }, nil
}
