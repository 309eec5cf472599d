package graph_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

// TestSchemaKeepsTheContract checks the served schema (graph/schema) against
// the public contract as it was promised (testdata/contract.graphql): every
// type, field, argument, input field and enum value is still there with a
// compatible type, and nothing added is required of clients.
func TestSchemaKeepsTheContract(t *testing.T) {
	contract := loadSchema(t, "testdata/contract.graphql")
	files, err := filepath.Glob("schema/*.graphqls")
	if err != nil || len(files) == 0 {
		t.Fatalf("no schema files: %v", err)
	}
	served := loadSchema(t, files...)

	for name, want := range contract.Types {
		if want.BuiltIn {
			continue
		}
		got := served.Types[name]
		if got == nil {
			t.Errorf("type %s is gone", name)
			continue
		}
		if got.Kind != want.Kind {
			t.Errorf("type %s is a %s, was a %s", name, got.Kind, want.Kind)
			continue
		}
		switch want.Kind {
		case ast.Enum:
			for _, v := range want.EnumValues {
				if got.EnumValues.ForName(v.Name) == nil {
					t.Errorf("enum value %s.%s is gone", name, v.Name)
				}
			}
		case ast.InputObject:
			for _, f := range want.Fields {
				g := got.Fields.ForName(f.Name)
				if g == nil {
					t.Errorf("input field %s.%s is gone", name, f.Name)
				} else if g.Type.String() != f.Type.String() {
					t.Errorf("input field %s.%s is %s, was %s", name, f.Name, g.Type, f.Type)
				}
			}
			for _, g := range got.Fields {
				if want.Fields.ForName(g.Name) == nil && g.Type.NonNull && g.DefaultValue == nil {
					t.Errorf("new input field %s.%s is required", name, g.Name)
				}
			}
		case ast.Object, ast.Interface:
			for _, f := range want.Fields {
				g := got.Fields.ForName(f.Name)
				if g == nil {
					t.Errorf("field %s.%s is gone", name, f.Name)
					continue
				}
				if !outputCompatible(g.Type, f.Type) {
					t.Errorf("field %s.%s is %s, was %s", name, f.Name, g.Type, f.Type)
				}
				for _, a := range f.Arguments {
					ga := g.Arguments.ForName(a.Name)
					if ga == nil {
						t.Errorf("argument %s.%s(%s) is gone", name, f.Name, a.Name)
					} else if ga.Type.String() != a.Type.String() {
						t.Errorf("argument %s.%s(%s) is %s, was %s", name, f.Name, a.Name, ga.Type, a.Type)
					}
				}
				for _, ga := range g.Arguments {
					if f.Arguments.ForName(ga.Name) == nil && ga.Type.NonNull && ga.DefaultValue == nil {
						t.Errorf("new argument %s.%s(%s) is required", name, f.Name, ga.Name)
					}
				}
			}
		}
	}
	for _, op := range []struct{ got, want *ast.Definition }{
		{served.Query, contract.Query}, {served.Mutation, contract.Mutation}, {served.Subscription, contract.Subscription},
	} {
		if op.got == nil || op.got.Name != op.want.Name {
			t.Errorf("root type %v, want %s", op.got, op.want.Name)
		}
	}
}

// outputCompatible: an output may become stricter (non-null where it was
// nullable) but must keep its named type and list shape.
func outputCompatible(got, want *ast.Type) bool {
	if want.NonNull && !got.NonNull {
		return false
	}
	if (got.Elem == nil) != (want.Elem == nil) {
		return false
	}
	if got.Elem != nil {
		return outputCompatible(got.Elem, want.Elem)
	}
	return got.NamedType == want.NamedType
}

func loadSchema(t *testing.T, paths ...string) *ast.Schema {
	t.Helper()
	var sources []*ast.Source
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		sources = append(sources, &ast.Source{Name: p, Input: string(b)})
	}
	s, err := gqlparser.LoadSchema(sources...)
	if err != nil {
		t.Fatalf("load %v: %v", paths, err)
	}
	return s
}
