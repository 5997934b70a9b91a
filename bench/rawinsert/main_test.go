package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/bench/benchdb"
	"entitle/store"
)

// The baseline is only fair if it writes what POST /organizations writes: the organization and
// the owner's admin membership, readable through entitle's own store.
func TestRawInsertWritesTheOrganizationAndTheOwnersAdminMembership(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.Open(ctx, store.Config{DataDir: dir})
	require.NoError(t, err)
	defer func() { _ = st.Close() }()
	owner := store.User{ID: uuid.New(), Username: "owner", Email: "owner@example.com", HashedPassword: []byte("x"), SiteRole: store.RoleOwner}
	require.NoError(t, st.CreateUser(ctx, &owner))

	db, dialect, err := benchdb.Open(dir, "")
	require.NoError(t, err)
	defer func() { _ = db.Close() }()
	ins, err := newInserter(ctx, db, dialect)
	require.NoError(t, err)
	h := newHandler(ins)

	req := httptest.NewRequest(http.MethodPost, "/api/v2/organizations", strings.NewReader(`{"name":"raw-1"}`))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())

	org, err := st.OrganizationByName(ctx, "raw-1")
	require.NoError(t, err)
	assert.False(t, org.IsDefault)
	assert.Contains(t, rec.Body.String(), org.ID.String())
	member, err := st.Membership(ctx, org.ID, owner.ID)
	require.NoError(t, err)
	assert.True(t, member.IsAdmin)

	rec = httptest.NewRecorder()
	req = httptest.NewRequest(http.MethodPost, "/api/v2/organizations", strings.NewReader(`{"name":"RAW-1"}`))
	req.Header.Set("Content-Type", "application/json")
	h.ServeHTTP(rec, req)
	assert.Equal(t, http.StatusInternalServerError, rec.Code, "the same unique index refuses a taken name")
}
