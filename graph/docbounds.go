package graph

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/lexer"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator/core"
)

// Bounds on a document's text, checked before gqlgen parses and validates
// it. Validation is not linear: gqlparser's OverlappingFieldsCanBeMerged
// compares the fields of one selection set (inline fragments flattened)
// pairwise, so a body of repeated fields well under the body limit costs
// minutes of CPU before any limit that runs after validation (depth,
// aliases, complexity, authentication) sees it. These bounds are one pass
// of the lexer over the text, so refusing costs what reading the body did.
const (
	// DefaultMaxDocumentBytes bounds a document's text: five times the
	// largest screen's document (examples/, 3.2 KiB; GraphiQL's
	// introspection query is under 3 KiB). Lexing and parsing cost per
	// byte, so a bound well above real documents keeps the worst one cheap.
	DefaultMaxDocumentBytes = 16 << 10
	// DefaultMaxTokens bounds a document's lexical tokens (names,
	// punctuation, values): about 10 for each field of a typical query,
	// seven times the largest screen's document (279 tokens). Parsing
	// and validating cost per token.
	DefaultMaxTokens = 2_000
	// DefaultMaxSelections bounds the selections of one selection set:
	// fields, fragment spreads and inline fragments, with the selections
	// of its inline fragments counted in it, and the sub-selections of
	// every repeat of one response name counted as one set, as validation
	// merges them. Validation compares a set's fields pairwise, so its
	// cost is the square of this: 100 is several times the widest set a
	// screen of this API selects (a subscription's fields, under 30).
	DefaultMaxSelections = 100
	// DefaultMaxRepeats bounds how often one response name (a field's
	// name, or its alias) may be selected in one selection set (inline
	// fragments merged): validation compares such fields, and their
	// sub-selections, pairwise at every level, so that 100 copies of a
	// field with 40 sub-fields cost seconds. Real documents repeat a
	// name once per inline fragment of a union or interface.
	DefaultMaxRepeats = 10
)

// documentBounds is the gqlgen extension that refuses, before parsing, a
// document over a bound, with COMPLEXITY_LIMIT_EXCEEDED (the contract's
// code for a document that asks too much). It runs after the persisted
// query extension, so that a query sent by its hash alone is the stored
// text, which passed these bounds when it was stored.
//
// The same pass over the tokens also follows the document's grammar and
// its types in the schema, and notes the first error that validation is
// certain to report (see docChecker). A document within the bounds that
// has one is refused with that error alone, GRAPHQL_VALIDATION_FAILED as
// validation would, without being parsed and validated: parsing and
// validating 2,000 tokens costs twenty times what answering
// `{ __typename }` does, and validation reports each of a few hundred
// repeats (of an unknown field, a directive, a variable) as an error of
// its own, which the response then carries.
type documentBounds struct {
	maxBytes, maxTokens, maxSelections, maxRepeats int
	// parsed reports whether the text was parsed and validated already
	// (gqlgen's query cache): such a text passed the bounds before.
	parsed func(ctx context.Context, query string) bool
	// schema is what the document is checked against; nil: the bounds
	// alone.
	schema *ast.Schema
	// suggest adds validation's "Did you mean" hints to its messages, as
	// boundedRules(_, true) does.
	suggest bool
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
} = documentBounds{}

func (documentBounds) ExtensionName() string                   { return "DocumentBounds" }
func (documentBounds) Validate(graphql.ExecutableSchema) error { return nil }

func (b documentBounds) MutateOperationParameters(ctx context.Context, p *graphql.RawParams) *gqlerror.Error {
	if p.Query == "" || len(p.Query) > b.maxBytes {
		return b.check(p.Query) // the size first: the cache would hash the text
	}
	if b.parsed != nil && b.parsed(ctx, p.Query) {
		return nil
	}
	err := b.check(p.Query)
	if err != nil && err.Extensions["code"] == errcode.ValidationFailed && graphql.HasOperationContext(ctx) {
		// gqlgen fills these in after this extension and before it
		// validates: a document refused here in validation's place is
		// logged and counted under its operation's name, as validation's
		// refusals are.
		oc := graphql.GetOperationContext(ctx)
		oc.RawQuery, oc.OperationName, oc.Extensions, oc.Headers = p.Query, p.OperationName, p.Extensions, p.Headers
	}
	return err
}

// check scans query once and returns the refusal of the first bound it
// breaks; else, when the document is one the checker follows to its end,
// the first error validation is certain to report; else nil. A lexical
// error ends the scan without a refusal: the parser reports it, at the
// same place, as it would anyway.
func (b documentBounds) check(query string) *gqlerror.Error {
	if b.maxBytes > 0 && len(query) > b.maxBytes {
		return boundsError("document is %d bytes, over the limit of %d", len(query), b.maxBytes)
	}
	c := checkers.Get().(*docChecker)
	defer c.release()
	c.b, c.lx = b, lexer.New(&ast.Source{Input: query})
	c.advance()
	c.document()
	for !c.done {
		c.advance() // the rest, for the bounds, once the grammar is left
	}
	if c.refusal == nil && c.ok() && c.checking() {
		c.unusedVariables()
	}
	switch {
	case c.refusal != nil:
		return c.refusal
	case c.lexError, c.unsure, c.operations == 0 || c.first == nil:
		return nil
	}
	return c.first
}

func boundsError(format string, args ...any) *gqlerror.Error {
	err := gqlerror.Errorf(format, args...)
	errcode.Set(err, CodeComplexityLimitExceeded)
	return err
}

// maxCheckedNesting is how deeply the checker follows selection sets,
// lists, input objects and list types, which the parser counts together;
// deeper, it leaves the document to the parser, whose limit is a parse
// error the checker must not answer for.
const maxCheckedNesting = parser.MaxNestingDepth - 1

// docChecker reads a document's tokens once, for the bounds (tokens, and
// selectionScanner's selections and repeats) and, at the same time, as a
// recognizer of gqlparser's grammar of executable documents that follows
// each selection set's type in the schema, the way validation's walker
// does. It notes the first of the errors below that it meets; each is one
// validation reports whatever else the document holds:
//
//   - a field its type does not have (FieldsOnCorrectType), or a selection
//     set under a field of a leaf type (ScalarLeafs);
//   - a directive the schema does not define, or used where it may not be
//     (KnownDirectives), or repeated at one location when it is not
//     repeatable (UniqueDirectivesPerLocation);
//   - an argument its field or directive does not define
//     (KnownArgumentNames), or given twice (UniqueArgumentNames);
//   - a variable defined twice in one operation (UniqueVariableNames), or
//     used nowhere in it, its fragments included (NoUnusedVariables), or
//     used in it and not defined (NoUndefinedVariables);
//   - a literal value its argument's, variable's or input field's type
//     cannot take: a scalar of the wrong kind, an Int that is not one, an
//     unknown enum value, a list where one value is expected, an input
//     object with an unknown field or without a required one, null for a
//     non-null type (ValuesOfCorrectType; of the API's own scalars, Time
//     and JSON, as of validation, only null is checked, their values
//     being their coercion's to refuse).
//
// Its messages and locations are validation's. A document it does not
// follow to the end as the parser would (a description, a fragment with
// variables, anything it does not expect) is left to the parser and
// validation, so that a document that does not parse is still refused as
// GRAPHQL_PARSE_FAILED.
type docChecker struct {
	b    documentBounds
	lx   lexer.Lexer
	scan selectionScanner
	tok  lexer.Token // the next token; EOF once done
	// printer prints the value an error will name, as it is read.
	printer valuePrinter

	tokens  int
	done    bool            // the end, a lexical error or a broken bound
	refusal *gqlerror.Error // the bound broken
	// lexError: the parser will report an error of the text itself.
	lexError bool
	// unsure: the document left the grammar the checker follows.
	unsure     bool
	nesting    int
	operations int
	first      *gqlerror.Error // the first certain validation error

	vars       map[string]bool // the current operation's variables
	directives []string        // the names met at the current location
	fieldNames []string        // the fields given in the input objects being read
	args       []string        // the names of the current arguments
	// scopes are the document's operations and fragments, in order, with
	// the variables each uses and the fragments it spreads.
	scopes []scope
}

type scope struct {
	operation bool
	name      string
	vars      []scopeVar // an operation's, in order
	uses      []scopeVar // each variable it uses, where it is first used
	used      map[string]bool
	spreads   []string
}

type scopeVar struct {
	name string
	pos  ast.Position
}

// checkers keeps docCheckers for reuse: their slices, grown to the size
// of the documents they read, are most of what a check allocates.
var checkers = sync.Pool{New: func() any { return new(docChecker) }}

// release empties c, keeping what it allocated but nothing of the
// document it read, and returns it to checkers.
func (c *docChecker) release() {
	clear(c.scan.sets)
	clear(c.scan.names)
	clear(c.scan.big)
	clear(c.vars)
	clear(c.directives)
	clear(c.args)
	clear(c.fieldNames)
	for i := range c.scopes {
		sc := &c.scopes[i]
		clear(sc.vars)
		clear(sc.uses)
		clear(sc.spreads)
		*sc = scope{vars: sc.vars[:0], uses: sc.uses[:0], spreads: sc.spreads[:0]}
	}
	*c = docChecker{
		// Not its builder: one copied once it holds text may not grow.
		printer: valuePrinter{open: c.printer.open[:0]},
		scan: selectionScanner{
			frames: c.scan.frames[:0],
			sets:   c.scan.sets[:0],
			names:  c.scan.names[:0],
			big:    c.scan.big,
		},
		vars:       c.vars,
		directives: c.directives[:0],
		args:       c.args[:0],
		fieldNames: c.fieldNames[:0],
		scopes:     c.scopes[:0],
	}
	checkers.Put(c)
}

// scope is the operation or fragment being read.
func (c *docChecker) scope() *scope { return &c.scopes[len(c.scopes)-1] }

// pushScope starts an operation or a fragment, with the slices a reused
// checker kept.
func (c *docChecker) pushScope(operation bool, name string) {
	if len(c.scopes) < cap(c.scopes) {
		c.scopes = c.scopes[:len(c.scopes)+1]
		sc := c.scope()
		sc.operation, sc.name = operation, name
		return
	}
	c.scopes = append(c.scopes, scope{operation: operation, name: name})
}

// advance reads the next token other than a comment, and counts every
// token, comments included (as the parser's token limit does), against
// the bounds.
func (c *docChecker) advance() {
	for !c.done {
		var err error
		c.tok, err = c.lx.ReadToken() // into place: a token is ten words
		if err != nil {
			c.halt(true)
			return
		}
		tok := &c.tok
		if tok.Kind == lexer.EOF {
			c.halt(false)
			return
		}
		c.tokens++
		if c.b.maxTokens > 0 && c.tokens > c.b.maxTokens {
			c.refuse(boundsError("document has more than %d tokens", c.b.maxTokens))
			return
		}
		if tok.Kind == lexer.Comment {
			continue
		}
		if c.printer.on {
			c.printer.feed(tok)
		}
		n, repeats := c.scan.next(tok)
		if c.b.maxSelections > 0 && n > c.b.maxSelections {
			c.refuse(boundsError("a selection set of the document has more than %d selections", c.b.maxSelections))
			return
		}
		if c.b.maxRepeats > 0 && repeats > c.b.maxRepeats {
			c.refuse(boundsError("a selection set of the document selects %q more than %d times", tok.Value, c.b.maxRepeats))
			return
		}
		return
	}
}

func (c *docChecker) halt(lexError bool) {
	c.done, c.lexError = true, lexError
	c.tok = lexer.Token{Kind: lexer.EOF}
}

func (c *docChecker) refuse(err *gqlerror.Error) {
	c.halt(false)
	c.refusal = err
}

// ok reports whether the checker still follows the document: the end of
// the text is a token like any other, which the grammar may not expect.
func (c *docChecker) ok() bool { return !c.unsure && !c.lexError && c.refusal == nil }

// checking reports whether errors are still looked for: the first is
// enough, and the schema is needed.
func (c *docChecker) checking() bool { return c.first == nil && c.b.schema != nil }

// expect consumes a token of kind k, or leaves the grammar.
func (c *docChecker) expect(k lexer.Type) bool {
	if c.tok.Kind != k {
		c.unsure = true
		return false
	}
	c.advance()
	return true
}

// fail notes a validation error at pos unless one was noted already.
func (c *docChecker) fail(rule string, pos ast.Position, format string, args ...any) {
	if c.first != nil {
		return
	}
	err := &gqlerror.Error{
		Message:   fmt.Sprintf(format, args...),
		Locations: []gqlerror.Location{{Line: pos.Line, Column: pos.Column}},
		Rule:      rule,
	}
	errcode.Set(err, errcode.ValidationFailed)
	c.first = err
}

// nest enters one more level of nesting, or leaves the grammar.
func (c *docChecker) nest() bool {
	if c.nesting >= maxCheckedNesting {
		c.unsure = true
		return false
	}
	c.nesting++
	return true
}

func (c *docChecker) document() {
	for c.ok() && c.tok.Kind != lexer.EOF {
		switch {
		case c.tok.Kind == lexer.BraceL:
			c.operation("")
		case c.tok.Kind == lexer.Name && (c.tok.Value == "query" || c.tok.Value == "mutation" || c.tok.Value == "subscription"):
			c.operation(ast.Operation(c.tok.Value))
		case c.tok.Kind == lexer.Name && c.tok.Value == "fragment":
			c.fragment()
		default:
			c.unsure = true
		}
	}
}

func (c *docChecker) operation(op ast.Operation) {
	c.operations++
	var root *ast.Definition
	loc := ast.LocationQuery
	if s := c.b.schema; s != nil {
		root = s.Query
		switch op {
		case ast.Mutation:
			root, loc = s.Mutation, ast.LocationMutation
		case ast.Subscription:
			root, loc = s.Subscription, ast.LocationSubscription
		}
	}
	c.pushScope(true, "")
	if op != "" {
		c.advance() // query, mutation or subscription
		if c.tok.Kind == lexer.Name {
			c.scope().name = c.tok.Value
			c.advance() // the operation's name
		}
		if c.tok.Kind == lexer.ParenL {
			c.variableDefinitions()
		}
		c.directiveList(loc)
	}
	if c.ok() && c.tok.Kind != lexer.BraceL {
		c.unsure = true
	}
	c.selectionSet(root)
}

func (c *docChecker) fragment() {
	c.advance() // fragment
	if c.tok.Kind != lexer.Name || c.tok.Value == "on" {
		c.unsure = true
		return
	}
	c.pushScope(false, c.tok.Value)
	c.advance() // the fragment's name; variables (legacy) are left to the parser
	if c.tok.Kind != lexer.Name || c.tok.Value != "on" {
		c.unsure = true
		return
	}
	c.advance()
	if c.tok.Kind != lexer.Name {
		c.unsure = true
		return
	}
	var typ *ast.Definition
	if c.b.schema != nil {
		typ = c.b.schema.Types[c.tok.Value]
	}
	c.advance()
	c.directiveList(ast.LocationFragmentDefinition)
	if c.ok() && c.tok.Kind != lexer.BraceL {
		c.unsure = true
	}
	c.selectionSet(typ)
}

func (c *docChecker) variableDefinitions() {
	c.advance() // (
	if c.tok.Kind == lexer.ParenR {
		c.unsure = true // the parser wants at least one
		return
	}
	if c.vars == nil {
		c.vars = map[string]bool{}
	}
	clear(c.vars)
	for c.ok() && c.tok.Kind != lexer.ParenR {
		if c.tok.Kind != lexer.Dollar {
			c.unsure = true
			return
		}
		pos := c.tok.Pos
		c.advance()
		if c.tok.Kind != lexer.Name {
			c.unsure = true
			return
		}
		if c.checking() {
			if c.vars[c.tok.Value] {
				c.fail("UniqueVariableNames", pos, `There can be only one variable named "$%s".`, c.tok.Value)
			}
			c.vars[c.tok.Value] = true
			sc := c.scope()
			sc.vars = append(sc.vars, scopeVar{c.tok.Value, pos})
		}
		c.advance()
		if !c.expect(lexer.Colon) {
			return
		}
		typ := c.typeReference()
		if c.ok() && c.tok.Kind == lexer.Equals {
			c.advance()
			c.value(true, typ)
		}
		c.directiveList(ast.LocationVariableDefinition)
	}
	c.expect(lexer.ParenR)
}

// typeReference reads a variable's type, and returns it while errors are
// looked for (nil otherwise, or when it is not one the parser accepts).
func (c *docChecker) typeReference() *ast.Type {
	var typ *ast.Type
	switch c.tok.Kind {
	case lexer.BracketL:
		if !c.nest() {
			return nil
		}
		c.advance()
		elem := c.typeReference()
		c.expect(lexer.BracketR)
		c.nesting--
		if elem != nil {
			typ = &ast.Type{Elem: elem}
		}
	case lexer.Name:
		if c.checking() {
			typ = &ast.Type{NamedType: c.tok.Value}
		}
		c.advance()
	default:
		c.unsure = true
		return nil
	}
	if c.ok() && c.tok.Kind == lexer.Bang {
		if typ != nil {
			typ.NonNull = true
		}
		c.advance()
	}
	if !c.ok() {
		return nil
	}
	return typ
}

// value reads a value whose expected type is typ (nil: unknown, as for
// validation's walker, which then checks nothing in it), and notes the
// first error ValuesOfCorrectType reports of it (see valueError).
func (c *docChecker) value(constant bool, typ *ast.Type) {
	var def *ast.Definition
	if typ != nil && c.checking() {
		def = c.b.schema.Types[typ.Name()]
	}
	if def == nil {
		typ = nil // validation checks a value only against a known type
	}
	switch c.tok.Kind {
	case lexer.BracketL:
		if !c.nest() {
			return
		}
		start := c.tok.Pos
		// A list where one value is expected is an error whatever it
		// holds (validation checks nothing in it), which prints it.
		wrong := typ != nil && typ.Elem == nil && !customScalar(def) && !c.printer.on
		if wrong {
			c.printer.start(&c.tok)
		}
		c.advance()
		var elem *ast.Type
		if typ != nil {
			elem = typ.Elem
		}
		for c.ok() && c.tok.Kind != lexer.BracketR {
			c.value(constant, elem)
		}
		if c.expect(lexer.BracketR) && wrong && c.checking() {
			if str, ok := c.printer.printed(); ok {
				// A list's raw text, for unexpectedType, is empty, as
				// the parser's is.
				c.fail("ValuesOfCorrectType", start, "%s", unexpectedType(typ, def, "", str))
			}
		}
		c.nesting--
	case lexer.BraceL:
		if !c.nest() {
			return
		}
		pos := c.tok.Pos
		c.advance()
		checkFields := typ != nil && !customScalar(def)
		// Validation reports an object's errors after those of its
		// fields' values, a missing field before an unknown one.
		unknown, unknownPos := "", ast.Position{}
		// The names given, on a stack shared by the objects nested in
		// this one.
		base := len(c.fieldNames)
		for c.ok() && c.tok.Kind != lexer.BraceR {
			if c.tok.Kind != lexer.Name {
				c.unsure = true
				return
			}
			name, namePos := c.tok.Value, c.tok.Pos
			var ftyp *ast.Type
			if checkFields && c.checking() {
				// An enum's or a built-in scalar's fields are none:
				// validation reports each of an object's given for them.
				if f := def.Fields.ForName(name); f != nil {
					ftyp = f.Type
				} else if unknown == "" {
					unknown, unknownPos = name, namePos
				}
				c.fieldNames = append(c.fieldNames, name)
			}
			c.advance()
			if !c.expect(lexer.Colon) {
				return
			}
			c.value(constant, ftyp)
		}
		given := c.fieldNames[base:]
		c.fieldNames = c.fieldNames[:base]
		if c.expect(lexer.BraceR) && checkFields && c.checking() {
			for _, f := range def.Fields {
				if f.Type.NonNull && f.DefaultValue == nil && !slices.Contains(given, f.Name) {
					c.fail("ValuesOfCorrectType", pos, `Field "%s.%s" of required type "%s" was not provided.`, def.Name, f.Name, f.Type.String())
					break
				}
			}
			if unknown != "" {
				c.unknownInputField(def, unknown, unknownPos)
			}
		}
		c.nesting--
	case lexer.Dollar:
		if constant {
			c.unsure = true
			return
		}
		pos := c.tok.Pos
		c.advance()
		if c.tok.Kind == lexer.Name && c.checking() {
			sc := c.scope()
			if sc.used == nil {
				sc.used = map[string]bool{}
			}
			if !sc.used[c.tok.Value] {
				sc.used[c.tok.Value] = true
				sc.uses = append(sc.uses, scopeVar{c.tok.Value, pos})
			}
		}
		c.expect(lexer.Name)
	case lexer.Int, lexer.Float, lexer.String, lexer.BlockString, lexer.Name:
		if typ != nil && c.checking() {
			c.scalarValue(typ, def)
		}
		c.advance()
	default:
		c.unsure = true
	}
}

// customScalar reports whether def is a scalar validation leaves to its
// own coercion (the API's Time and JSON): of a value of such a type, it
// checks only that it is not null where null may not be.
func customScalar(def *ast.Definition) bool {
	return def.Kind == ast.Scalar && !def.OneOf("Int", "Float", "String", "Boolean", "ID")
}

// scalarValue checks the token of one value (not a list, an object or a
// variable) against its type typ, defined by def, as ValuesOfCorrectType
// does, and notes the error it reports.
func (c *docChecker) scalarValue(typ *ast.Type, def *ast.Definition) {
	tok := &c.tok
	v := ast.Value{Raw: tok.Value}
	switch tok.Kind {
	case lexer.Int:
		v.Kind = ast.IntValue
	case lexer.Float:
		v.Kind = ast.FloatValue
	case lexer.String:
		v.Kind = ast.StringValue
	case lexer.BlockString:
		v.Kind = ast.BlockValue
	default:
		switch tok.Value {
		case "true", "false":
			v.Kind = ast.BooleanValue
		case "null":
			v.Kind = ast.NullValue
		default:
			v.Kind = ast.EnumValue
		}
	}
	pos := tok.Pos
	if v.Kind == ast.NullValue {
		if typ.NonNull {
			c.fail("ValuesOfCorrectType", pos, `Expected value of type "%s", found null.`, typ.String())
		}
		return
	}
	if customScalar(def) {
		return
	}
	unexpected := func() {
		c.fail("ValuesOfCorrectType", pos, "%s", unexpectedType(typ, def, v.Raw, v.String()))
	}
	switch v.Kind {
	case ast.IntValue:
		if _, err := strconv.ParseInt(v.Raw, 10, 64); err != nil || !def.OneOf("Int", "Float", "ID") {
			unexpected()
		}
	case ast.FloatValue:
		if _, err := strconv.ParseFloat(v.Raw, 64); err != nil || !def.OneOf("Float") {
			unexpected()
		}
	case ast.StringValue, ast.BlockValue:
		switch {
		case def.Kind == ast.Enum:
			c.fail("ValuesOfCorrectType", pos, `Enum "%s" cannot represent non-enum value: %s.`, typ.String(), v.String())
			c.enumHint(def, v.Raw)
		case !def.OneOf("String", "ID"):
			unexpected()
		}
	case ast.BooleanValue:
		if !def.OneOf("Boolean") {
			unexpected()
		}
	case ast.EnumValue:
		switch {
		case def.Kind != ast.Enum:
			unexpected() // with no hint: only an enum has values to suggest
		case def.EnumValues.ForName(v.Raw) == nil:
			c.fail("ValuesOfCorrectType", pos, `Value "%s" does not exist in "%s" enum.`, v.Raw, typ.String())
			c.enumHint(def, v.Raw)
		}
	}
}

// enumHint adds validation's hint of def's values to the error just
// noted, when suggestions are on.
func (c *docChecker) enumHint(def *ast.Definition, raw string) {
	if !c.b.suggest || c.first == nil || c.first.Rule != "ValuesOfCorrectType" {
		return
	}
	names := make([]string, 0, len(def.EnumValues))
	for _, e := range def.EnumValues {
		names = append(names, e.Name)
	}
	core.SuggestListQuoted("Did you mean the enum value", raw, names)(c.first)
}

// unknownInputField notes a field an input object's type def does not
// have, as ValuesOfCorrectType reports it (at the field's name).
func (c *docChecker) unknownInputField(def *ast.Definition, name string, pos ast.Position) {
	if c.first != nil {
		return
	}
	c.fail("ValuesOfCorrectType", pos, `Field "%s" is not defined by type "%s".`, name, def.Name)
	if c.b.suggest {
		names := make([]string, 0, len(def.Fields))
		for _, f := range def.Fields {
			names = append(names, f.Name)
		}
		core.SuggestListQuoted("Did you mean", name, names)(c.first)
	}
}

// valuePrinter prints a value from its tokens, as they are read, the way
// ast.Value's String does (lists and objects without spaces, strings
// quoted as graphql-js prints them), without building the value: a list
// of 2,000 strings would be 4,000 allocations, and reading the text again
// would cost what reading it did.
type valuePrinter struct {
	b strings.Builder
	// open marks the lists and objects entered (true: an object).
	open []bool
	// first: the next token is a list's first element or an object's
	// first key; key: it is an object's key; colon: it is the colon after
	// a key; dollar: it is a variable's name.
	first, key, colon, dollar bool
	on, bad                   bool // printing; a token it does not expect
}

// start begins a value whose first token is tok.
func (p *valuePrinter) start(tok *lexer.Token) {
	p.b.Reset()
	p.open = p.open[:0]
	p.first, p.key, p.colon, p.dollar, p.on, p.bad = false, false, false, false, true, false
	p.feed(tok)
}

// feed takes the value's next token; past the value's end, it stops.
func (p *valuePrinter) feed(tok *lexer.Token) {
	if !p.on || tok.Kind == lexer.Comment {
		return
	}
	inObject := len(p.open) > 0 && p.open[len(p.open)-1]
	switch {
	case p.colon:
		p.colon = false
		if tok.Kind != lexer.Colon {
			p.stop(true)
			return
		}
		p.b.WriteByte(':')
		return
	case p.dollar:
		p.dollar = false
		if tok.Kind != lexer.Name {
			p.stop(true)
			return
		}
		p.b.WriteString(tok.Value)
		p.end(inObject)
		return
	}
	if tok.Kind == lexer.BracketR || tok.Kind == lexer.BraceR {
		if len(p.open) == 0 || inObject != (tok.Kind == lexer.BraceR) {
			p.stop(true)
			return
		}
		if inObject {
			p.b.WriteByte('}')
		} else {
			p.b.WriteByte(']')
		}
		p.open = p.open[:len(p.open)-1]
		p.first = false
		p.end(len(p.open) > 0 && p.open[len(p.open)-1])
		return
	}
	if !p.first && len(p.open) > 0 && (!inObject || p.key) {
		p.b.WriteByte(',')
	}
	p.first = false
	if inObject && p.key {
		if tok.Kind != lexer.Name {
			p.stop(true)
			return
		}
		p.b.WriteString(tok.Value)
		p.key, p.colon = false, true
		return
	}
	switch tok.Kind {
	case lexer.BracketL:
		p.b.WriteByte('[')
		p.open = append(p.open, false)
		p.first = true
		return
	case lexer.BraceL:
		p.b.WriteByte('{')
		p.open = append(p.open, true)
		p.first, p.key = true, true
		return
	case lexer.Dollar:
		p.b.WriteByte('$')
		p.dollar = true
		return
	case lexer.String, lexer.BlockString:
		if plain(tok.Value) {
			p.b.WriteByte('"')
			p.b.WriteString(tok.Value)
			p.b.WriteByte('"')
		} else {
			p.b.WriteString((&ast.Value{Kind: ast.StringValue, Raw: tok.Value}).String())
		}
	case lexer.Int, lexer.Float, lexer.Name:
		p.b.WriteString(tok.Value)
	default:
		p.stop(true)
		return
	}
	p.end(inObject)
}

// end closes one element or field value: in an object the next token is
// a key; at the top, the value is whole.
func (p *valuePrinter) end(inObject bool) {
	p.key = inObject
	if len(p.open) == 0 {
		p.stop(false)
	}
}

func (p *valuePrinter) stop(bad bool) { p.on, p.bad = false, p.bad || bad }

// printed returns the value printed, or false when it was not one whole
// value of tokens it expects.
func (p *valuePrinter) printed() (string, bool) {
	if p.on || p.bad {
		return "", false
	}
	return p.b.String(), true
}

// plain reports whether s prints quoted as it is: no byte of it is one
// graphql-js's printString escapes (controls, quote, backslash, DEL, and
// the C1 controls, whose UTF-8 begins with 0xC2).
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c == 0x7f || c == 0xC2 {
			return false
		}
	}
	return true
}

// unexpectedType is ValuesOfCorrectType's message for a value (raw, and
// printed as str) that type typ, defined by def, cannot represent.
func unexpectedType(typ *ast.Type, def *ast.Definition, raw, str string) string {
	switch typ.String() {
	case "Int", "Int!":
		if _, err := strconv.ParseInt(raw, 10, 32); errors.Is(err, strconv.ErrRange) {
			return "Int cannot represent non 32-bit signed integer value: " + str
		}
		return "Int cannot represent non-integer value: " + str
	case "String", "String!", "[String]":
		return "String cannot represent a non string value: " + str
	case "Boolean", "Boolean!":
		return "Boolean cannot represent a non boolean value: " + str
	case "Float", "Float!":
		return "Float cannot represent non numeric value: " + str
	case "ID", "ID!":
		return "ID cannot represent a non-string and non-integer value: " + str
	}
	if def.Kind == ast.Enum {
		return fmt.Sprintf(`Enum "%s" cannot represent non-enum value: %s.`, typ.String(), str)
	}
	return fmt.Sprintf(`Expected value of type "%s", found %s.`, typ.String(), str)
}

// arguments reads the arguments of a field (the field name of the type
// typ) or of a directive (typ ""), whose definitions are defs when known;
// an unknown argument is reported at pos, as validation does.
func (c *docChecker) arguments(defs ast.ArgumentDefinitionList, known bool, pos ast.Position, typ, name string) {
	c.advance() // (
	if c.tok.Kind == lexer.ParenR {
		c.unsure = true // the parser wants at least one
		return
	}
	c.args = c.args[:0]
	for c.ok() && c.tok.Kind != lexer.ParenR {
		var argType *ast.Type // the argument's, for its value
		if c.tok.Kind == lexer.Name && c.checking() {
			arg := c.tok.Value
			if d := defs.ForName(arg); known && d != nil {
				argType = d.Type
			}
			switch {
			case slices.Contains(c.args, arg):
				c.fail("UniqueArgumentNames", c.tok.Pos, `There can be only one argument named "%s".`, arg)
			case known && defs.ForName(arg) == nil:
				names := make([]string, 0, len(defs))
				for _, d := range defs {
					names = append(names, d.Name)
				}
				if typ != "" {
					c.fail("KnownArgumentNames", pos, `Unknown argument "%s" on field "%s.%s".`, arg, typ, name)
				} else {
					c.fail("KnownArgumentNames", pos, `Unknown argument "%s" on directive "@%s".`, arg, name)
				}
				if c.b.suggest {
					core.SuggestListQuoted("Did you mean", arg, names)(c.first)
				}
			}
			c.args = append(c.args, arg)
		}
		if !c.expect(lexer.Name) || !c.expect(lexer.Colon) {
			return
		}
		c.value(false, argType)
	}
	c.expect(lexer.ParenR)
}

// directiveList reads the directives at one location.
func (c *docChecker) directiveList(loc ast.DirectiveLocation) {
	c.directives = c.directives[:0]
	for c.ok() && c.tok.Kind == lexer.At {
		c.advance()
		if c.tok.Kind != lexer.Name {
			c.unsure = true
			return
		}
		name, pos := c.tok.Value, c.tok.Pos
		var def *ast.DirectiveDefinition
		if c.checking() {
			def = c.b.schema.Directives[name]
			switch {
			case def == nil:
				c.fail("KnownDirectives", pos, `Unknown directive "@%s".`, name)
			case !slices.Contains(def.Locations, loc):
				c.fail("KnownDirectives", pos, `Directive "@%s" may not be used on %s.`, name, loc)
			case !def.IsRepeatable && slices.Contains(c.directives, name):
				c.fail("UniqueDirectivesPerLocation", pos, `The directive "@%s" can only be used once at this location.`, name)
			}
			c.directives = append(c.directives, name)
		}
		c.advance()
		if c.ok() && c.tok.Kind == lexer.ParenL {
			var defs ast.ArgumentDefinitionList
			if def != nil {
				defs = def.Arguments
			}
			c.arguments(defs, def != nil, pos, "", name)
		}
	}
}

// selectionSet reads a selection set whose type is typ (nil: unknown, as
// for validation's walker, which then checks nothing in it).
func (c *docChecker) selectionSet(typ *ast.Definition) {
	if !c.ok() || !c.nest() {
		return
	}
	c.advance() // {
	if c.tok.Kind == lexer.BraceR {
		c.unsure = true // the parser wants at least one selection
		return
	}
	for c.ok() && c.tok.Kind != lexer.BraceR {
		c.selection(typ)
	}
	c.expect(lexer.BraceR)
	c.nesting--
}

// selection reads one selection of a set of type typ. The recursion
// through nested sets goes through it and selectionSet alone, whose
// frames are kept small: a document of several hundred nested sets grows
// the goroutine's stack by that many of them.
func (c *docChecker) selection(typ *ast.Definition) {
	var next *ast.Definition
	if c.tok.Kind == lexer.Spread {
		next = c.fragmentHead(typ)
	} else {
		next = c.fieldHead(typ)
	}
	if c.ok() && c.tok.Kind == lexer.BraceL {
		c.selectionSet(next)
	}
}

// fragmentHead reads a fragment spread, or an inline fragment up to its
// selection set, and returns that set's type.
func (c *docChecker) fragmentHead(typ *ast.Definition) *ast.Definition {
	c.advance() // ...
	if c.tok.Kind == lexer.Name && c.tok.Value != "on" {
		if c.checking() {
			sc := c.scope()
			sc.spreads = append(sc.spreads, c.tok.Value)
		}
		c.advance() // a fragment spread
		c.directiveList(ast.LocationFragmentSpread)
		if c.ok() && c.tok.Kind == lexer.BraceL {
			c.unsure = true
		}
		return nil
	}
	if c.tok.Kind == lexer.Name { // on
		c.advance()
		if c.tok.Kind != lexer.Name {
			c.unsure = true
			return nil
		}
		typ = nil
		if c.b.schema != nil {
			typ = c.b.schema.Types[c.tok.Value]
		}
		c.advance()
	}
	c.directiveList(ast.LocationInlineFragment)
	if c.ok() && c.tok.Kind != lexer.BraceL {
		c.unsure = true
	}
	return typ
}

// fieldHead reads a field up to its selection set, and returns the type
// of that set (nil: unknown).
func (c *docChecker) fieldHead(typ *ast.Definition) *ast.Definition {
	if c.tok.Kind != lexer.Name {
		c.unsure = true
		return nil
	}
	pos, name := c.tok.Pos, c.tok.Value
	c.advance()
	if c.tok.Kind == lexer.Colon { // name was the alias
		c.advance()
		if c.tok.Kind != lexer.Name {
			c.unsure = true
			return nil
		}
		name = c.tok.Value
		c.advance()
	}
	var next *ast.Definition // the field's type, for its selection set
	var def *ast.FieldDefinition
	if c.checking() {
		def, next = c.field(typ, name, pos)
	}
	if c.ok() && c.tok.Kind == lexer.ParenL {
		var defs ast.ArgumentDefinitionList
		typName := ""
		if def != nil && typ != nil {
			defs, typName = def.Arguments, typ.Name
		}
		c.arguments(defs, typName != "", pos, typName, name)
	}
	c.directiveList(ast.LocationField)
	if c.ok() && c.tok.Kind == lexer.BraceL && next != nil && next.IsLeafType() && c.checking() {
		c.fail("ScalarLeafs", pos, `Field "%s" must not have a selection since type "%s" has no subfields.`, name, next.Name)
	}
	return next
}

// typenameField is validation's walker's definition of __typename.
var typenameField = &ast.FieldDefinition{Name: "__typename", Type: ast.NamedType("String", nil)}

// field checks that typ has the field name, as validation's walker and
// FieldsOnCorrectType do, and returns the field's definition and type
// (nil: unknown).
func (c *docChecker) field(typ *ast.Definition, name string, pos ast.Position) (*ast.FieldDefinition, *ast.Definition) {
	s := c.b.schema
	if name == "__typename" {
		return typenameField, s.Types["String"]
	}
	if typ == nil {
		return nil, nil
	}
	def := typ.Fields.ForName(name)
	if def != nil {
		return def, s.Types[def.Type.Name()]
	}
	hint := ""
	if c.b.suggest {
		if typ.IsAbstractType() {
			// Validation would suggest types, by rules of its own: leave
			// this one to it.
			return nil, nil
		}
		if typ.Kind == ast.Object || typ.Kind == ast.Interface {
			names := make([]string, 0, len(typ.Fields))
			for _, f := range typ.Fields {
				names = append(names, f.Name)
			}
			if s := core.SuggestionList(name, names); s != nil {
				hint = " Did you mean " + core.QuotedOrList(s...) + "?"
			}
		}
	}
	c.fail("FieldsOnCorrectType", pos, `Cannot query field "%s" on type "%s".%s`, name, typ.Name, hint)
	return nil, nil
}

// unusedVariables notes a variable an operation defines and neither it
// nor a fragment it spreads (however deep) uses, as NoUnusedVariables
// does, or one they use that it does not define, as NoUndefinedVariables
// does (validation's walker visits the first fragment of a name).
func (c *docChecker) unusedVariables() {
	var frags map[string]*scope
	for i := range c.scopes {
		sc := &c.scopes[i]
		if sc.operation {
			continue
		}
		if frags == nil {
			frags = map[string]*scope{}
		}
		if frags[sc.name] == nil {
			frags[sc.name] = sc
		}
	}
	for i := range c.scopes {
		op := &c.scopes[i]
		if !op.operation {
			continue
		}
		// What it and the fragments it reaches use, then what it
		// defines: a document of a few hundred variables and no use
		// costs no map of them.
		var uses []scopeVar
		seen := map[string]bool{}
		var walk func(sc *scope)
		walk = func(sc *scope) {
			uses = append(uses, sc.uses...)
			for _, f := range sc.spreads {
				if !seen[f] && frags[f] != nil {
					seen[f] = true
					walk(frags[f])
				}
			}
		}
		walk(op)
		used := make(map[string]bool, len(uses))
		for _, u := range uses {
			used[u.name] = true
		}
		for _, v := range op.vars {
			if used[v.name] {
				continue
			}
			if op.name != "" {
				c.fail("NoUnusedVariables", v.pos, `Variable "$%s" is never used in operation "%s".`, v.name, op.name)
			} else {
				c.fail("NoUnusedVariables", v.pos, `Variable "$%s" is never used.`, v.name)
			}
		}
		if c.first == nil && len(uses) > 0 {
			defined := make(map[string]bool, len(op.vars))
			for _, v := range op.vars {
				defined[v.name] = true
			}
			for _, u := range uses {
				if defined[u.name] {
					continue
				}
				if op.name != "" {
					c.fail("NoUndefinedVariables", u.pos, `Variable "$%s" is not defined by operation "%s".`, u.name, op.name)
				} else {
					c.fail("NoUndefinedVariables", u.pos, `Variable "$%s" is not defined.`, u.name)
				}
			}
		}
		if c.first != nil {
			return
		}
	}
}

// selectionScanner follows the nesting of a document's tokens and counts
// the selections of each selection set. A brace opens a selection set
// unless it is inside arguments, a list or an input object (a value); a
// selection is a field (an alias and its field are one), a fragment spread
// or an inline fragment, whose own selections count in the enclosing set.
type selectionScanner struct {
	frames []frame
	// sets are the document's selection sets, the repeats of one response
	// name merged, by the index frames and names give them.
	sets []setCount
	// names are the response names of every set, each set's a list from
	// its head: most sets select a few names, which a short walk finds
	// for less than a map's hashing costs (a document of a few hundred
	// nested sets would otherwise hash each of its names twice); past
	// smallSet names, a set's are found through big.
	names []nameCount
	big   map[setName]int32
	// prev is the previous token's kind and value.
	prev      lexer.Type
	prevValue string
	// aliased: the previous tokens were `alias :`, so this name is the
	// aliased field, already counted.
	aliased bool
	// inline: an inline fragment (`...` not followed by a fragment name)
	// was seen: the next selection set is merged into the current one.
	inline bool
}

type frameKind uint8

const (
	selectionSet frameKind = iota
	value                  // ( [ or { inside arguments, variables or values
)

type frame struct {
	kind frameKind
	// set is the selection set this frame adds to: its own, or its
	// parent's for an inline fragment.
	set int32
}

type setName struct {
	set  int32
	name string
}

type setCount struct {
	n int
	// distinct is how many response names it selects, head the first of
	// them in names (-1: none).
	distinct int
	head     int32
	// last is the response name of the set's last field, whose selection
	// set a brace opens (-1: none).
	last int32
}

// smallSet is how many names a set's list holds before they are mapped.
const smallSet = 8

type nameCount struct {
	name string
	n    int32
	// child is the selection set of all the name's repeats together, 0
	// until it has one (set 0 is the first operation's, never a child):
	// validation merges the fields of one response name and compares
	// their sub-selections pairwise, so 10 copies of a field with 200
	// sub-fields cost as a set of 2,000 would.
	child int32
	next  int32 // the set's next name, -1 after its last
}

func (s *selectionScanner) newSet() int32 {
	s.sets = append(s.sets, setCount{head: -1, last: -1})
	return int32(len(s.sets) - 1)
}

// name returns the index in names of set's response name, added if new.
func (s *selectionScanner) name(set int32, name string) int32 {
	c := &s.sets[set]
	if c.distinct > smallSet {
		if i, ok := s.big[setName{set, name}]; ok {
			return i
		}
	} else {
		for i := c.head; i >= 0; i = s.names[i].next {
			if s.names[i].name == name {
				return i
			}
		}
	}
	i := int32(len(s.names))
	s.names = append(s.names, nameCount{name: name, next: c.head})
	c.head = i
	c.distinct++
	switch {
	case c.distinct == smallSet+1:
		if s.big == nil {
			s.big = map[setName]int32{}
		}
		for j := c.head; j >= 0; j = s.names[j].next {
			s.big[setName{set, s.names[j].name}] = j
		}
	case c.distinct > smallSet:
		s.big[setName{set, name}] = i
	}
	return i
}

// child is the merged selection set of the response name set last
// selected.
func (s *selectionScanner) child(set int32) int32 {
	last := s.sets[set].last
	if last < 0 {
		return s.newSet()
	}
	if s.names[last].child == 0 {
		ch := s.newSet()
		s.names[last].child = ch
	}
	return s.names[last].child
}

// next takes the next token and returns the selection count of the set it
// added a selection to, and how often that set selects the token's
// response name (0 and 0 when it added none).
func (s *selectionScanner) next(tok *lexer.Token) (int, int) {
	n, repeats := s.add(tok)
	s.prev, s.prevValue = tok.Kind, tok.Value
	return n, repeats
}

func (s *selectionScanner) add(tok *lexer.Token) (int, int) {
	top := frame{kind: value}
	inSet := false
	if len(s.frames) > 0 {
		top = s.frames[len(s.frames)-1]
		inSet = top.kind == selectionSet
	}
	switch tok.Kind {
	case lexer.BraceL:
		switch {
		case len(s.frames) == 0:
			s.frames = append(s.frames, frame{kind: selectionSet, set: s.newSet()})
		case !inSet:
			s.frames = append(s.frames, frame{kind: value})
		case s.inline:
			s.frames = append(s.frames, frame{kind: selectionSet, set: top.set})
		default:
			s.frames = append(s.frames, frame{kind: selectionSet, set: s.child(top.set)})
		}
		s.inline = false
	case lexer.ParenL, lexer.BracketL:
		s.frames = append(s.frames, frame{kind: value})
	case lexer.BraceR, lexer.ParenR, lexer.BracketR:
		if len(s.frames) > 0 {
			s.frames = s.frames[:len(s.frames)-1]
		}
	case lexer.Colon:
		if inSet && s.prev == lexer.Name {
			s.aliased = true
		}
	case lexer.Spread:
		if inSet {
			c := &s.sets[top.set]
			c.n++
			s.inline = true // until a fragment name says otherwise
			return c.n, 0
		}
	case lexer.Name:
		if !inSet {
			return 0, 0
		}
		switch {
		case s.prev == lexer.Spread && tok.Value != "on":
			s.inline = false // a fragment spread, counted at `...`
		case s.prev == lexer.Spread, s.prev == lexer.At,
			s.prev == lexer.Name && s.prevValue == "on" && s.inline:
			// a type condition or a directive's name
		case s.aliased:
			s.aliased = false
		default:
			// The first name of a field is its response name: the alias
			// when it has one.
			i := s.name(top.set, tok.Value)
			s.names[i].n++
			c := &s.sets[top.set]
			c.n++
			c.last = i
			return c.n, int(s.names[i].n)
		}
	}
	return 0, 0
}
