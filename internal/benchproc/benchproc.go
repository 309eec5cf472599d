// Package benchproc holds what the project's benchmark commands
// (cmd/loadbench, cmd/growthbench, cmd/startmem) share to run the API
// server as a child process: building its binary, a free loopback
// address for it, and the end of its log to explain a failure.
package benchproc

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// BuildServer builds the API server from repo (the module of the working
// directory when empty) into dir and returns the binary's path. tool names
// the command asking, for the message when it runs outside the module.
func BuildServer(ctx context.Context, tool, repo, dir string) (string, error) {
	if repo == "" {
		out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
		if err != nil {
			return "", fmt.Errorf("find the module: go env GOMOD: %w", err)
		}
		gomod := strings.TrimSpace(string(out))
		if gomod == "" || gomod == os.DevNull {
			return "", fmt.Errorf("not inside a Go module: run %s from the repository, or give -repo", tool)
		}
		repo = filepath.Dir(gomod)
	}
	bin := filepath.Join(dir, "server")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	cmd.Dir = repo
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build the server in %s: %w\n%s", repo, err, out)
	}
	return bin, nil
}

// FreeAddr returns a loopback address with a port that was free a moment
// ago. The server is handed the address; the window in which another
// process could take the port is tiny on a benchmark machine.
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// LogTail returns the last lines (about 2,000 bytes, from a line's start)
// of the log at path under a heading naming whose it is, or "" when there
// is none to show.
func LogTail(path, whose string) string {
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		return ""
	}
	const max = 2000
	if len(b) > max {
		b = b[len(b)-max:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return "\n--- end of the " + whose + "'s log ---\n" + strings.TrimRight(string(b), "\n")
}
