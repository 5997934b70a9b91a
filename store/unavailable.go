package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
)

// IsUnavailable says whether err means the database did not answer (it is down, restarting,
// unreachable, or too busy to take the statement), as opposed to refusing the statement.
// The server answers such errors with 503 and Retry-After; this is the one place that knows
// what they look like.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	var connectErr *pgconn.ConnectError
	var pgErr *pgconn.PgError
	var netErr net.Error
	switch {
	case errors.As(err, &connectErr):
		// Whatever the server said while refusing the connection (the database does not allow
		// connections now, does not exist yet, the server is starting), nothing was run.
		return true
	case errors.As(err, &pgErr):
		// Class 08 is "connection exception"; 57P01..57P03 are the server shutting down or
		// starting up; 53300 is too many connections.
		return strings.HasPrefix(pgErr.Code, "08") || pgErr.Code == "57P01" || pgErr.Code == "57P02" ||
			pgErr.Code == "57P03" || pgErr.Code == "53300"
	case errors.As(err, &netErr):
		return true
	case errors.Is(err, driver.ErrBadConn), errors.Is(err, sql.ErrConnDone),
		errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, context.DeadlineExceeded):
		return true
	case pgconn.Timeout(err), pgconn.SafeToRetry(err):
		return true
	}
	// Messages of drivers that carry no typed error: pgx's closed connection, and SQLite's
	// lock still held when the busy timeout ran out.
	msg := err.Error()
	return strings.Contains(msg, "conn closed") || strings.Contains(msg, "sql: database is closed") || strings.Contains(msg, "database is locked") ||
		strings.Contains(msg, "SQLITE_BUSY")
}
