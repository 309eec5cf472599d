//go:build !unix

package sqlite

// fileLock is a no-op where flock does not exist: the single-writer guard
// is only enforced on Unix systems, which is where the server runs.
type fileLock struct{}

func lockFile(string) (*fileLock, error) { return &fileLock{}, nil }

func (*fileLock) release() error { return nil }
