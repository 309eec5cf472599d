//go:build unix

package projections_test

import (
	"syscall"
	"time"
)

// processCPU is the CPU time the process has used, user and system, on
// every thread: on a machine shared with other work it says what a
// benchmark cost where the wall clock says how long it waited too.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
