//go:build !unix

package projections

import "os"

// mapSnapshot is not available here: the snapshot is read into memory.
func mapSnapshot(*os.File, int64) ([]byte, func(), error) { return nil, nil, errNoMap }
