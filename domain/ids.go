package domain

import "github.com/google/uuid"

// ParseID parses an id given by a caller. Only the canonical 36-character
// form of a non-nil UUID is an id; anything else is BAD_USER_INPUT naming
// the field, so that the API and the command side refuse alike.
func ParseID(field, s string) (uuid.UUID, error) {
	id, err := uuid.Parse(s)
	if err != nil || len(s) != 36 || id == uuid.Nil {
		return uuid.Nil, Errorf(CodeBadUserInput, "%s %q is not a valid id", field, s)
	}
	return id, nil
}

// ParseOptionalID is ParseID for an optional field: nil stays nil.
func ParseOptionalID(field string, s *string) (*uuid.UUID, error) {
	if s == nil {
		return nil, nil
	}
	id, err := ParseID(field, *s)
	if err != nil {
		return nil, err
	}
	return &id, nil
}
