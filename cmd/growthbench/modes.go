package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/eventstore"
)

// modeEnv is the environment of the server binary's modes and of the
// server: the caller's, with the embedded store whatever it says
// (EVENTSTORE_URL would win over -events-db).
func modeEnv() []string {
	return append(os.Environ(), "EVENTSTORE_URL=")
}

// runMode runs a command-line mode of the server binary with its output
// on w (its progress lines show how far a long generate is).
func runMode(ctx context.Context, bin string, w io.Writer, args ...string) error {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = modeEnv()
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w", filepath.Base(bin), strings.Join(args, " "), err)
	}
	return nil
}

// captureMode runs a mode and returns its standard output and how long
// the process took.
func captureMode(ctx context.Context, bin string, args ...string) (string, time.Duration, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = modeEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	if err != nil {
		return "", d, fmt.Errorf("%s %s: %w\n%s%s", filepath.Base(bin), strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String(), d, nil
}

var rateRE = regexp.MustCompile(`([0-9]+(?:\.[0-9]+)?) events/s`)

// parseRate reads the rate a mode printed on its summary line, the one
// that starts with prefix ("rebuilt every projection from ... : R
// events/s", "verified ... (R events/s)"); its progress lines carry rates
// too, of a moment, not of the whole run. When no such line says, the
// rate is n events over the process's time d, which also counts opening
// the store and anything the mode does after.
func parseRate(out, prefix string, n int64, d time.Duration) modeRate {
	for line := range strings.Lines(out) {
		if !strings.HasPrefix(strings.TrimSpace(line), prefix) {
			continue
		}
		if m := rateRE.FindStringSubmatch(line); m != nil {
			if v, err := strconv.ParseFloat(m[1], 64); err == nil && v > 0 {
				return modeRate{Rate: v}
			}
		}
	}
	return modeRate{Rate: float64(n) / d.Seconds(), Timed: true}
}

// clockOffset is the server's -clock-offset that puts its clock a day
// before the log's first event. A generated log leaves requests pending
// whose expiry has long passed by the real clock; a server on it would
// record their expiries (the sweep), growing the log under measurement
// and spending the CPU the queries are timed on. Tokens are still checked
// against the real time.
func clockOffset(first []eventstore.RecordedEvent, now time.Time) (time.Duration, error) {
	md, err := domain.DecodeMetadata(first[0].Metadata)
	if err != nil {
		return 0, fmt.Errorf("the log's first event: %w", err)
	}
	return md.RecordedAt.Add(-24 * time.Hour).Sub(now).Truncate(time.Second), nil
}
