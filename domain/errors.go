package domain

import "fmt"

// Code names a refusal. The values are the API's error codes
// (extensions.code), so that a refusal reaches clients unchanged.
type Code string

const (
	CodeBadUserInput           Code = "BAD_USER_INPUT"
	CodeNotFound               Code = "NOT_FOUND"
	CodeForbidden              Code = "FORBIDDEN"
	CodeUnauthenticated        Code = "UNAUTHENTICATED"
	CodeConflict               Code = "CONFLICT"
	CodeTermNotEnded           Code = "TERM_NOT_ENDED"
	CodePartnerToPartnerResale Code = "PARTNER_TO_PARTNER_RESALE"
	CodeCloudMismatch          Code = "CLOUD_MISMATCH"
	CodeRelationshipRequired   Code = "RELATIONSHIP_REQUIRED"
	CodeNotEligible            Code = "NOT_ELIGIBLE"
	CodeInvalidState           Code = "INVALID_STATE"
	CodeInternal               Code = "INTERNAL"
	CodeUnavailable            Code = "UNAVAILABLE"
)

// Error is a refusal by the domain: a code callers branch on, a message fit
// for the caller, and optionally the error that caused it.
type Error struct {
	Code    Code
	Message string
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return string(e.Code) + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, domain.ErrForbidden) true for every *Error with the
// same code, whatever its message.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Message == "" && t.Err == nil && t.Code == e.Code
}

// Errorf builds an *Error with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Sentinels for errors.Is: each matches every refusal with its code.
var (
	ErrBadUserInput           = &Error{Code: CodeBadUserInput}
	ErrNotFound               = &Error{Code: CodeNotFound}
	ErrForbidden              = &Error{Code: CodeForbidden}
	ErrConflict               = &Error{Code: CodeConflict}
	ErrTermNotEnded           = &Error{Code: CodeTermNotEnded}
	ErrPartnerToPartnerResale = &Error{Code: CodePartnerToPartnerResale}
	ErrCloudMismatch          = &Error{Code: CodeCloudMismatch}
	ErrRelationshipRequired   = &Error{Code: CodeRelationshipRequired}
	ErrNotEligible            = &Error{Code: CodeNotEligible}
	ErrInvalidState           = &Error{Code: CodeInvalidState}
)
