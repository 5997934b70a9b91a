package licensing

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"entitle/gen"
	"entitle/internal/testenv"
)

// The contract's high-availability errors, word for word.
const (
	haWithoutLicense = "You have multiple replicas but high availability is an Enterprise feature."
	haNotEntitled    = "You have multiple replicas but your license is not entitled to high availability."
)

// haErrorsOf lists the errors about several replicas in ent.
func haErrorsOf(ent gen.Entitlements) []string {
	var found []string
	for _, e := range ent.Errors {
		if strings.Contains(e, "multiple replicas") {
			found = append(found, e)
		}
	}
	return found
}

// waitForHAErrors polls every replica until each reports exactly want as its high-availability
// errors (none when want is empty), and fails when that does not happen within the time given.
func waitForHAErrors(t *testing.T, within time.Duration, replicas []*replica, want ...string) {
	t.Helper()
	took := waitFor(t, within, 25*time.Millisecond, "every replica reporting HA errors "+strconv.Quote(strings.Join(want, "; ")), func() (bool, string) {
		var seen []string
		agree := true
		for _, r := range replicas {
			got := haErrorsOf(entitlementsOf(t, r.client))
			agree = agree && slices.Equal(got, want)
			seen = append(seen, r.name+": "+strconv.Quote(strings.Join(got, "; ")))
		}
		return agree, strings.Join(seen, ", ")
	})
	t.Logf("every replica reported HA errors %q after %v", want, took)
}

// stop sends SIGTERM and waits for the replica to exit 0; its cleanup then finds it gone.
func (r *replica) stop(t *testing.T) {
	t.Helper()
	r.transport.CloseIdleConnections()
	require.NoError(t, r.process.Signal(syscall.SIGTERM))
	select {
	case err := <-r.exited:
		r.exited <- err // for the cleanup, which checks the exit status again
		require.NoError(t, err, "replica %s did not exit 0 after SIGTERM\noutput:\n%s", r.name, r.output.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("replica %s did not exit within 30s of SIGTERM\noutput:\n%s", r.name, r.output.String())
	}
}

// kill ends the replica with SIGKILL: no drain, no goodbye to the others.
func (r *replica) kill(t *testing.T) {
	t.Helper()
	require.NoError(t, r.process.Kill())
	err := <-r.exited
	require.Error(t, err, "a killed process does not exit 0")
	// Killed on purpose: the cleanup's check of a clean exit after SIGTERM does not apply.
	r.exited <- nil
}

// postgresURLForReplicas is a fresh PostgreSQL database for replica processes to share.
func postgresURLForReplicas(t *testing.T) string {
	t.Helper()
	db := testenv.Databases()[1]
	require.Equal(t, "postgres", db.Name, "testenv.Databases()[1] must be PostgreSQL")
	return db.NewConfig(t).PostgresURL
}

func TestReplicasAgreeOnHighAvailability(t *testing.T) {
	t.Parallel()
	postgresURL := postgresURLForReplicas(t)
	is := testenv.NewIssuer(t, t.TempDir(), "test-key")
	ctx := context.Background()

	a := startReplica(t, "A", postgresURL, is.KeysDir)
	ownerA := a.withToken(t, a.setupOwner(t))
	waitForHAErrors(t, 0, []*replica{a})

	b := startReplica(t, "B", postgresURL, is.KeysDir)
	both := []*replica{a, b}

	t.Run("within 2 s of B starting, A and B both say high availability is an Enterprise feature", func(t *testing.T) {
		waitForHAErrors(t, 2*time.Second, both, haWithoutLicense)
	})

	t.Run("a user created on A is counted on B within a second", func(t *testing.T) {
		before := actualUsers(entitlementsOf(t, a.client))
		require.Equal(t, before, actualUsers(entitlementsOf(t, b.client)), "A and B count the same users before")
		resp, err := ownerA.CreateUserWithResponse(ctx, gen.CreateUserRequest{
			Email: "counted@example.com", Username: "counted", Password: "counted-password",
		})
		require.NoError(t, err)
		require.Equal(t, http.StatusCreated, resp.StatusCode(), string(resp.Body))
		took := waitFor(t, time.Second, 25*time.Millisecond, "B counting the new user", func() (bool, string) {
			ent := entitlementsOf(t, b.client)
			return actualUsers(ent) == before+1, describeFeature(ent, "user_limit")
		})
		t.Logf("B counted the new user after %v", took)
	})

	var highAvailability gen.License
	t.Run("with a license that lacks high_availability, both say the license is not entitled to it", func(t *testing.T) {
		upload(t, ownerA, is.Sign(t, claims(withFeatures("audit_log"))))
		waitForHAErrors(t, time.Second, both, haNotEntitled)
	})

	t.Run("with a license that grants high_availability, neither reports an error", func(t *testing.T) {
		highAvailability = upload(t, ownerA, is.Sign(t, claims(withFeatures("high_availability"))))
		waitForHAErrors(t, time.Second, both)
	})

	t.Run("within 2 s of B stopping cleanly, A no longer reports the error", func(t *testing.T) {
		require.NotZero(t, highAvailability.Id, "the high_availability upload subtest failed")
		resp, err := ownerA.DeleteLicenseWithResponse(ctx, strconv.Itoa(int(highAvailability.Id)))
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode(), string(resp.Body))
		waitForHAErrors(t, time.Second, both, haNotEntitled)

		stopping := time.Now()
		b.stop(t)
		waitForHAErrors(t, 2*time.Second-time.Since(stopping), []*replica{a})
	})
}

// This test waits out a replica's heartbeat lifetime (about half a minute). It runs in parallel
// with the rest of the package, so it adds little to the package's wall time.
func TestAVanishedReplicaDropsOutWithin40Seconds(t *testing.T) {
	t.Parallel()
	postgresURL := postgresURLForReplicas(t)
	is := testenv.NewIssuer(t, t.TempDir(), "test-key")

	a := startReplica(t, "A", postgresURL, is.KeysDir)
	b := startReplica(t, "B", postgresURL, is.KeysDir)
	waitForHAErrors(t, 2*time.Second, []*replica{a, b}, haWithoutLicense)

	b.kill(t)
	waitForHAErrors(t, 40*time.Second, []*replica{a})
}

// upload adds a license through client and returns it.
func upload(t *testing.T, client *gen.ClientWithResponses, token string) gen.License {
	t.Helper()
	resp, err := client.AddLicenseWithResponse(context.Background(), gen.AddLicenseRequest{License: token})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, resp.StatusCode(), string(resp.Body))
	return *resp.JSON201
}
