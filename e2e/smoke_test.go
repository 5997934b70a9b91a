package e2e

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"entitle/gen"
	"entitle/internal/testenv"
)

func TestOwnerCreatesAndFetchesAnOrganization(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		inst := testenv.StartOn(t, db)
		token := inst.SetupOwner(t)
		client := inst.ClientWithToken(t, token)
		ctx := context.Background()

		created, err := client.CreateOrganizationWithResponse(ctx, gen.CreateOrganizationRequest{Name: "My-Org"})
		require.NoError(t, err)
		require.Equal(t, http.StatusCreated, created.StatusCode(), string(created.Body))

		got, err := client.GetOrganizationWithResponse(ctx, "my-org")
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, got.StatusCode(), string(got.Body))
		require.Equal(t, string(created.Body), string(got.Body))
	})
}
