//go:build !unix

package e2e

import "time"

// processCPU is not measured here: BenchmarkServer then reports no CPU.
func processCPU() time.Duration { return 0 }
