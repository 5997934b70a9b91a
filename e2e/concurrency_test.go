package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/gen"
	"entitle/internal/testenv"
)

// outcome is one concurrent request's result, gathered so that assertions run on the test's
// own goroutine.
type outcome struct {
	status int
	body   string
	err    error
}

// closeSpareConnectionsAtEnd makes the client close its idle connections before the server
// stops. Concurrent requests make Go's transport dial connections that it then parks unused;
// the server sees them as new connections that never sent a request, and http.Server.Shutdown
// waits up to 5s for those, as long as the harness's whole drain budget. Registered after
// Start, this cleanup runs before the server's Stop.
func closeSpareConnectionsAtEnd(t *testing.T) {
	t.Cleanup(http.DefaultClient.CloseIdleConnections)
}

// race runs n calls of fn at once, released together, and returns their outcomes.
func race(n int, fn func(i int) outcome) []outcome {
	outcomes := make([]outcome, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			outcomes[i] = fn(i)
		}()
	}
	close(start)
	wg.Wait()
	return outcomes
}

// requireOneWinner checks that exactly one outcome is wantWin and every other one is a 409.
func requireOneWinner(t *testing.T, outcomes []outcome, wantWin int, conflictMessage string) {
	t.Helper()
	wins := 0
	for i, o := range outcomes {
		require.NoError(t, o.err, "request %d", i)
		switch o.status {
		case wantWin:
			wins++
		case http.StatusConflict:
			if conflictMessage != "" {
				requireError(t, o.status, []byte(o.body), http.StatusConflict, conflictMessage)
			} else {
				requireErrorSentence(t, o.status, []byte(o.body), http.StatusConflict)
			}
		default:
			t.Errorf("request %d: want %d or 409, got %d: %s", i, wantWin, o.status, o.body)
		}
	}
	assert.Equal(t, 1, wins, "exactly one request succeeds")
}

func TestConcurrentCreatesOfOneOrganizationNameGiveOneWinner(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		closeSpareConnectionsAtEnd(t)
		token := d.setupOwner()
		client := d.as(token)
		ctx := context.Background()

		t.Run("32 creates of the same name", func(t *testing.T) {
			outcomes := race(32, func(int) outcome {
				resp, err := client.CreateOrganizationWithResponse(ctx, gen.CreateOrganizationRequest{Name: "stampede"})
				if err != nil {
					return outcome{err: err}
				}
				return outcome{status: resp.StatusCode(), body: string(resp.Body)}
			})
			requireOneWinner(t, outcomes, http.StatusCreated, msgOrgExists)
		})

		t.Run("32 creates of one name in different cases", func(t *testing.T) {
			outcomes := race(32, func(i int) outcome {
				name := []rune("herd-of-cats")
				for bit := range len(name) {
					if i&(1<<(bit%5)) != 0 && name[bit] != '-' {
						name[bit] = []rune(strings.ToUpper(string(name[bit])))[0]
					}
				}
				resp, err := client.CreateOrganizationWithResponse(ctx, gen.CreateOrganizationRequest{Name: string(name)})
				if err != nil {
					return outcome{err: err}
				}
				return outcome{status: resp.StatusCode(), body: string(resp.Body)}
			})
			requireOneWinner(t, outcomes, http.StatusCreated, msgOrgExists)
		})

		t.Run("each name exists once", func(t *testing.T) {
			var names []string
			for _, o := range decodeOrganizations(t, d.in(t).listOrganizations(token)) {
				names = append(names, strings.ToLower(o.Name))
			}
			assert.Equal(t, []string{defaultOrgName, "stampede", "herd-of-cats"}, names)
		})
	})
}

func TestConcurrentFirstUsersGiveOneOwner(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		closeSpareConnectionsAtEnd(t)
		client := d.anon()
		ctx := context.Background()

		outcomes := race(8, func(i int) outcome {
			resp, err := client.CreateFirstUserWithResponse(ctx, gen.CreateFirstUserRequest{
				Email:    gen.Email(fmt.Sprintf("owner%d@example.com", i)),
				Username: fmt.Sprintf("owner%d", i),
				Password: "owner-password",
			})
			if err != nil {
				return outcome{err: err}
			}
			return outcome{status: resp.StatusCode(), body: string(resp.Body)}
		})
		requireOneWinner(t, outcomes, http.StatusCreated, "")

		owners := 0
		for i := range outcomes {
			resp, err := client.LoginWithPasswordWithResponse(ctx, gen.LoginWithPasswordRequest{
				Email: gen.Email(fmt.Sprintf("owner%d@example.com", i)), Password: "owner-password",
			})
			require.NoError(t, err)
			if resp.StatusCode() == http.StatusCreated {
				owners++
				d.remember(resp.JSON201.SessionToken)
				assert.Equal(t, http.StatusCreated, outcomes[i].status, "only the winner can sign in")
				continue
			}
			requireError(t, resp.StatusCode(), resp.Body, http.StatusUnauthorized, msgBadLogin)
		}
		assert.Equal(t, 1, owners, "exactly one user exists")
	})
}
