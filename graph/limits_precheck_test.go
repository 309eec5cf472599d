package graph

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"
	"github.com/vektah/gqlparser/v2/validator/core"
	"github.com/vektah/gqlparser/v2/validator/rules"

	"github.com/partnercenter/multichannel/graph/generated"
)

// introspectionQuery is GraphiQL's.
const introspectionQuery = `query IntrospectionQuery {
  __schema {
    queryType { name } mutationType { name } subscriptionType { name }
    types { ...FullType }
    directives { name description locations args { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description
  fields(includeDeprecated: true) { name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } }
}`

// precheckSeeds are documents for the checker: valid ones, the hostile
// kinds, each error it answers for, and shapes it must leave to the parser.
var precheckSeeds = []string{
	`{ __typename }`,
	introspectionQuery,
	`query($t: [String!] = ["a", "b"]) { events(filter: {types: $t}) { totalCount } }`,
	`query Q($n: Int = 3, $m: [Int!]! @deprecated) @include(if: true) { customers(first: $n) { totalCount } }`,
	`{ a: __typename b: __typename ... on Query { __typename } ... @skip(if: false) { __typename } ...F } fragment F on Query { __typename }`,
	`mutation { __typename } subscription { __typename }`,
	// Errors the checker answers for.
	`{ f0 f1 f2 }`,
	`{ viewr { userId } }`,
	`{ viewer { userI } }`,
	`{ __typename { __typename } }`,
	`{ __typename @include(if: true) @include(if: false) }`,
	`{ __typename @nope }`,
	`{ __typename @deprecated }`,
	`query($v: Int, $v: Int) { __typename }`,
	`query @skip(if: true) { __typename }`,
	`fragment F on Query { nope } { ...F }`,
	`{ ... on Nope { a } b }`,
	`{ __typename(a: 1) }`,
	`{ customer(id: "x", id: "y") { id } }`,
	`{ customer(idd: "x") { id } }`,
	`{ __typename @include(if: true, iff: false) }`,
	`{ __typename @include(if: true, if: false) }`,
	`query($v: Int) { __typename }`,
	`query Q($v: Int, $w: Boolean) { customers(first: $v) { totalCount } }`,
	`query Q($v: Int, $w: Boolean) @include(if: $w) { customers(first: $v) { totalCount } }`,
	`query Q($v: Int, $w: Boolean) { ...A } fragment A on Query { ...B } fragment B on Query { customers(first: $v) { totalCount } ...A } fragment C on Query { __typename @skip(if: $w) }`,
	`query Q($v: Int, $w: Boolean) { ...A @include(if: $w) } fragment A on Query { customers(first: $v) { totalCount } }`,
	`query Q($v: Int) { ...A } fragment A on Query { __typename } fragment A on Query { customers(first: $v) { totalCount } }`,
	`query Q($v: Int) { ...A } query R($w: Int) { ...A } fragment A on Query { customers(first: $v) { totalCount } }`,
	`query($v: Int, $w: Int = 3) { customers(first: $w) { totalCount } }`,
	`query Q { ...A } query R($n: Int) { ...A } fragment A on Query { customers(first: $n) { totalCount } }`,
	`{ events(filter: {types: [$x, $y, $x]}) { totalCount } } fragment F on Query { customers(first: $z) { totalCount } }`,
	"query(" + strings.ReplaceAll(distinctNames("$v", 40), " ", ": Int ") + ") { __typename }",
	"{ __typename(" + strings.ReplaceAll(distinctNames("a", 40), " ", ": 1 ") + ") }",
	strings.Repeat("{ a ", 300) + strings.Repeat("}", 300),
	"query(" + strings.Repeat("$v: Int ", 40) + ") { __typename }",
	"{ __typename " + strings.Repeat("@include(if: true) ", 40) + "}",
	// Documents the checker must leave to the parser or to validation.
	`{ f0 `,
	`{ f0 } }`,
	`{ f0 }}`,
	`{ f0 ( ) }`,
	`{ f0 {} }`,
	`{}`,
	`"described" query { f0 }`,
	`"described" { f0 }`,
	`fragment F($x: Int) on Query { f0 } { ...F }`,
	`fragment F on Query { f0 }`,
	`fragment on on Query { f0 } { ...on }`,
	`{ ... "on" Query { f0 } }`,
	`query($v: Int = $w) { f0 }`,
	`query($v: Int!!) { f0 }`,
	`query("d" $v: Int) { f0 }`,
	`{ f0(a: [[[1]]], b: {c: {d: [$x]}}) }`,
	`{ f0 # a comment
	}`,
	`{ f0 } type T { a: Int }`,
	`{ f0 & }`,
	`{ __typename(a: 1) @include }`,
	`{ __type(name: "` + strings.Repeat("x", 100) + `") { name } }`,
	`{ __type(name: "` + strings.Repeat("x", 100),
	`{ f0(a: """block""") }`,
	strings.Repeat("[", 1200),
	"{ f(a: " + strings.Repeat("[", 999) + strings.Repeat("]", 999) + ") }",
	"{ f(a: " + strings.Repeat("[", 1001) + strings.Repeat("]", 1001) + ") }",
}

// valueSeeds are literal values against their types: each error of
// ValuesOfCorrectType, and values it accepts.
var valueSeeds = []string{
	`{ events(filter: {types: [1, 2]}) { totalCount } }`,
	`{ events(filter: {types: ["a", null]}) { totalCount } }`,
	`{ events(filter: {types: "a", stream: 1.5}) { totalCount } }`,
	`{ events(filter: {types: {a: 1}}) { totalCount } }`,
	`{ events(filter: {stream: ["a", "b"]}) { totalCount } }`,
	`{ events(filter: {stream: """block""", actorUserId: 12, correlationId: 1.5}) { totalCount } }`,
	`{ events(filter: {from: 1, to: [true]}) { totalCount } }`,
	`{ events(filter: {from: null, to: {a: 1}}) { totalCount } }`,
	`{ events(filter: {stram: "a"}) { totalCount } }`,
	`{ events(filter: [{stream: "a"}]) { totalCount } }`,
	`{ events(filter: 3) { totalCount } }`,
	`{ events(filter: ENUM) { totalCount } }`,
	`{ events(first: "3") { totalCount } }`,
	`{ events(first: 99999999999999999999) { totalCount } }`,
	`{ events(first: 2147483648) { totalCount } }`,
	`{ events(first: 1e400) { totalCount } }`,
	`{ events(first: 1.0) { totalCount } }`,
	`{ events(first: true) { totalCount } }`,
	`{ events(first: FIRST) { totalCount } }`,
	`{ events(first: [1, 2]) { totalCount } }`,
	`{ events(first: {a: 1}) { totalCount } }`,
	`{ customers(filter: {cloud: PUBLIK}) { totalCount } }`,
	`{ customers(filter: {cloud: "PUBLIC"}) { totalCount } }`,
	`{ customers(filter: {cloud: 1}) { totalCount } }`,
	`{ customers(filter: {cloud: [PUBLIC]}) { totalCount } }`,
	`{ customers(filter: {cloud: PUBLIC, nameContains: null}) { totalCount } }`,
	`{ customer(id: null) { id } }`,
	`{ customer(id: 12) { id } }`,
	`{ customer(id: 1.5) { id } }`,
	`{ customer(id: ["a"]) { id } }`,
	`{ __typename @include(if: "yes") }`,
	`{ __typename @include(if: null) }`,
	`{ __typename @skip(if: [true]) }`,
	`mutation { onboardCustomer(input: {}) { id } }`,
	`mutation { onboardCustomer(input: {id: "x", nope: 1}) { id } }`,
	`query($n: Int = "x") { events(first: $n) { totalCount } }`,
	`query($n: [Int!]! = [1, null]) { __typename(a: $n) }`,
	`query($f: EventFilter = {types: [1]}) { events(filter: $f) { totalCount } }`,
	`query($f: Nope = 1) { __typename }`,
	`{ events(filter: {types: [$a, 1]}) { totalCount } }`,
	`{ __type(name: 1) { name } }`,
	`{ ... on Nope { events(first: "x") { totalCount } } }`,
	`fragment F on Query { events(first: "x") { totalCount } } { ...F }`,
	`{ events(filter: {types: ["a", "b"], stream: "s", from: "2020-01-01T00:00:00Z"}, first: 3) { totalCount } }`,
	`{ events(first: "\u00e9\n") { totalCount } }`,
	`{ events(first: [{a: [1, "x"], b: {c: $v, d: []}}, [null, true, E], "q\"\n", """b"""]) { totalCount } }`,
	`{ events(first: [[], {}, [[1]], {a: {b: {}}}]) { totalCount } }`,
	`query($v: Int) { customer(id: [$v, 1.5e3, -0]) { id } }`,
}

var precheckSchema = generated.NewExecutableSchema(generated.Config{Resolvers: &Resolver{}}).Schema()

// validate is gqlgen's parse and validation of a document (its
// executor.parseQuery), with or without suggestions.
func validate(query string, suggest bool) (*ast.QueryDocument, error, gqlerror.List) {
	doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: query}, 1<<20)
	if err != nil {
		return nil, err, nil
	}
	r := rules.NewDefaultRules()
	if !suggest {
		for _, swap := range []core.Rule{
			rules.FieldsOnCorrectTypeRuleWithoutSuggestions,
			rules.ScalarLeafsRuleWithoutSuggestions,
			rules.KnownArgumentNamesRuleWithoutSuggestions,
			rules.KnownTypeNamesRuleWithoutSuggestions,
			rules.ValuesOfCorrectTypeRuleWithoutSuggestions,
		} {
			r.RemoveRule(strings.TrimSuffix(swap.Name, "WithoutSuggestions"))
			r.AddRule(swap.Name, swap.RuleFunc)
		}
	}
	return doc, nil, validator.ValidateWithRules(precheckSchema, doc, r)
}

// checkLikeValidation fails t when the checker answers a validation error
// for query that gqlgen's parser and validator would not answer.
func checkLikeValidation(t *testing.T, query string, suggest bool) *gqlerror.Error {
	t.Helper()
	b := documentBounds{schema: precheckSchema, suggest: suggest}
	got := b.check(query)
	if got == nil || got.Extensions["code"] != errcode.ValidationFailed {
		return got
	}
	doc, err, errs := validate(query, suggest)
	if err != nil {
		t.Fatalf("%.200q: answered %q, but the document does not parse: %v", query, got.Message, err)
	}
	if len(doc.Operations) == 0 {
		t.Fatalf("%.200q: answered %q for a document without an operation", query, got.Message)
	}
	for _, e := range errs {
		if e.Message == got.Message && slices.Equal(e.Locations, got.Locations) {
			return got
		}
	}
	t.Fatalf("%.200q: answered %q at %v, which validation does not report: %v", query, got.Message, got.Locations, errs)
	return nil
}

// The checker answers only what validation reports: for every seed and
// example document, an error it answers is among validation's, with the
// same message and location, and the document parses.
func TestPrecheckAnswersOnlyValidationErrors(t *testing.T) {
	docs := slices.Concat(precheckSeeds, valueSeeds)
	files, _ := filepath.Glob(filepath.Join("..", "examples", "*.graphql"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, string(b))
	}
	if len(files) == 0 {
		t.Fatal("no example documents")
	}
	for _, doc := range docs {
		for _, suggest := range []bool{false, true} {
			checkLikeValidation(t, doc, suggest)
		}
	}
}

// Each error the checker answers for, with validation's message and
// location; and the shapes it leaves to the parser, answered nothing.
func TestPrecheckFirstError(t *testing.T) {
	for _, tc := range []struct {
		doc, want string
		suggest   bool
	}{
		{doc: `{ f0 f1 }`, want: `1:3 Cannot query field "f0" on type "Query".`},
		{doc: `{ viewr { userId } }`, want: `1:3 Cannot query field "viewr" on type "Query". Did you mean "viewer"?`, suggest: true},
		{doc: `{ viewr { userId } }`, want: `1:3 Cannot query field "viewr" on type "Query".`},
		{doc: `{ a: __typename { b } }`, want: `1:3 Field "__typename" must not have a selection since type "String" has no subfields.`},
		{doc: `{ __typename @include(if: true) @include(if: true) }`, want: `1:34 The directive "@include" can only be used once at this location.`},
		{doc: `{ __typename @nope }`, want: `1:15 Unknown directive "@nope".`},
		{doc: `{ __typename @deprecated }`, want: `1:15 Directive "@deprecated" may not be used on FIELD.`},
		{doc: `query($v: Int, $v: Int) { __typename }`, want: `1:16 There can be only one variable named "$v".`},
		{doc: "{ __typename }\nfragment F on Query { nope }", want: `2:23 Cannot query field "nope" on type "Query".`},
		{doc: `{ ... on Nope { a } b }`, want: `1:21 Cannot query field "b" on type "Query".`},
		{doc: `{ __typename(a: 1) }`, want: `1:3 Unknown argument "a" on field "Query.__typename".`},
		{doc: `{ customer(idd: "x") { id } }`, want: `1:3 Unknown argument "idd" on field "Query.customer". Did you mean "id"?`, suggest: true},
		{doc: `{ customer(idd: "x") { id } }`, want: `1:3 Unknown argument "idd" on field "Query.customer".`},
		{doc: `{ x: customer(id: "x", id: "y") { id } }`, want: `1:24 There can be only one argument named "id".`},
		{doc: `{ __typename @include(iff: true) }`, want: `1:15 Unknown argument "iff" on directive "@include". Did you mean "if"?`, suggest: true},
		{doc: `{ __typename @include(iff: true) }`, want: `1:15 Unknown argument "iff" on directive "@include".`},
		{doc: `query($v: Int) { __typename }`, want: `1:7 Variable "$v" is never used.`},
		{doc: `query Q($v: Int, $w: Int) { customers(first: $w) { totalCount } }`, want: `1:9 Variable "$v" is never used in operation "Q".`},
		{doc: `query Q($v: Int) { ...A } fragment A on Query { __typename } fragment A on Query { customers(first: $v) { totalCount } }`, want: `1:9 Variable "$v" is never used in operation "Q".`},
		{doc: `query Q($v: Int) { ...A } fragment A on Query { ...B } fragment B on Query { ...A customers(first: $v) { totalCount } }`},
		{doc: `query Q($w: Boolean) { ...A @include(if: $w) } fragment A on Query { __typename }`},
		{doc: `query Q { ...A } fragment A on Query { customers(first: $n) { totalCount } }`, want: `1:57 Variable "$n" is not defined by operation "Q".`},
		{doc: `{ customers(first: $n) { totalCount } }`, want: `1:20 Variable "$n" is not defined.`},
		{doc: `{ events(filter: {types: ["a", 1, 2]}) { totalCount } }`, want: `1:32 String cannot represent a non string value: 1`},
		{doc: `{ events(first: ["a", "b"]) { totalCount } }`, want: `1:17 Int cannot represent non-integer value: ["a","b"]`},
		{doc: `{ events(first: 99999999999999999999) { totalCount } }`, want: `1:17 Int cannot represent non 32-bit signed integer value: 99999999999999999999`},
		{doc: `{ customer(id: null) { id } }`, want: `1:16 Expected value of type "ID!", found null.`},
		{doc: `{ customers(filter: {cloud: PUBLIK}) { totalCount } }`, want: `1:29 Value "PUBLIK" does not exist in "Cloud" enum.`},
		{doc: `{ customers(filter: {cloud: PUBLIK}) { totalCount } }`, want: `1:29 Value "PUBLIK" does not exist in "Cloud" enum. Did you mean the enum value "PUBLIC"?`, suggest: true},
		{doc: `{ customers(filter: {cloud: "PUBLIC"}) { totalCount } }`, want: `1:30 Enum "Cloud" cannot represent non-enum value: "PUBLIC".`},
		{doc: `{ events(filter: {stram: "a"}) { totalCount } }`, want: `1:19 Field "stram" is not defined by type "EventFilter".`},
		{doc: `{ events(filter: {stram: "a", stream: 1}) { totalCount } }`, want: `1:39 String cannot represent a non string value: 1`},
		{doc: `mutation { onboardCustomer(input: {nope: 1}) { id } }`, want: `1:35 Field "OnboardCustomerInput.name" of required type "String!" was not provided.`},
		{doc: `query($n: Int = "x") { events(first: $n) { totalCount } }`, want: `1:18 Int cannot represent non-integer value: "x"`},
		{doc: `{ events(filter: {from: 1, to: [true]}, first: 2147483648) { totalCount } }`},
		{doc: `{ __typename }`},
		{doc: introspectionQuery},
		{doc: `{ f0 `},
		{doc: `{ f0 }}`},
		{doc: `"described" { f0 }`},
		{doc: `fragment F on Query { f0 }`},
		{doc: "{ f(a: " + strings.Repeat("[", 1001) + strings.Repeat("]", 1001) + ") }"},
	} {
		got := checkLikeValidation(t, tc.doc, tc.suggest)
		s := ""
		if got != nil {
			s = got.Message
			if len(got.Locations) > 0 {
				s = fmt.Sprintf("%d:%d %s", got.Locations[0].Line, got.Locations[0].Column, s)
			}
		}
		if s != tc.want {
			t.Errorf("%.60q: %q, want %q", tc.doc, s, tc.want)
		}
	}
}

// distinctNames is n names, each its own.
func distinctNames(prefix string, n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "%s%d ", prefix, i)
	}
	return b.String()
}

func FuzzPrecheck(f *testing.F) {
	for _, s := range slices.Concat(precheckSeeds, valueSeeds) {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, query string, suggest bool) {
		// What the server's bounds refuse is never validated: the
		// comparison is of what validation sees, and without the
		// bounds a few thousand fields cost it seconds.
		bounds := documentBounds{maxBytes: DefaultMaxDocumentBytes, maxTokens: DefaultMaxTokens, maxSelections: DefaultMaxSelections, maxRepeats: DefaultMaxRepeats}
		if bounds.check(query) != nil {
			return
		}
		checkLikeValidation(t, query, suggest)
	})
}
