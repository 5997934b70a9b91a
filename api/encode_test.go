package api

import (
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/gen"
	"entitle/store"
)

func TestOrganizationJSONIsWhatEncodingJSONWrites(t *testing.T) {
	strs := []string{"", "acme", "Acme Corporation", `quote " and \ back`, "<b>&amp;</b>", "tab\tnew\nline\r",
		"\x00\x01\x1f\x7f", "ünïcödé 🏢", "\u2028\u2029", "bad \xff utf-8", "/emojis/1f3e2.png", "https://x.test/a?b=c&d=e"}
	times := []time.Time{
		time.Date(2026, 11, 27, 5, 1, 2, 0, time.UTC),
		time.Date(2026, 11, 27, 5, 1, 2, 123456789, time.FixedZone("", 3600)),
		time.Date(2026, 11, 27, 5, 1, 2, 120000000, time.Local),
		time.Unix(0, 0),
	}
	n := 0
	for i, s := range strs {
		for j, at := range times {
			o := store.Organization{
				ID: uuid.New(), Name: s, DisplayName: strs[(i+1)%len(strs)], Description: strs[(i+2)%len(strs)],
				Icon: strs[(i+3)%len(strs)], IsDefault: j%2 == 0, CreatedAt: at, UpdatedAt: times[(j+1)%len(times)],
			}
			want, err := json.Marshal(organizationResponse(o))
			require.NoError(t, err)
			got, err := organizationItem(nil, o)
			require.NoError(t, err)
			assert.Equal(t, string(want), string(got))

			// The whole answer, as the generated response writes it.
			wantRec, gotRec := httptest.NewRecorder(), httptest.NewRecorder()
			require.NoError(t, gen.GetOrganization200JSONResponse(organizationResponse(o)).VisitGetOrganizationResponse(wantRec))
			require.NoError(t, organizationAnswer{org: o}.VisitGetOrganizationResponse(gotRec))
			assert.Equal(t, wantRec.Code, gotRec.Code)
			assert.Equal(t, wantRec.Header(), gotRec.Header())
			assert.Equal(t, wantRec.Body.String(), gotRec.Body.String())
			n++
		}
	}
	assert.Equal(t, len(strs)*len(times), n)
}

func TestUserJSONIsWhatEncodingJSONWrites(t *testing.T) {
	strs := []string{"", "alice", "Alice O'Hara", `q"uote\`, "<script>&", "tab\tline\n", "ünï 🏢", "bad \xff"}
	emails := []string{"alice@example.com", "a.b+c@sub.example.org", "x@y.zz"}
	at := []time.Time{time.Date(2026, 11, 27, 5, 1, 2, 0, time.UTC), time.Date(2026, 11, 27, 5, 1, 2, 5, time.FixedZone("", -3600)), {}}
	for i, s := range strs {
		for j, role := range []string{store.RoleOwner, store.RoleMember, "other"} {
			for k, status := range []string{store.UserActive, store.UserDormant, store.UserSuspended} {
				u := store.User{
					ID: uuid.New(), Username: s, Name: strs[(i+1)%len(strs)], Email: emails[(i+j)%len(emails)],
					AvatarURL: strs[(i+2)%len(strs)], ThemePreference: strs[(i+3)%len(strs)], SiteRole: role, Status: status,
					CreatedAt: at[k%len(at)], UpdatedAt: at[(k+1)%len(at)], LastSeenAt: at[(k+2)%len(at)],
				}
				for _, ids := range [][]uuid.UUID{{}, {uuid.New()}, {uuid.New(), uuid.New(), uuid.New()}} {
					want, err := json.Marshal(userResponseWith(u, ids))
					require.NoError(t, err)
					head, tail := userParts(u)
					got := append([]byte{}, head...)
					for n, id := range ids {
						if n > 0 {
							got = append(got, ',')
						}
						item, err := uuidItem(nil, id)
						require.NoError(t, err)
						got = append(got, item...)
					}
					got = append(got, tail...)
					assert.Equal(t, string(want), string(got))

					// The whole answer of a user whose ids are few, as the generated response writes it.
					wantRec, gotRec := httptest.NewRecorder(), httptest.NewRecorder()
					require.NoError(t, gen.GetCurrentUser200JSONResponse(userResponseWith(u, ids)).VisitGetCurrentUserResponse(wantRec))
					require.NoError(t, userAnswer{user: u, ids: ids}.VisitGetCurrentUserResponse(gotRec))
					assert.Equal(t, wantRec.Code, gotRec.Code)
					assert.Equal(t, wantRec.Header(), gotRec.Header())
					assert.Equal(t, wantRec.Body.String(), gotRec.Body.String())
				}
			}
		}
	}
}
