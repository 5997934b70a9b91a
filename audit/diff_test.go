package audit_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/audit"
)

func TestDiffOf(t *testing.T) {
	at := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name          string
		before, after audit.Fields
		want          string
	}{
		{
			name:  "a creation shows every field's new value",
			after: audit.Fields{"name": "acme", "is_default": false, "count": 0},
			want:  `{"count":{"new":0,"secret":false},"is_default":{"new":false,"secret":false},"name":{"new":"acme","secret":false}}`,
		},
		{
			name:   "a deletion shows every field's old value",
			before: audit.Fields{"name": "acme"},
			want:   `{"name":{"old":"acme","secret":false}}`,
		},
		{
			name:   "a write shows only the fields that changed",
			before: audit.Fields{"name": "acme", "icon": "a.png", "at": at},
			after:  audit.Fields{"name": "acme", "icon": "b.png", "at": at.In(time.FixedZone("X", 3600))},
			want:   `{"icon":{"old":"a.png","new":"b.png","secret":false}}`,
		},
		{
			name:   "a changed secret says only that it changed",
			before: audit.Fields{"hashed_password": audit.SecretOf([]byte("$2a$10$old"))},
			after:  audit.Fields{"hashed_password": audit.SecretOf([]byte("$2a$10$new"))},
			want:   `{"hashed_password":{"secret":true}}`,
		},
		{
			name:   "an unchanged secret is left out",
			before: audit.Fields{"jwt": audit.SecretOf("eyJ.a.b")},
			after:  audit.Fields{"jwt": audit.SecretOf("eyJ.a.b")},
			want:   `{}`,
		},
		{
			name:  "a created secret says only that it is there",
			after: audit.Fields{"hashed_secret": audit.SecretOf([]byte{1, 2, 3})},
			want:  `{"hashed_secret":{"secret":true}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := json.Marshal(audit.DiffOf(tt.before, tt.after))
			require.NoError(t, err)
			assert.JSONEq(t, tt.want, string(got))
		})
	}
}

func TestASecretNeverEncodesAsItself(t *testing.T) {
	got, err := json.Marshal(map[string]any{"jwt": audit.SecretOf("eyJ.secret.token")})
	require.NoError(t, err)
	assert.Equal(t, `{"jwt":null}`, string(got))
}
