package api

import (
	"net/http"

	"entitle/gen"
)

// Messages of the error envelope that more than one place uses.
const (
	MsgNotFound            = "Resource not found or you do not have access to this resource"
	MsgValidationFailed    = "Validation failed."
	MsgInvalidJSON         = "Request body must be valid JSON."
	MsgSignedOut           = "You are signed out or your session has expired. Please sign in again to continue."
	MsgForbidden           = "Forbidden."
	MsgDatabaseUnavailable = "The database is unavailable."
	MsgInternal            = "An internal error occurred. Try again, and report it if it persists."
	// MsgLicenseKeysUnreadable is the 503 while a file among the trusted keys is not one.
	MsgLicenseKeysUnreadable = "The license keys cannot be read."
)

// Error is an error with its HTTP status and envelope. The server's one error writer renders
// it; middleware returns it for failures that happen before a handler runs.
type Error struct {
	Status      int
	Message     string
	Detail      string
	Validations []gen.ValidationError
}

func (e *Error) Error() string {
	if e.Detail != "" {
		return e.Message + " " + e.Detail
	}
	return e.Message
}

// Envelope is the error as the wire carries it.
func (e *Error) Envelope() gen.Response {
	resp := gen.Response{Message: e.Message}
	if e.Detail != "" {
		resp.Detail = &e.Detail
	}
	if len(e.Validations) > 0 {
		resp.Validations = &e.Validations
	}
	return resp
}

// Unauthorized is the 401 every authentication failure gives; detail says which.
func Unauthorized(detail string) *Error {
	return &Error{Status: http.StatusUnauthorized, Message: MsgSignedOut, Detail: detail}
}

func message(msg, detail string) gen.Response {
	return (&Error{Message: msg, Detail: detail}).Envelope()
}

func notFound() gen.NotFoundJSONResponse {
	return gen.NotFoundJSONResponse(message(MsgNotFound, ""))
}

func forbidden(detail string) gen.ForbiddenJSONResponse {
	return gen.ForbiddenJSONResponse(message(MsgForbidden, detail))
}

func conflict(msg, detail string) gen.ConflictJSONResponse {
	return gen.ConflictJSONResponse(message(msg, detail))
}

func invalidField(field, detail string) gen.BadRequestJSONResponse {
	e := &Error{Message: MsgValidationFailed, Validations: []gen.ValidationError{{Field: field, Detail: detail}}}
	return gen.BadRequestJSONResponse(e.Envelope())
}
