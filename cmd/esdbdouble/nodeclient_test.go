package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// jsCheck is the folder of the Node.js check, from this package.
const jsCheck = "../../clients"

// npmCI is how CI installs it.
const npmCI = "npm ci --prefix clients --no-audit --no-fund"

// TestNodeClient runs the official EventStoreDB Node.js client
// (@eventstore/db-client 6.2.1, clients/esdb) against the double served as a
// process: once as a current node (ServerFeatures lists BatchAppend, which
// the client then appends with) and once as an older one (no ServerFeatures:
// the client appends with Append). Without node or the installed package it
// is skipped, except on CI (CI=true), where it fails.
func TestNodeClient(t *testing.T) {
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join(jsCheck, "node_modules", "@eventstore", "db-client", "package.json"))
	}
	if err != nil {
		msg := "the Node.js client check needs node and its package (" + npmCI + "): " + err.Error()
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	for _, tc := range []struct {
		name     string
		args     []string
		features bool
	}{
		{"server features", nil, true},
		{"no server features", []string{"-no-server-features"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "log")
			p := startDouble(t, append([]string{"-addr", "127.0.0.1:0", "-data", data, "-control", "127.0.0.1:0"}, tc.args...)...)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, node, "--test", "--test-reporter=spec", filepath.Join("esdb", "double.test.mjs"))
			cmd.Dir = jsCheck
			cmd.Env = append(os.Environ(), "ESDB_URL="+p.url, "ESDB_SERVER_FEATURES=")
			if tc.features {
				cmd.Env = append(cmd.Env, "ESDB_SERVER_FEATURES=1")
			}
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("node --test: %v\n%s", err, out)
			}
			t.Logf("node --test:\n%s", out)
			st := p.status(t)
			if st.Appends == 0 || tc.features != (st.BatchAppends > 0) || (tc.features && st.BatchAppends != st.Appends) {
				t.Fatalf("the double served %d appends, %d of them batch appends: with server features %v the client should use BatchAppend for all or none",
					st.Appends, st.BatchAppends, tc.features)
			}
		})
	}
}
