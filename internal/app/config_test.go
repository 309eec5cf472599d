package app

import (
	"strings"
	"testing"
	"time"

	"github.com/partnercenter/multichannel/eventstore/sqlite"
	"github.com/partnercenter/multichannel/internal/command"
)

func TestClockOffset(t *testing.T) {
	t.Setenv("CLOCK_OFFSET", "")
	c, err := ParseConfig([]string{"-clock-offset", "2160h"})
	if err != nil {
		t.Fatal(err)
	}
	if c.ClockOffset != 2160*time.Hour {
		t.Fatalf("ClockOffset = %v, want 2160h", c.ClockOffset)
	}

	t.Setenv("CLOCK_OFFSET", "-90s")
	if c, err = ParseConfig(nil); err != nil || c.ClockOffset != -90*time.Second {
		t.Fatalf("CLOCK_OFFSET=-90s: %v, %v", c.ClockOffset, err)
	}

	// Production refuses a moved clock, from the flag or the variable.
	secret := "-jwt-secret=" + strings.Repeat("s", 32)
	for _, args := range [][]string{
		{"-env", "production", secret},
		{"-env", "production", secret, "-clock-offset", "1h"},
	} {
		_, err := ParseConfig(args)
		if err == nil || !strings.Contains(err.Error(), "production refuses it") {
			t.Errorf("%v with CLOCK_OFFSET=-90s: err %v, want the refusal", args, err)
		}
	}
	t.Setenv("CLOCK_OFFSET", "")
	if _, err := ParseConfig([]string{"-env", "production", secret}); err != nil {
		t.Fatalf("production without an offset: %v", err)
	}
}

func TestClockOffsetMovesTheApplicationsClock(t *testing.T) {
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	cfg := Config{Env: "development", EventsDB: t.TempDir() + "/events.db", JWTSecret: strings.Repeat("s", 32),
		ExpirySweep: time.Hour, CatchUpTimeout: time.Second, ClockOffset: 48 * time.Hour}
	a, err := New(cfg, WithClock(func() time.Time { return base }))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if got, want := a.now(), base.Add(48*time.Hour); !got.Equal(want) {
		t.Fatalf("the application's clock reads %v, want %v", got, want)
	}
}

func TestMaxBodyBytes(t *testing.T) {
	t.Setenv("MAX_BODY_BYTES", "")
	if c, err := ParseConfig(nil); err != nil || c.Ops.MaxBodyBytes != 1<<20 {
		t.Fatalf("default: %d, %v; want 1 MiB", c.Ops.MaxBodyBytes, err)
	}
	t.Setenv("MAX_BODY_BYTES", "2048")
	if c, err := ParseConfig(nil); err != nil || c.Ops.MaxBodyBytes != 2048 {
		t.Fatalf("MAX_BODY_BYTES=2048: %d, %v", c.Ops.MaxBodyBytes, err)
	}
	if c, err := ParseConfig([]string{"-max-body-bytes", "4096"}); err != nil || c.Ops.MaxBodyBytes != 4096 {
		t.Fatalf("-max-body-bytes 4096 over MAX_BODY_BYTES=2048: %d, %v", c.Ops.MaxBodyBytes, err)
	}
}

func TestClaimGrace(t *testing.T) {
	t.Setenv("CLAIM_GRACE", "")
	c, err := ParseConfig(nil)
	if err != nil || c.ClaimGrace != command.DefaultClaimGrace {
		t.Fatalf("default: %v, %v; want %v", c.ClaimGrace, err, command.DefaultClaimGrace)
	}
	if c, err = ParseConfig([]string{"-claim-grace", "500ms"}); err != nil || c.ClaimGrace != 500*time.Millisecond {
		t.Fatalf("-claim-grace 500ms: %v, %v", c.ClaimGrace, err)
	}
	t.Setenv("CLAIM_GRACE", "5s")
	if c, err = ParseConfig(nil); err != nil || c.ClaimGrace != 5*time.Second {
		t.Fatalf("CLAIM_GRACE=5s: %v, %v", c.ClaimGrace, err)
	}
	if _, err = ParseConfig([]string{"-claim-grace", "-1s"}); err == nil || !strings.Contains(err.Error(), "CLAIM_GRACE") {
		t.Fatalf("a negative grace: %v, want a refusal naming CLAIM_GRACE", err)
	}
}

func TestCheckpointSettings(t *testing.T) {
	t.Setenv("CHECKPOINT_EVENTS", "")
	t.Setenv("WAL_RESTART_EVENTS", "")
	c, err := ParseConfig(nil)
	if err != nil || c.CheckpointEvents != sqlite.DefaultCheckpointEvents || c.WALRestartEvents != sqlite.DefaultWALRestartEvents {
		t.Fatalf("defaults: %d, %d, %v", c.CheckpointEvents, c.WALRestartEvents, err)
	}
	t.Setenv("CHECKPOINT_EVENTS", "500")
	if c, err = ParseConfig([]string{"-wal-restart-events", "9000"}); err != nil || c.CheckpointEvents != 500 || c.WALRestartEvents != 9000 {
		t.Fatalf("CHECKPOINT_EVENTS=500 -wal-restart-events 9000: %d, %d, %v", c.CheckpointEvents, c.WALRestartEvents, err)
	}
	if _, err = ParseConfig([]string{"-checkpoint-events", "0"}); err == nil || !strings.Contains(err.Error(), "CHECKPOINT_EVENTS") {
		t.Fatalf("-checkpoint-events 0: %v, want a refusal naming CHECKPOINT_EVENTS", err)
	}
}
