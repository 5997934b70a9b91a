package api

import (
	"fmt"
	"strconv"

	"github.com/google/uuid"

	"entitle/gen"
	"entitle/session"
	"entitle/store"
)

// Every list takes limit, offset and after_id. openapi.yaml declares them as plain strings and
// they are checked here, so that a bad value gets Coder's answer (its httpapi.ParsePagination):
// one 400 naming every bad parameter, rather than the schema validator's "Validation failed.".
const (
	// MsgBadQuery is Coder's message for query parameters that cannot be read; the server's
	// validator uses it too, for a parameter given more than once.
	MsgBadQuery = "Query parameters have invalid values."
	// maxPageLimit bounds one page, so that no request asks for an unbounded amount of work
	// while claiming to want a page; without a limit the whole list is the request.
	maxPageLimit = 1000
)

// queryParams collects what is wrong with a list's query parameters, all at once.
type queryParams struct {
	problems []gen.ValidationError
}

func (q *queryParams) fail(name, detail string) {
	q.problems = append(q.problems, gen.ValidationError{Field: name, Detail: fmt.Sprintf("Query param %q %s.", name, detail)})
}

// nonNegativeInt32 reads a parameter that must be a 32-bit integer, 0 or more. Absent or empty
// is 0, as in Coder.
func (q *queryParams) nonNegativeInt32(name string, raw *string) int32 {
	if raw == nil || *raw == "" {
		return 0
	}
	n, err := strconv.ParseInt(*raw, 10, 32)
	if err != nil || n < 0 {
		q.fail(name, "must be a valid 32-bit positive integer")
		return 0
	}
	return int32(n)
}

// limit reads the page size: absent means the whole list, else 1 to maxPageLimit.
func (q *queryParams) limit(raw *string) int {
	if raw == nil || *raw == "" {
		return 0
	}
	n, err := strconv.ParseInt(*raw, 10, 32)
	switch {
	case err != nil || n < 0:
		q.fail("limit", "must be a valid 32-bit positive integer")
	case n < 1 || n > maxPageLimit:
		q.fail("limit", fmt.Sprintf("must be between 1 and %d", maxPageLimit))
	default:
		return int(n)
	}
	return 0
}

// uuid reads a parameter that must be a UUID; absent or empty is uuid.Nil.
func (q *queryParams) uuid(name string, raw *string) uuid.UUID {
	if raw == nil || *raw == "" {
		return uuid.Nil
	}
	id, ok := parseUUID(*raw)
	if !ok {
		q.fail(name, "must be a valid uuid")
	}
	return id
}

// failure is the 400 naming every bad parameter, or nil when all are good.
func (q *queryParams) failure() *gen.BadQueryJSONResponse {
	if len(q.problems) == 0 {
		return nil
	}
	resp := gen.BadQueryJSONResponse((&Error{Message: MsgBadQuery, Validations: q.problems}).Envelope())
	return &resp
}

// parsePage reads the pagination of a list whose items have UUIDs.
func parsePage(limit, offset, afterID *string) (store.Page, *gen.BadQueryJSONResponse) {
	var q queryParams
	// Coder's order: after_id, limit, offset.
	page := store.Page{AfterID: q.uuid("after_id", afterID)}
	page.Limit = q.limit(limit)
	page.Offset = int(q.nonNegativeInt32("offset", offset))
	return page, q.failure()
}

// licensePage is the pagination of the license list, whose ids are integers.
type licensePage struct {
	limit, offset int
	afterID       int32
}

// parseLicensePage reads the pagination of the license list: after_id is a license's integer id.
func parseLicensePage(limit, offset, afterID *string) (licensePage, *gen.BadQueryJSONResponse) {
	var q queryParams
	page := licensePage{afterID: q.nonNegativeInt32("after_id", afterID)}
	page.limit = q.limit(limit)
	page.offset = int(q.nonNegativeInt32("offset", offset))
	return page, q.failure()
}

// parseTokenPage reads the pagination of a token list: after_id is a key's 10-character id.
func parseTokenPage(limit, offset, afterID *string) (store.TokenPage, *gen.BadQueryJSONResponse) {
	var q queryParams
	page := store.TokenPage{}
	if afterID != nil && *afterID != "" {
		if session.ValidID(*afterID) {
			page.AfterID = *afterID
		} else {
			q.fail("after_id", "must be a valid token id")
		}
	}
	page.Limit = q.limit(limit)
	page.Offset = int(q.nonNegativeInt32("offset", offset))
	return page, q.failure()
}
