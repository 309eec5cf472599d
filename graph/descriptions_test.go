package graph

import (
	"slices"
	"strings"
	"testing"

	"github.com/partnercenter/multichannel/graph/generated"
)

// Every type, field, argument, input field and enum value of the served
// schema has a description, for the playground's docs pane and for
// codegen tools' comments (GraphQL's own types and directives excepted).
func TestEveryPartOfTheSchemaIsDescribed(t *testing.T) {
	s := generated.NewExecutableSchema(generated.Config{}).Schema()
	var missing []string
	for name, def := range s.Types {
		if def.BuiltIn || strings.HasPrefix(name, "__") {
			continue
		}
		if strings.TrimSpace(def.Description) == "" {
			missing = append(missing, "type "+name)
		}
		for _, f := range def.Fields {
			if strings.HasPrefix(f.Name, "__") {
				continue
			}
			if strings.TrimSpace(f.Description) == "" {
				missing = append(missing, name+"."+f.Name)
			}
			for _, a := range f.Arguments {
				if strings.TrimSpace(a.Description) == "" {
					missing = append(missing, name+"."+f.Name+"("+a.Name+")")
				}
			}
		}
		for _, v := range def.EnumValues {
			if strings.TrimSpace(v.Description) == "" {
				missing = append(missing, name+"."+v.Name)
			}
		}
	}
	for name, d := range s.Directives {
		if builtInDirective(name) {
			continue
		}
		if strings.TrimSpace(d.Description) == "" {
			missing = append(missing, "@"+name)
		}
	}
	slices.Sort(missing)
	if len(missing) > 0 {
		t.Errorf("%d parts of the schema have no description:\n  %s", len(missing), strings.Join(missing, "\n  "))
	}
}

func builtInDirective(name string) bool {
	switch name {
	case "include", "skip", "deprecated", "specifiedBy", "oneOf", "defer":
		return true
	}
	return false
}
