// Package layout_test holds the design's dependency rules against what the
// packages import (go list), so that the next drift fails CI instead of
// waiting for a review:
//
//   - the domain imports the standard library and uuid only: no GraphQL,
//     storage or HTTP;
//   - the use cases (internal/command) know no GraphQL, no HTTP, no store
//     adapter and no read model (the ports they need are their own);
//   - the read models (projections) know no GraphQL, no HTTP and no store
//     adapter;
//   - observability knows no store adapter;
//   - the live feed (internal/livefeed) knows no GraphQL, no HTTP and no
//     store adapter (it declares what it needs of the read models and the
//     log);
//   - no package but the wiring (internal/app) imports a store adapter
//     (the adapters' own packages and their test doubles aside).
package layout_test

import (
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/partnercenter/multichannel"

// pkg is what go list -json says of a package.
type pkg struct {
	ImportPath string
	Standard   bool
	Imports    []string
	Deps       []string
}

// list runs go list -json with args in the module's root.
func list(t *testing.T, args ...string) []pkg {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list", "-json"}, args...)...)
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list %v: %v\n%s", args, err, ee.Stderr)
		}
		t.Fatalf("go list %v: %v", args, err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// Import paths a rule names.
var (
	graphQL  = []string{"github.com/99designs/gqlgen", "github.com/vektah/gqlparser", module + "/graph"}
	http     = []string{"net/http"}
	adapters = []string{module + "/eventstore/sqlite", module + "/eventstore/esdb", "github.com/EventStore/", "modernc.org/sqlite"}
	storage  = append([]string{module + "/eventstore"}, adapters...)
)

func matches(path string, prefixes []string) bool {
	for _, p := range prefixes {
		if path == p || strings.HasPrefix(path, strings.TrimSuffix(p, "/")+"/") || (strings.HasSuffix(p, "/") && strings.HasPrefix(path, p)) {
			return true
		}
	}
	return false
}

func TestNevers(t *testing.T) {
	t.Parallel()
	rules := []struct {
		pkg    string
		never  [][]string
		reason string
	}{
		{"domain", [][]string{graphQL, storage, http}, "the domain imports no GraphQL, storage or HTTP"},
		{"internal/command", [][]string{graphQL, http, adapters, {module + "/projections"}}, "use cases know no GraphQL, HTTP, store adapter or read model"},
		{"projections", [][]string{graphQL, http, adapters}, "read models know no GraphQL, HTTP or store adapter"},
		{"internal/observability", [][]string{adapters}, "observability knows no store adapter"},
		{"internal/livefeed", [][]string{graphQL, http, adapters}, "the live feed knows no GraphQL, HTTP or store adapter (the ports it needs are its own)"},
	}
	for _, r := range rules {
		p := list(t, "-deps=false", module+"/"+r.pkg)[0]
		deps := list(t, "-deps", module+"/"+r.pkg)
		for _, d := range deps {
			for _, never := range r.never {
				if d.ImportPath != p.ImportPath && matches(d.ImportPath, never) {
					t.Errorf("%s depends on %s: %s", r.pkg, d.ImportPath, r.reason)
				}
			}
		}
	}
}

func TestDomainIsStandardLibraryAndUUID(t *testing.T) {
	t.Parallel()
	for _, d := range list(t, "-deps", module+"/domain") {
		if !d.Standard && d.ImportPath != module+"/domain" && d.ImportPath != "github.com/google/uuid" {
			t.Errorf("domain depends on %s: it may use the standard library and uuid only", d.ImportPath)
		}
	}
}

func TestOnlyTheWiringImportsAStoreAdapter(t *testing.T) {
	t.Parallel()
	allowed := []string{
		module + "/internal/app",             // the wiring: opens the configured store
		module + "/eventstore/esdb/esdbtest", // the EventStoreDB protocol double
		module + "/eventstore/sqlite",        // the adapters themselves
		module + "/eventstore/esdb",
	}
	for _, p := range list(t, module+"/...") {
		if slices.Contains(allowed, p.ImportPath) {
			continue
		}
		for _, imp := range p.Imports {
			if imp == module+"/eventstore/sqlite" || imp == module+"/eventstore/esdb" {
				t.Errorf("%s imports the store adapter %s: only the wiring (internal/app) opens a store", p.ImportPath, imp)
			}
		}
	}
}
