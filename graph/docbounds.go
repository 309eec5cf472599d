package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/lexer"
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
type documentBounds struct {
	maxBytes, maxTokens, maxSelections, maxRepeats int
	// parsed reports whether the text was parsed and validated already
	// (gqlgen's query cache): such a text passed the bounds before.
	parsed func(ctx context.Context, query string) bool
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
	return b.check(p.Query)
}

// check scans query once and returns the refusal of the first bound it
// breaks, nil when it breaks none. A lexical error ends the scan without a
// refusal: the parser reports it, at the same place, as it would anyway.
func (b documentBounds) check(query string) *gqlerror.Error {
	if b.maxBytes > 0 && len(query) > b.maxBytes {
		return boundsError("document is %d bytes, over the limit of %d", len(query), b.maxBytes)
	}
	s := selectionScanner{}
	lx := lexer.New(&ast.Source{Input: query})
	tokens := 0
	for {
		tok, err := lx.ReadToken()
		if err != nil || tok.Kind == lexer.EOF {
			return nil
		}
		tokens++
		if b.maxTokens > 0 && tokens > b.maxTokens {
			return boundsError("document has more than %d tokens", b.maxTokens)
		}
		n, repeats := s.next(tok)
		if b.maxSelections > 0 && n > b.maxSelections {
			return boundsError("a selection set of the document has more than %d selections", b.maxSelections)
		}
		if b.maxRepeats > 0 && repeats > b.maxRepeats {
			return boundsError("a selection set of the document selects %q more than %d times", tok.Value, b.maxRepeats)
		}
	}
}

func boundsError(format string, args ...any) *gqlerror.Error {
	err := gqlerror.Errorf(format, args...)
	errcode.Set(err, CodeComplexityLimitExceeded)
	return err
}

// selectionScanner follows the nesting of a document's tokens and counts
// the selections of each selection set. A brace opens a selection set
// unless it is inside arguments, a list or an input object (a value); a
// selection is a field (an alias and its field are one), a fragment spread
// or an inline fragment, whose own selections count in the enclosing set.
type selectionScanner struct {
	frames []frame
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
	// count is the selections of the set this frame adds to: its own, or
	// its parent's for an inline fragment.
	count *setCount
}

type setCount struct {
	n     int
	names map[string]int // response name -> selections of it
	// children is, per response name, the selections of its selection
	// sets, all its repeats' together: validation merges the fields of
	// one response name and compares their sub-selections pairwise, so 10
	// copies of a field with 200 sub-fields cost as a set of 2,000 would.
	children map[string]*setCount
	// last is the response name of the set's last field, whose selection
	// set a brace opens.
	last string
}

// child is the merged selection set of the response name last selected.
func (c *setCount) child() *setCount {
	if c.children == nil {
		c.children = map[string]*setCount{}
	}
	ch := c.children[c.last]
	if ch == nil {
		ch = new(setCount)
		c.children[c.last] = ch
	}
	return ch
}

// next takes the next token and returns the selection count of the set it
// added a selection to, and how often that set selects the token's
// response name (0 and 0 when it added none).
func (s *selectionScanner) next(tok lexer.Token) (int, int) {
	n, repeats := s.add(tok)
	s.prev, s.prevValue = tok.Kind, tok.Value
	return n, repeats
}

func (s *selectionScanner) add(tok lexer.Token) (int, int) {
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
			s.frames = append(s.frames, frame{kind: selectionSet, count: new(setCount)})
		case !inSet:
			s.frames = append(s.frames, frame{kind: value})
		case s.inline:
			s.frames = append(s.frames, frame{kind: selectionSet, count: top.count})
		default:
			s.frames = append(s.frames, frame{kind: selectionSet, count: top.count.child()})
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
			top.count.n++
			s.inline = true // until a fragment name says otherwise
			return top.count.n, 0
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
			c := top.count
			c.n++
			if c.names == nil {
				c.names = map[string]int{}
			}
			c.names[tok.Value]++
			c.last = tok.Value
			return c.n, c.names[tok.Value]
		}
	}
	return 0, 0
}
