//go:build unix

package main

import (
	"os"
	"syscall"
	"time"
)

// touchTime is how long this process takes to touch n bytes of memory it
// has never used, a page at a time, then gives them back: the floor a
// start that ends with n bytes resident pays to the system for its memory
// alone, whatever the server does with it. On a virtual machine whose host
// hands memory over lazily (and takes back what a process frees), that is
// far from free: 330 MB/s was measured on one, where 5 GB cost 15 s. The
// start times are printed beside it so they can be read against it.
func touchTime(n int64) (time.Duration, error) {
	if n <= 0 {
		return 0, nil
	}
	b, err := syscall.Mmap(-1, 0, int(n), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return 0, err
	}
	defer syscall.Munmap(b)
	page := os.Getpagesize()
	start := time.Now()
	for i := 0; i < len(b); i += page {
		b[i] = 1
	}
	return time.Since(start), nil
}
