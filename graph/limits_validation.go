package graph

import (
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/validator/core"
	"github.com/vektah/gqlparser/v2/validator/rules"
)

// DefaultMaxValidationErrors bounds the errors one validation answers.
// Validation reports every offending item on its own (each use of an
// undefined variable, each literal of the wrong type in a list), and each
// error is formatted, presented and encoded: 900 of them cost 250 times
// what answering `{ __typename }` does. The first ten say what is wrong
// as well as all would; graphql-js stops likewise (its maxErrors).
const DefaultMaxValidationErrors = 10

// tooManyErrors is the last error of a validation cut short.
const tooManyErrors = "too many validation errors: the rest are not reported"

// suggestionFree are the rules of gqlparser that add "Did you mean"
// hints, each with its twin that does not.
var suggestionFree = []struct {
	with    string
	without core.Rule
}{
	{rules.FieldsOnCorrectTypeRule.Name, rules.FieldsOnCorrectTypeRuleWithoutSuggestions},
	{rules.ScalarLeafsRule.Name, rules.ScalarLeafsRuleWithoutSuggestions},
	{rules.KnownArgumentNamesRule.Name, rules.KnownArgumentNamesRuleWithoutSuggestions},
	{rules.KnownTypeNamesRule.Name, rules.KnownTypeNamesRuleWithoutSuggestions},
	{rules.ValuesOfCorrectTypeRule.Name, rules.ValuesOfCorrectTypeRuleWithoutSuggestions},
}

// boundedRules returns gqlgen's validation rules (gqlparser's defaults,
// with or without their "Did you mean" hints as suggest says), each reporting into one count per validation: past max
// errors, the rest are dropped, their messages never formatted, and one
// error says so. gqlgen calls it once for each document it validates.
func boundedRules(max int, suggest bool) func() *rules.Rules {
	return func() *rules.Rules {
		r := rules.NewDefaultRules()
		// gqlgen swaps FieldsOnCorrectType and ScalarLeafs by
		// SetDisableSuggestion after calling this, but adds a rule only
		// under a name it does not hold: the bounded one of that name
		// stays. The other rules with hints (unknown arguments, types,
		// enum values and input fields) it leaves as they are, and their
		// hints name the schema's arguments, types and values to anyone:
		// each is swapped here for gqlparser's rule without them.
		if !suggest {
			for _, swap := range suggestionFree {
				r.RemoveRule(swap.with)
				r.AddRule(swap.without.Name, swap.without.RuleFunc)
			}
		}
		n := 0
		bounded := rules.NewRules()
		for name, rule := range r.GetInner() {
			bounded.AddRule(name, func(observers *core.Events, addError core.AddErrFunc) {
				rule(observers, func(options ...core.ErrorOption) {
					n++
					switch {
					case n <= max:
						addError(options...)
					case n == max+1:
						addError(func(err *gqlerror.Error) { err.Message = tooManyErrors })
					}
				})
			})
		}
		return bounded
	}
}
