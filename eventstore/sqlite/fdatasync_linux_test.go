package sqlite

import (
	"os"
	"syscall"
)

// fdatasync is what SQLite calls on commit once Open has switched it on.
func fdatasync(f *os.File) error { return syscall.Fdatasync(int(f.Fd())) }
