//go:build unix

package main

import (
	"syscall"
	"testing"
	"time"

	"github.com/partnercenter/multichannel/eventstore"
)

// SIGUSR1 takes the node away and SIGUSR2 brings it back.
func TestSignalsStopAndStart(t *testing.T) {
	p := startDouble(t, "-addr", "127.0.0.1:0", "-control", "127.0.0.1:0")
	for _, step := range []struct {
		sig       syscall.Signal
		listening bool
	}{{syscall.SIGUSR1, false}, {syscall.SIGUSR2, true}} {
		if err := p.cmd.Process.Signal(step.sig); err != nil {
			t.Fatal(err)
		}
		// Signals are delivered asynchronously: wait for the state, bounded.
		var st status
		for range 200 {
			if st = p.status(t); st.Listening == step.listening {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if st.Listening != step.listening {
			t.Fatalf("after %v: listening %v, want %v", step.sig, st.Listening, step.listening)
		}
	}
	s := open(t, p.url)
	if _, err := s.Append(ctxT(t), "partner-1", eventstore.NoStream(), testEvents(1)...); err != nil {
		t.Fatal(err)
	}
}
