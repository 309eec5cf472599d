package domain_test

import (
	"go/parser"
	"go/token"
	"os"
	"strconv"
	"strings"
	"testing"
)

// The domain stays pure: the standard library and uuid only, so that no
// storage, transport or GraphQL package can leak into the rules.
func TestDomainImportsOnlyStdlibAndUUID(t *testing.T) {
	t.Parallel()
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			first, _, _ := strings.Cut(path, "/")
			switch {
			case !strings.Contains(first, "."): // standard library
			case path == "github.com/google/uuid":
			case strings.HasSuffix(name, "_test.go") && path == "github.com/partnercenter/multichannel/domain":
			default:
				t.Errorf("%s imports %q: domain may import only the standard library and github.com/google/uuid", name, path)
			}
		}
	}
}
