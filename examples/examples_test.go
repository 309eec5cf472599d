package examples

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

// demoRoles are the demo users development mode prints tokens for.
var demoRoles = map[string]bool{
	"Contoso CSP, Global admin":                true,
	"Contoso CSP, User admin":                  true,
	"Contoso CSP, Sales agent":                 true,
	"Contoso CSP, Admin agent (may not act)":   true,
	"Contoso CSP, Billing admin (may not act)": true,
	"Auditor (reads everything)":               true,
	"Fabrikam (customer), Global admin":        true,
	"Northwind CSP, Global admin":              true,
}

// servedSchema loads the schema the server serves, from its source files.
func servedSchema(t *testing.T) *ast.Schema {
	t.Helper()
	paths, err := filepath.Glob("../graph/schema/*.graphqls")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no schema files: %v", err)
	}
	var sources []*ast.Source
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		sources = append(sources, &ast.Source{Name: p, Input: string(b)})
	}
	s, gerr := gqlparser.LoadSchema(sources...)
	if gerr != nil {
		t.Fatalf("load the schema: %v", gerr)
	}
	return s
}

// TestExamplesValidate parses and validates every example against the
// served schema, and checks its leading comment: a demo role that exists,
// named operations, and a Variables line that gives every required
// variable and no variable that no operation declares.
func TestExamplesValidate(t *testing.T) {
	schema := servedSchema(t)
	all, err := All()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) == 0 {
		t.Fatal("no examples")
	}
	for _, e := range all {
		t.Run(e.Name, func(t *testing.T) {
			doc, gerr := gqlparser.LoadQuery(schema, e.Document)
			if gerr != nil {
				t.Fatalf("does not validate against the served schema: %v", gerr)
			}
			if !demoRoles[e.Role] {
				t.Errorf("Role %q is not a demo user", e.Role)
			}
			if e.Description == "" {
				t.Error("the leading comment says nothing of what the example shows")
			}
			var given map[string]any
			if e.Variables != nil {
				if err := json.Unmarshal(e.Variables, &given); err != nil {
					t.Fatal(err)
				}
			}
			declared := map[string]bool{}
			for _, op := range doc.Operations {
				if op.Name == "" {
					t.Errorf("an operation has no name: the playground lists operations by name")
				}
				for _, v := range op.VariableDefinitions {
					declared[v.Variable] = true
					if _, ok := given[v.Variable]; !ok && v.Type.NonNull && v.DefaultValue == nil {
						t.Errorf("operation %s: required $%s is not in the Variables line", op.Name, v.Variable)
					}
				}
			}
			for name := range given {
				if !declared[name] {
					t.Errorf("Variables gives %q, which no operation declares", name)
				}
			}
		})
	}
}

// TestParseHeader pins the leading comment's format, which the playground
// reads too.
func TestParseHeader(t *testing.T) {
	e, err := parse("x.graphql", "# Title\n#\n# Role: Auditor (reads everything)\n# Variables: {\"a\": 1}\n#\n# What it shows,\n# on two lines.\nquery Q { viewer { role } }\n")
	if err != nil {
		t.Fatal(err)
	}
	if e.Title != "Title" || e.Role != "Auditor (reads everything)" || string(e.Variables) != `{"a": 1}` || e.Description != "What it shows,\non two lines." {
		t.Fatalf("parsed %+v", e)
	}
	for _, bad := range []string{
		"query Q { viewer { role } }",                         // no comment
		"# Title\nquery Q { viewer { role } }",                // no role
		"# Title\n# Role: x\n# Variables: [1]\nquery Q { a }", // variables not an object
	} {
		if _, err := parse("bad.graphql", bad); err == nil {
			t.Errorf("parse accepted %q", bad)
		}
	}
}
