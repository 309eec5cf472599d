//go:build !unix

package main

import "time"

// processCPU is not measured here: BenchmarkServer then reports no CPU.
func processCPU() time.Duration { return 0 }
