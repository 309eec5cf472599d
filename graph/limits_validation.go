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

// boundedRules returns gqlgen's validation rules (gqlparser's defaults,
// with or without the hints of FieldsOnCorrectType and ScalarLeafs as
// suggest says), each reporting into one count per validation: past max
// errors, the rest are dropped, their messages never formatted, and one
// error says so. gqlgen calls it once for each document it validates.
func boundedRules(max int, suggest bool) func() *rules.Rules {
	return func() *rules.Rules {
		r := rules.NewDefaultRules()
		// gqlgen swaps these two by SetDisableSuggestion after calling
		// this, but adds a rule only under a name it does not hold: the
		// bounded one of that name stays.
		if !suggest {
			r.RemoveRule(rules.FieldsOnCorrectTypeRule.Name)
			r.AddRule(rules.FieldsOnCorrectTypeRuleWithoutSuggestions.Name, rules.FieldsOnCorrectTypeRuleWithoutSuggestions.RuleFunc)
			r.RemoveRule(rules.ScalarLeafsRule.Name)
			r.AddRule(rules.ScalarLeafsRuleWithoutSuggestions.Name, rules.ScalarLeafsRuleWithoutSuggestions.RuleFunc)
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
