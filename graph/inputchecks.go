package graph

import (
	"context"
	"encoding/json"
	"math"
	"strconv"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/partnercenter/multichannel/domain"
)

// int32Variables refuses, before anything runs, an Int outside 32 bits,
// given as a variable (or inside an input object or list variable) or as a
// literal in the document. GraphQL's Int is a signed 32-bit integer;
// gqlparser coerces both to 64 bits, and the schema binds Int to Go's int,
// so that 2^31 would be stored as a quantity. The refusal is the one
// gqlgen gives any value of the wrong type: GRAPHQL_VALIDATION_FAILED.
type int32Variables struct{ schema *ast.Schema }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = (*int32Variables)(nil)

func (*int32Variables) ExtensionName() string { return "Int32Variables" }

func (v *int32Variables) Validate(es graphql.ExecutableSchema) error {
	v.schema = es.Schema()
	return nil
}

func (v *int32Variables) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc == nil || oc.Operation == nil {
		return nil
	}
	for _, def := range oc.Operation.VariableDefinitions {
		val, ok := oc.Variables[def.Variable]
		if !ok {
			continue
		}
		if err := v.check(ast.Path{ast.PathName("variable"), ast.PathName(def.Variable)}, def.Type, val, 0); err != nil {
			return err
		}
	}
	return literals(oc.Doc, oc.Operation.SelectionSet, map[string]bool{})
}

// literals checks the Int literals of the arguments in set (fragments
// followed, each once).
func literals(doc *ast.QueryDocument, set ast.SelectionSet, seen map[string]bool) *gqlerror.Error {
	for _, sel := range set {
		var err *gqlerror.Error
		switch s := sel.(type) {
		case *ast.Field:
			for _, a := range s.Arguments {
				if err = literal(a.Value); err != nil {
					return err
				}
			}
			err = literals(doc, s.SelectionSet, seen)
		case *ast.InlineFragment:
			err = literals(doc, s.SelectionSet, seen)
		case *ast.FragmentSpread:
			if def := spreadOnce(doc, s, seen); def != nil {
				err = literals(doc, def.SelectionSet, seen)
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// literal checks an argument's value: validation has typed it (an Int
// literal given for a Float is not an Int).
func literal(val *ast.Value) *gqlerror.Error {
	if val == nil {
		return nil
	}
	if val.Kind == ast.IntValue && val.ExpectedType != nil && val.ExpectedType.NamedType == "Int" {
		if _, err := strconv.ParseInt(val.Raw, 10, 32); err != nil {
			e := gqlerror.ErrorPosf(val.Position, "Int cannot represent non 32-bit signed integer value: %s", val.Raw)
			errcode.Set(e, errcode.ValidationFailed)
			return e
		}
	}
	for _, c := range val.Children {
		if err := literal(c.Value); err != nil {
			return err
		}
	}
	return nil
}

// maxInputNesting bounds the recursion into input objects and lists (the
// schema's inputs nest two levels; a self-referencing input could nest as
// deep as the variables' JSON).
const maxInputNesting = 32

func (v *int32Variables) check(path ast.Path, t *ast.Type, val any, depth int) *gqlerror.Error {
	if val == nil || t == nil || depth > maxInputNesting {
		return nil
	}
	if t.Elem != nil {
		list, ok := val.([]any)
		if !ok { // a single value given for a list
			return v.check(path, t.Elem, val, depth+1)
		}
		for i, el := range list {
			if err := v.check(append(path, ast.PathIndex(i)), t.Elem, el, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if t.NamedType == "Int" {
		if !isInt32(val) {
			err := gqlerror.ErrorPathf(path, "Int cannot represent non 32-bit signed integer value: %v", val)
			errcode.Set(err, errcode.ValidationFailed)
			return err
		}
		return nil
	}
	def := v.schema.Types[t.NamedType]
	obj, ok := val.(map[string]any)
	if def == nil || def.Kind != ast.InputObject || !ok {
		return nil
	}
	for _, f := range def.Fields {
		if err := v.check(append(path, ast.PathName(f.Name)), f.Type, obj[f.Name], depth+1); err != nil {
			return err
		}
	}
	return nil
}

// isInt32 reports whether val, as the transports decode and gqlparser
// coerces a variable, is within GraphQL's Int. A value of another type is
// left to gqlgen, which refuses it.
func isInt32(val any) bool {
	switch n := val.(type) {
	case json.Number:
		_, err := strconv.ParseInt(string(n), 10, 32)
		return err == nil || !isIntText(string(n))
	case int64:
		return n >= math.MinInt32 && n <= math.MaxInt32
	case int:
		return n >= math.MinInt32 && n <= math.MaxInt32
	case float64:
		return n >= math.MinInt32 && n <= math.MaxInt32
	case string:
		if i, err := strconv.ParseInt(n, 10, 64); err == nil {
			return i >= math.MinInt32 && i <= math.MaxInt32
		}
	}
	return true
}

// isIntText reports whether s is an integer's digits (optionally signed):
// one that ParseInt refused can only be out of range.
func isIntText(s string) bool {
	if s != "" && (s[0] == '-' || s[0] == '+') {
		s = s[1:]
	}
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// oneKeyedMutation refuses a mutation document with several mutation
// fields sent with an Idempotency-Key: the key names one mutation's result
// (the contract), so a second field would either be skipped as a "repeat" of
// the first or answered with the first's object. Nothing runs: the refusal
// is BAD_USER_INPUT before any field.
type oneKeyedMutation struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = oneKeyedMutation{}

func (oneKeyedMutation) ExtensionName() string                   { return "OneKeyedMutation" }
func (oneKeyedMutation) Validate(graphql.ExecutableSchema) error { return nil }

func (oneKeyedMutation) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc == nil || oc.Operation == nil || oc.Operation.Operation != ast.Mutation {
		return nil
	}
	if req := requestFrom(ctx); req == nil || req.IdempotencyKey == "" {
		return nil
	}
	if n := rootFields(oc.Doc, oc.Operation.SelectionSet, map[string]bool{}); n > 1 {
		err := gqlerror.Errorf("an Idempotency-Key covers one mutation field; this document has %d: send each with its own key", n)
		errcode.Set(err, string(domain.CodeBadUserInput))
		return err
	}
	return nil
}

// rootFields counts the fields set selects (fragments expanded; each
// fragment once), __typename aside.
func rootFields(doc *ast.QueryDocument, set ast.SelectionSet, seen map[string]bool) int {
	n := 0
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if s.Name != "__typename" {
				n++
			}
		case *ast.InlineFragment:
			n += rootFields(doc, s.SelectionSet, seen)
		case *ast.FragmentSpread:
			if def := spreadOnce(doc, s, seen); def != nil {
				n += rootFields(doc, def.SelectionSet, seen)
			}
		}
	}
	return n
}
