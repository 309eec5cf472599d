//go:build !linux

package main

import (
	"errors"
	"time"
)

// processCPU is not implemented here: the reports leave CPU per request out.
func processCPU(pid int) (time.Duration, error) {
	return 0, errors.New("process CPU time is read from /proc, on Linux only")
}

// machineBusy is not implemented here either.
func machineBusy() (time.Duration, error) {
	return 0, errors.New("machine CPU time is read from /proc, on Linux only")
}
