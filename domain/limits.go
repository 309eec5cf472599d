package domain

import "unicode/utf8"

// Bounds on the text and lists a caller gives, checked with the rest of
// the input (step 2 of every mutation): a name of 900,000 characters or a
// subscription of 40,000 services would be stored and answered to every
// reader. The schema's descriptions state them.
const (
	MaxNameLength    = 256  // partner, customer and service names, offers
	MaxDomainLength  = 253  // a DNS host name
	MaxMessageLength = 2000 // a relationship request's message, legacy notes
	MaxServices      = 500  // services of one subscription
	MaxFilterLength  = 256  // each string of a read's filter
	MaxFilterItems   = 100  // the items of a filter's list
)

// CheckLength refuses s longer than max characters as BAD_USER_INPUT
// naming field.
func CheckLength(field, s string, max int) error {
	if n := utf8.RuneCountInString(s); n > max {
		return Errorf(CodeBadUserInput, "%s is %d characters long, over the limit of %d", field, n, max)
	}
	return nil
}

// CheckOptionalLength is CheckLength for an optional field.
func CheckOptionalLength(field string, s *string, max int) error {
	if s == nil {
		return nil
	}
	return CheckLength(field, *s, max)
}

// ValidateRelationshipMessage is step 2 of requestResellerRelationship.
func ValidateRelationshipMessage(message *string) error {
	return CheckOptionalLength("message", message, MaxMessageLength)
}
