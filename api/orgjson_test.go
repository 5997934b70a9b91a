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
			got, err := organizationJSON(o)
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
