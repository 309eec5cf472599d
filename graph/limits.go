package graph

import (
	"context"
	"math"
	"sync"
	"sync/atomic"

	"github.com/99designs/gqlgen/complexity"
	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Limits on the shape of a document (OWASP GraphQL cheat sheet). They are
// checked after validation and before anything runs, with the complexity
// budget, and refused with COMPLEXITY_LIMIT_EXCEEDED: the contract's code
// for "this document asks too much", so clients need no new enum value.
const (
	// DefaultMaxDepth is how deeply selection sets may nest: `{ a { b } }`
	// is 2. The contract fixes 15.
	DefaultMaxDepth = 15
	// DefaultMaxAliases bounds the aliased fields of a document: aliases
	// are how one request runs the same field many times (batching attacks
	// on mutations), which the complexity budget alone does not see for
	// cheap fields.
	DefaultMaxAliases = 30
)

// DocumentLimit is the gqlgen extension that refuses a document nested
// deeper than MaxDepth, with more than MaxAliases aliases, or whose
// complexity (gqlgen's calculation, with the costs NewServer gives the
// connections) is over MaxComplexity. Introspection fields (__schema,
// __type) do not count towards depth, so that GraphiQL's introspection
// query passes; fragments are followed (each spread counts what its
// fragment holds), and a fragment cycle, which validation already
// refuses, cannot loop.
//
// An operation's figures are kept for as long as gqlgen's query cache
// keeps its parsed document (the same *ast.OperationDefinition comes back
// for the same text), so that a client repeating a query does not pay for
// measuring it each time; see figuresCacheable for when they depend on
// the variables and are measured on every request.
type DocumentLimit struct {
	MaxDepth      int
	MaxAliases    int
	MaxComplexity int // 0: no complexity limit

	es graphql.ExecutableSchema
	// figures are read without a lock by every request; past
	// figureCacheSize entries they are all dropped (documents are few,
	// and gqlgen's own cache drops their parses as it fills).
	figures sync.Map // *ast.OperationDefinition -> docFigures
	entries atomic.Int64
}

// docFigures are what the limits measure of an operation.
type docFigures struct{ depth, aliases, complexity int }

// figureCacheSize matches the query cache's size (NewServer).
const figureCacheSize = 1000

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = &DocumentLimit{}

// ExtensionName names the extension for gqlgen.
func (*DocumentLimit) ExtensionName() string { return "DocumentLimit" }

// Validate keeps the schema, which the complexity calculation needs.
func (l *DocumentLimit) Validate(es graphql.ExecutableSchema) error {
	l.es = es
	return nil
}

// MutateOperationContext measures the operation and refuses it when it is
// over a limit.
func (l *DocumentLimit) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc == nil || oc.Operation == nil {
		return nil
	}
	f, ok := docFigures{}, false
	cacheable := figuresCacheable(oc.Operation)
	if cacheable {
		var v any
		if v, ok = l.figures.Load(oc.Operation); ok {
			f = v.(docFigures)
		}
	}
	if !ok {
		f.depth, f.aliases = MeasureDocument(oc.Doc, oc.Operation)
		// The shape first: it is cheap, and it spares the complexity
		// calculation pathological documents.
		if err := l.refuse(f); err != nil {
			return err
		}
		if l.MaxComplexity > 0 && l.es != nil {
			f.complexity = complexity.Calculate(ctx, l.es, oc.Operation, oc.Variables)
		}
		if cacheable {
			if l.entries.Add(1) > figureCacheSize {
				l.figures.Clear()
				l.entries.Store(1)
			}
			l.figures.Store(oc.Operation, f)
		}
	}
	return l.refuse(f)
}

// refuse returns the error for figures over a limit, nil for none.
func (l *DocumentLimit) refuse(f docFigures) *gqlerror.Error {
	var err *gqlerror.Error
	switch {
	case l.MaxDepth > 0 && f.depth > l.MaxDepth:
		err = gqlerror.Errorf("operation is nested %d levels deep, over the limit of %d", f.depth, l.MaxDepth)
	case l.MaxAliases > 0 && f.aliases > l.MaxAliases:
		err = gqlerror.Errorf("operation has %d aliases, over the limit of %d", f.aliases, l.MaxAliases)
	case l.MaxComplexity > 0 && f.complexity > l.MaxComplexity:
		err = gqlerror.Errorf("operation has complexity %d, which exceeds the limit of %d", f.complexity, l.MaxComplexity)
	default:
		return nil
	}
	errcode.Set(err, CodeComplexityLimitExceeded)
	return err
}

// figuresCacheable reports whether op's figures are the same whatever its
// variables: depth and aliases never depend on them, and complexity only
// through the arguments the complexity functions read, which are all
// `first: Int` (NewServer). An operation that declares no Int variable
// has its `first`s written in the document.
func figuresCacheable(op *ast.OperationDefinition) bool {
	for _, v := range op.VariableDefinitions {
		t := v.Type
		for t != nil && t.Elem != nil {
			t = t.Elem
		}
		if t == nil || t.NamedType == "Int" {
			return false
		}
	}
	return true
}

// MeasureDocument returns how deeply op's selection sets nest (introspection
// excluded) and how many aliased fields it runs, fragments expanded. Each
// fragment is measured once and its figures reused at every spread, so the
// cost is linear in the document's size even when fragments multiply, and
// counts saturate instead of overflowing.
func MeasureDocument(doc *ast.QueryDocument, op *ast.OperationDefinition) (depth, aliases int) {
	m := measurer{doc: doc, frags: map[string]*fragMeasure{}}
	return m.selections(op.SelectionSet)
}

type fragMeasure struct{ depth, aliases int }

type measurer struct {
	doc   *ast.QueryDocument
	frags map[string]*fragMeasure
}

func (m *measurer) selections(set ast.SelectionSet) (depth, aliases int) {
	for _, sel := range set {
		var d, a int
		switch s := sel.(type) {
		case *ast.Field:
			if s.Name == "__schema" || s.Name == "__type" {
				continue
			}
			d, a = m.selections(s.SelectionSet)
			d++
			if s.Alias != "" && s.Alias != s.Name {
				a = saturatingAdd(a, 1)
			}
		case *ast.InlineFragment:
			d, a = m.selections(s.SelectionSet)
		case *ast.FragmentSpread:
			d, a = m.fragment(s)
		}
		depth = max(depth, d)
		aliases = saturatingAdd(aliases, a)
	}
	return depth, aliases
}

func (m *measurer) fragment(s *ast.FragmentSpread) (depth, aliases int) {
	if f, ok := m.frags[s.Name]; ok {
		// Measured, or being measured: a cycle (validation refuses them),
		// which then counts nothing more.
		return f.depth, f.aliases
	}
	f := &fragMeasure{}
	m.frags[s.Name] = f
	def := s.Definition
	if def == nil && m.doc != nil {
		def = m.doc.Fragments.ForName(s.Name)
	}
	if def != nil {
		f.depth, f.aliases = m.selections(def.SelectionSet)
	}
	return f.depth, f.aliases
}

func saturatingAdd(a, b int) int {
	if a > math.MaxInt32-b {
		return math.MaxInt32
	}
	return a + b
}

// noIntrospection refuses, before anything runs, a document that asks for
// __schema or __type when introspection is off. gqlgen would otherwise
// answer from inside the resolvers with an untyped error, which the error
// presenter can only call INTERNAL; a client asking for what is switched
// off made a mistake, so it gets GRAPHQL_VALIDATION_FAILED, like any field
// the schema does not offer.
type noIntrospection struct{}

func (noIntrospection) ExtensionName() string                   { return "NoIntrospection" }
func (noIntrospection) Validate(graphql.ExecutableSchema) error { return nil }

func (noIntrospection) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc == nil || oc.Operation == nil || !introspects(oc.Doc, oc.Operation.SelectionSet, map[string]bool{}) {
		return nil
	}
	err := gqlerror.Errorf("introspection is disabled on this server")
	errcode.Set(err, errcode.ValidationFailed)
	return err
}

// introspects reports whether set selects __schema or __type at its level
// (inline fragments and fragment spreads expanded): the only place the
// schema allows them is the query root.
func introspects(doc *ast.QueryDocument, set ast.SelectionSet, seen map[string]bool) bool {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if s.Name == "__schema" || s.Name == "__type" {
				return true
			}
		case *ast.InlineFragment:
			if introspects(doc, s.SelectionSet, seen) {
				return true
			}
		case *ast.FragmentSpread:
			if def := spreadOnce(doc, s, seen); def != nil && introspects(doc, def.SelectionSet, seen) {
				return true
			}
		}
	}
	return false
}

// spreadOnce returns the fragment a spread names, the first time the walk
// over a document meets it (seen records it), and nil after that or when
// the document does not define it: each walk below visits a fragment once,
// so that a document of many spreads of one fragment costs its size.
func spreadOnce(doc *ast.QueryDocument, s *ast.FragmentSpread, seen map[string]bool) *ast.FragmentDefinition {
	if seen[s.Name] {
		return nil
	}
	seen[s.Name] = true
	def := s.Definition
	if def == nil && doc != nil {
		def = doc.Fragments.ForName(s.Name)
	}
	return def
}
