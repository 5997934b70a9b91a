package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"strings"

	"github.com/labstack/echo/v4"

	"entitle/api"
	"entitle/gen"
	"entitle/license"
	"entitle/store"
)

// writeError is Echo's HTTPErrorHandler: the one place any error (validator, auth, binder,
// handler, panic) becomes the JSON envelope. Unexpected errors are logged with the request id
// and answered with a 500 that carries no internals.
func (s *Server) writeError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	e := s.toAPIError(err, c)
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(e.Status)
		return
	}
	if werr := c.JSON(e.Status, e.Envelope()); werr != nil {
		s.logger.Warn("write error response", "request_id", requestID(c), "error", werr)
	}
}

func (s *Server) toAPIError(err error, c echo.Context) *api.Error {
	var apiErr *api.Error
	if errors.As(err, &apiErr) {
		return apiErr
	}
	var httpErr *echo.HTTPError
	if errors.As(err, &httpErr) {
		switch httpErr.Code {
		case http.StatusNotFound:
			return &api.Error{Status: http.StatusNotFound, Message: "Route not found."}
		case http.StatusMethodNotAllowed:
			return &api.Error{Status: http.StatusMethodNotAllowed, Message: "Method not allowed.",
				Detail: fmt.Sprintf("%s is not allowed on %s.", c.Request().Method, c.Request().URL.Path)}
		case http.StatusRequestEntityTooLarge:
			return &api.Error{Status: http.StatusRequestEntityTooLarge, Message: "Request body is too large.",
				Detail: "The limit is " + bodyLimitText + "."}
		case http.StatusBadRequest:
			// The binder refused the body: validation normally catches this first.
			if e := numberDoesNotFit(httpErr); e != nil {
				return e
			}
			detail, _ := httpErr.Message.(string)
			return &api.Error{Status: http.StatusBadRequest, Message: api.MsgInvalidJSON, Detail: detail}
		}
		if httpErr.Code < http.StatusInternalServerError {
			return &api.Error{Status: httpErr.Code, Message: http.StatusText(httpErr.Code) + "."}
		}
	}
	// Before the database's check: a key file that is a directory fails as a file system
	// error, which is no sign of the database.
	var keyErr *license.KeyFileError
	if errors.As(err, &keyErr) {
		s.logger.LogAttrs(c.Request().Context(), slog.LevelError, "license keys unreadable",
			slog.String("request_id", requestID(c)),
			slog.String("route", c.Path()),
			slog.String("error", err.Error()))
		return &api.Error{Status: http.StatusServiceUnavailable, Message: api.MsgLicenseKeysUnreadable,
			Detail: "A file among the server's trusted license keys is not an Ed25519 public key in PEM; the server's log names it. Fix or remove it, then try again."}
	}
	if store.IsUnavailable(err) {
		s.logger.LogAttrs(c.Request().Context(), slog.LevelWarn, "database unavailable",
			slog.String("request_id", requestID(c)),
			slog.String("route", c.Path()),
			slog.String("error", err.Error()))
		return databaseUnavailable(c)
	}
	s.logger.LogAttrs(c.Request().Context(), slog.LevelError, "internal error",
		slog.String("request_id", requestID(c)),
		slog.String("route", c.Path()),
		slog.String("error", err.Error()))
	return &api.Error{Status: http.StatusInternalServerError, Message: api.MsgInternal,
		Detail: "Request id: " + requestID(c) + "."}
}

// retryAfterUnavailable is how long a client is asked to wait while the database does not
// answer: short, because a restart of PostgreSQL takes seconds.
const retryAfterUnavailable = "2"

// databaseUnavailable is the 503 for any request that needed the database while it did not
// answer, with Retry-After.
func databaseUnavailable(c echo.Context) *api.Error {
	c.Response().Header().Set("Retry-After", retryAfterUnavailable)
	return &api.Error{Status: http.StatusServiceUnavailable, Message: api.MsgDatabaseUnavailable,
		Detail: "Try again in a few seconds."}
}

func requestID(c echo.Context) string {
	return firstValue(c.Response().Header(), requestIDHeader)
}

// numberDoesNotFit is the 400 for a JSON number the binder could not put in an integer field:
// 3.6e12 or 3600000000000.0 (a whole number, so the schema's "integer" takes it, but Go reads
// integers only as digits) or a number past the field's range. The body is valid JSON, so it
// is a validation of that field, in the client's words rather than the decoder's.
func numberDoesNotFit(httpErr *echo.HTTPError) *api.Error {
	var typeErr *json.UnmarshalTypeError
	if !errors.As(httpErr.Internal, &typeErr) || typeErr.Field == "" || typeErr.Type == nil || !strings.HasPrefix(typeErr.Value, "number") {
		return nil
	}
	var detail string
	switch typeErr.Type.Kind() {
	case reflect.Int64:
		detail = wholeNumberDetail("int64")
	case reflect.Int32:
		detail = wholeNumberDetail("int32")
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		detail = wholeNumberDetail("")
	default:
		return nil
	}
	return &api.Error{Status: http.StatusBadRequest, Message: api.MsgValidationFailed,
		Validations: []gen.ValidationError{{Field: typeErr.Field, Detail: detail}}}
}
