package events

import (
	"errors"
	"fmt"
)

// Error codes returned by Parse. Each is stable and machine-readable; the
// relay sends it to the client in a nack and on the rejected subject.
const (
	ETooLarge         = "too_large"
	EInvalidUTF8      = "invalid_utf8"
	EInvalidJSON      = "invalid_json"
	ENotObject        = "not_object"
	EInvalidSource    = "invalid_source"
	EInvalidType      = "invalid_type"
	EInvalidParams    = "invalid_params"
	EMissingMessageID = "missing_message_id"
	EInvalidMessageID = "invalid_message_id"
	EUnknownMessageID = "unknown_message_id"
	EInvalidField     = "invalid_field"
)

// codeInternal and messageInternal describe an error that is not an *Error.
const (
	codeInternal    = "internal"
	messageInternal = "internal error"
)

// Error is a coded error that the relay turns into a nack. Its Message
// names fields and expected kinds only, never a field's value, so it may be
// logged and shown to the client.
type Error struct {
	// Code is one of the E... constants.
	Code string
	// Message is a human-readable explanation without personal data.
	Message string
}

// Error returns the code and the message as "code: message".
func (e *Error) Error() string {
	return e.Code + ": " + e.Message
}

// Errorf returns an *Error with the given code and a message formatted
// with fmt.Sprintf. Callers must not pass field values as args.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the Code of the first *Error in err's chain, or "" when
// there is none (including when err is nil).
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// ErrorMessage returns the Message of the first *Error in err's chain, or ""
// when there is none (including when err is nil).
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return ""
}
