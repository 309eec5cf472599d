package cli

import "time"

// SetLineEvery sets how often plain progress lines are printed, for the
// test's duration (restore with the returned func).
func SetLineEvery(d time.Duration) (restore func()) {
	old := lineEvery
	lineEvery = d
	return func() { lineEvery = old }
}
