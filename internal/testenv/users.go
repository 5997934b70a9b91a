package testenv

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/google/uuid"

	"entitle/gen"
)

// Owner's credentials, used by SetupOwner.
const (
	OwnerEmail    = "owner@example.com"
	OwnerUsername = "owner"
	OwnerPassword = "owner-password"
)

// SetupOwner creates the first user and signs in as them, returning the session token.
func (i *Instance) SetupOwner(t testing.TB) string {
	t.Helper()
	return SetupOwnerThrough(t, i.Client)
}

// Login signs in and returns the session token.
func (i *Instance) Login(t testing.TB, email, password string) string {
	t.Helper()
	return login(t, i.Client, email, password)
}

// SetupOwnerThrough creates the first user through client and signs in as them, returning the
// session token.
func SetupOwnerThrough(t testing.TB, client *gen.ClientWithResponses) string {
	t.Helper()
	created, err := client.CreateFirstUserWithResponse(context.Background(), gen.CreateFirstUserRequest{
		Email: OwnerEmail, Username: OwnerUsername, Password: OwnerPassword,
	})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, created.StatusCode(), string(created.Body))
	return login(t, client, OwnerEmail, OwnerPassword)
}

// login signs in through client and returns the session token.
func login(t testing.TB, client *gen.ClientWithResponses, email, password string) string {
	t.Helper()
	resp, err := client.LoginWithPasswordWithResponse(context.Background(), gen.LoginWithPasswordRequest{Email: gen.Email(email), Password: password})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, resp.StatusCode(), string(resp.Body))
	return resp.JSON201.SessionToken
}

// CreateMember has the owner create a member (in the default organization unless orgIDs are
// given) and signs in as them.
func (i *Instance) CreateMember(t testing.TB, ownerToken, username string, orgIDs ...uuid.UUID) (gen.User, string) {
	t.Helper()
	req := gen.CreateUserRequest{Email: gen.Email(username + "@example.com"), Username: username, Password: "member-password"}
	if len(orgIDs) > 0 {
		ids := make([]uuid.UUID, len(orgIDs))
		copy(ids, orgIDs)
		req.OrganizationIds = &ids
	}
	resp, err := i.ClientWithToken(t, ownerToken).CreateUserWithResponse(context.Background(), req)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, resp.StatusCode(), string(resp.Body))
	return *resp.JSON201, i.Login(t, username+"@example.com", "member-password")
}
