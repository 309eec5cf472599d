package graph_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/partnercenter/multichannel/graph"
)

var update = flag.Bool("update", false, "rewrite the repository's schema.graphql from the served schema")

// schemaFile is the schema as one SDL file at the repository's top, for
// codegen tools; `go generate ./graph` rewrites it.
const schemaFile = "../schema.graphql"

const schemaFileHeader = `# The served schema as one SDL file, for codegen tools (see docs/frontend.md).
# Made from the server's schema by ` + "`go generate ./graph`" + `; a test fails when it differs.

`

// TestSchemaFile fails when the repository's schema.graphql is not what the
// server serves, so that a schema change cannot leave codegen tools on an
// old file.
func TestSchemaFile(t *testing.T) {
	served := append([]byte(schemaFileHeader), graph.SDL()...)
	if *update {
		if err := os.WriteFile(schemaFile, served, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatalf("%v (write it with: go generate ./graph)", err)
	}
	if !bytes.Equal(got, served) {
		t.Fatalf("schema.graphql differs from the served schema; rewrite it with: go generate ./graph")
	}
}

// TestSDLIsTheServedSchema loads the SDL back as a schema: every type and
// field of the schema files is in it, so a tool reading the file sees what
// the server serves.
func TestSDLIsTheServedSchema(t *testing.T) {
	fromSDL, gerr := gqlparser.LoadSchema(&ast.Source{Name: "schema.graphql", Input: string(graph.SDL())})
	if gerr != nil {
		t.Fatalf("the SDL does not load: %v", gerr)
	}
	files, err := filepath.Glob("schema/*.graphqls")
	if err != nil || len(files) == 0 {
		t.Fatalf("no schema files: %v", err)
	}
	served := loadSchema(t, files...)
	for name, typ := range served.Types {
		if typ.BuiltIn {
			continue
		}
		got := fromSDL.Types[name]
		if got == nil {
			t.Errorf("type %s is missing from the SDL", name)
			continue
		}
		if got.Description != typ.Description {
			t.Errorf("type %s: description %q, served %q", name, got.Description, typ.Description)
		}
		for _, f := range typ.Fields {
			g := got.Fields.ForName(f.Name)
			if g == nil || g.Type.String() != f.Type.String() || g.Description != f.Description {
				t.Errorf("field %s.%s differs in the SDL", name, f.Name)
			}
		}
	}
	if fromSDL.Subscription == nil || fromSDL.Subscription.Name != "LiveFeed" {
		t.Errorf("the SDL's subscription root is %v, want LiveFeed", fromSDL.Subscription)
	}
}
