package sqlite_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/partnercenter/multichannel/eventstore"
	"github.com/partnercenter/multichannel/eventstore/sqlite"
)

// crashHelperEnv makes the test binary, re-run as a child process, append
// to the file named by it one event at a time, the lone appender's path,
// and print each acknowledged stream on stdout until it is killed.
const crashHelperEnv = "SQLITE_STORE_CRASH_HELPER_PATH"

func appendUntilKilled(path string) {
	s, err := sqlite.Open(path)
	if err != nil {
		fmt.Println("ERROR:", err)
		os.Exit(1)
	}
	for i := 0; ; i++ {
		stream := "crash-" + uuid.NewString()
		if _, err := s.Append(context.Background(), stream, eventstore.NoStream(), event(fmt.Sprint(i))); err != nil {
			fmt.Println("ERROR:", err)
			os.Exit(1)
		}
		fmt.Println("ACK", stream)
	}
}

// TestKilledWriterKeepsAcknowledgedAppends kills a writing process (SIGKILL,
// no Close, no checkpoint) at an arbitrary point and checks that every
// append it acknowledged is in the file, with the WAL it left behind. A
// killed process cannot lose the page cache, so the power-loss half of the
// promise rests on synchronous=FULL, which the test checks is what the
// writer runs with.
func TestKilledWriterKeepsAcknowledgedAppends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.db")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashHelperEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var acked []string
	sc := bufio.NewScanner(out)
	// Past a few hundred appends the WAL has been checkpointed and reused
	// at least once (about four frames an append, 1,000 a checkpoint).
	for len(acked) < 400 && sc.Scan() {
		line := sc.Text()
		stream, ok := strings.CutPrefix(line, "ACK ")
		if !ok {
			t.Fatalf("child: %s", line)
		}
		acked = append(acked, stream)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if len(acked) < 400 {
		t.Fatalf("child acknowledged %d appends before it stopped", len(acked))
	}

	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, err := sqlite.WriterPragma(s, "synchronous"); err != nil || v != 2 {
		t.Fatalf("PRAGMA synchronous = %d (%v), want 2 (FULL)", v, err)
	}
	for _, stream := range acked {
		evs, err := s.ReadStream(t.Context(), stream, eventstore.Forwards, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 1 {
			t.Fatalf("acknowledged append to %s: %d events after the kill, want 1", stream, len(evs))
		}
	}
}
