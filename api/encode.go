package api

import (
	"encoding/hex"
	"encoding/json"
	"net/http"
	"slices"
	"time"

	"github.com/google/uuid"

	"entitle/gen"
	"entitle/store"
)

// An organization is the body of the hottest signed-in read and the row of the longest list,
// and the user the body of GET /users/me; encoding/json spent most of those answers' time on
// reflection and on the time, UUID and email marshalers. These write the very bytes
// encoding/json writes for gen.Organization and gen.User (the tests in encode_test.go hold the
// two together), by hand: the fields in the struct's order, strings escaped as encoding/json
// escapes them.

// appendOrganization appends o's JSON, as organizationResponse(o) encodes.
func appendOrganization(b []byte, o store.Organization) []byte {
	b = append(b, `{"created_at":`...)
	b = appendJSONTime(b, o.CreatedAt)
	b = append(b, `,"description":`...)
	b = appendJSONString(b, o.Description)
	b = append(b, `,"display_name":`...)
	b = appendJSONString(b, o.DisplayName)
	b = append(b, `,"icon":`...)
	b = appendJSONString(b, o.Icon)
	b = append(b, `,"id":`...)
	b = appendJSONUUID(b, o.ID)
	b = append(b, `,"is_default":`...)
	if o.IsDefault {
		b = append(b, "true"...)
	} else {
		b = append(b, "false"...)
	}
	b = append(b, `,"name":`...)
	b = appendJSONString(b, o.Name)
	b = append(b, `,"updated_at":`...)
	b = appendJSONTime(b, o.UpdatedAt)
	return append(b, '}')
}

// organizationRoom is room for nearly any organization's JSON, made once rather than grown
// piece by piece.
const organizationRoom = 320

// organizationItem appends an organization's JSON to a streamed list's buffer.
func organizationItem(dst []byte, o store.Organization) ([]byte, error) {
	return appendOrganization(slices.Grow(dst, organizationRoom), o), nil
}

// organizationAnswer is a 200 with one organization.
type organizationAnswer struct{ org store.Organization }

// VisitGetOrganizationResponse implements gen.GetOrganizationResponseObject.
func (a organizationAnswer) VisitGetOrganizationResponse(w http.ResponseWriter) error {
	return a.write(w)
}

// VisitGetUserOrganizationByNameResponse implements gen.GetUserOrganizationByNameResponseObject.
func (a organizationAnswer) VisitGetUserOrganizationByNameResponse(w http.ResponseWriter) error {
	return a.write(w)
}

func (a organizationAnswer) write(w http.ResponseWriter) error {
	return writeJSON(w, http.StatusOK, appendOrganization(make([]byte, 0, organizationRoom), a.org))
}

// writeJSON sends a body already encoded, ending it with a newline as encoding/json would.
func writeJSON(w http.ResponseWriter, status int, body []byte) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, err := w.Write(append(body, '\n'))
	return err
}

// appendJSONString appends s as a JSON string, as encoding/json writes it (HTML-escaped). Plain
// printable ASCII, nearly every name, is copied as it is; anything else is left to
// encoding/json.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			encoded, err := json.Marshal(s)
			if err != nil { // a string always encodes
				panic(err)
			}
			return append(b, encoded...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendJSONTime appends t in UTC as time.Time's MarshalJSON writes it (RFC 3339, nanoseconds
// without trailing zeros).
func appendJSONTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// appendJSONUUID appends id as uuid.UUID's MarshalText writes it, quoted.
func appendJSONUUID(b []byte, id uuid.UUID) []byte {
	var text [36]byte
	hex.Encode(text[0:8], id[0:4])
	text[8] = '-'
	hex.Encode(text[9:13], id[4:6])
	text[13] = '-'
	hex.Encode(text[14:18], id[6:8])
	text[18] = '-'
	hex.Encode(text[19:23], id[8:10])
	text[23] = '-'
	hex.Encode(text[24:], id[10:])
	b = append(b, '"')
	b = append(b, text[:]...)
	return append(b, '"')
}

// userParts writes the JSON of the user u as encoding/json writes userResponseWith(u, ids), cut
// around the organization ids: head ends with `"organization_ids":[` and tail begins with the
// list's closing bracket, so the ids can be streamed between them.
func userParts(u store.User) (head, tail []byte) {
	// The head is the buffer the streamed answer gathers in (jsonStream.write), up to
	// streamBufferSize.
	return appendUserHead(make([]byte, 0, 768), u), appendUserTail(make([]byte, 0, 192), u)
}

// appendUserHead appends the user's JSON up to and with `"organization_ids":[` (userParts).
// The email is written as it is stored (it was checked when it was set); the generated type's
// marshaler would check it against a regular expression on every answer.
func appendUserHead(b []byte, u store.User) []byte {
	b = append(b, `{"avatar_url":`...)
	b = appendJSONString(b, u.AvatarURL)
	b = append(b, `,"created_at":`...)
	b = appendJSONTime(b, u.CreatedAt)
	b = append(b, `,"email":`...)
	b = appendJSONString(b, u.Email)
	b = append(b, `,"id":`...)
	b = appendJSONUUID(b, u.ID)
	b = append(b, `,"last_seen_at":`...)
	b = appendJSONTime(b, u.LastSeenAt)
	b = append(b, `,"login_type":`...)
	b = appendJSONString(b, string(gen.UserLoginTypePassword))
	b = append(b, `,"name":`...)
	b = appendJSONString(b, u.Name)
	return append(b, `,"organization_ids":[`...)
}

// appendUserTail appends the user's JSON from the organization ids' closing bracket on
// (userParts).
func appendUserTail(b []byte, u store.User) []byte {
	role := siteRole(u.SiteRole)
	b = append(b, `],"roles":[{"display_name":`...)
	b = appendJSONString(b, role.DisplayName)
	b = append(b, `,"name":`...)
	b = appendJSONString(b, role.Name)
	b = append(b, `}],"status":`...)
	b = appendJSONString(b, u.Status)
	b = append(b, `,"theme_preference":`...)
	b = appendJSONString(b, u.ThemePreference)
	b = append(b, `,"updated_at":`...)
	b = appendJSONTime(b, u.UpdatedAt)
	b = append(b, `,"username":`...)
	b = appendJSONString(b, u.Username)
	return append(b, '}')
}

// userAnswer is a 200 with a user whose organization ids are few enough to be kept in memory
// (store.MaxCachedOrganizationIDs, 39 KB of JSON at most): the answer is encoded whole and
// written at once, as organizationAnswer is, rather than through a stream (userStream), whose
// iterators and writer cost more than the encoding on the GET /users/me every client makes.
type userAnswer struct {
	user store.User
	ids  []uuid.UUID
}

// VisitGetCurrentUserResponse implements gen.GetCurrentUserResponseObject.
func (a userAnswer) VisitGetCurrentUserResponse(w http.ResponseWriter) error { return a.write(w) }

// VisitGetUserResponse implements gen.GetUserResponseObject.
func (a userAnswer) VisitGetUserResponse(w http.ResponseWriter) error { return a.write(w) }

func (a userAnswer) write(w http.ResponseWriter) error {
	body := make([]byte, 0, 768+len(a.ids)*len(`"00000000-0000-0000-0000-000000000000",`))
	body = appendUserHead(body, a.user)
	for i, id := range a.ids {
		if i > 0 {
			body = append(body, ',')
		}
		body = appendJSONUUID(body, id)
	}
	return writeJSON(w, http.StatusOK, appendUserTail(body, a.user))
}

// uuidItem appends an id's JSON to a streamed list's buffer.
func uuidItem(dst []byte, id uuid.UUID) ([]byte, error) {
	return appendJSONUUID(slices.Grow(dst, len(`""`)+36), id), nil
}
