//go:build !unix

package graph_test

import "time"

// processCPU is not measured here: the benchmarks compare wall time.
func processCPU() time.Duration { return 0 }
