package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"entitle/gen"
	"entitle/internal/testenv"
	"entitle/store"
)

// maxPasswordChars is openapi.yaml's maxLength for passwords, counted in characters.
const maxPasswordChars = 256

// bcryptInputLimit is the number of bytes bcrypt reads of its input; it ignores the rest.
const bcryptInputLimit = 72

// lastCharChanged is password with its last character replaced by another.
func lastCharChanged(password string) string {
	runes := []rune(password)
	if runes[len(runes)-1] == 'x' {
		runes[len(runes)-1] = 'y'
	} else {
		runes[len(runes)-1] = 'x'
	}
	return string(runes)
}

func TestPasswordsOfEveryAllowedLengthAreHashedWhole(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		ctx := context.Background()

		// The owner's own password is as long as the spec allows, in four-byte characters.
		ownerPassword := strings.Repeat("🔑", maxPasswordChars)
		created, err := d.anon().CreateFirstUserWithResponse(ctx, gen.CreateFirstUserRequest{
			Email: testenv.OwnerEmail, Username: testenv.OwnerUsername, Password: ownerPassword,
		})
		require.NoError(t, err)
		require.Equal(t, http.StatusCreated, created.StatusCode(), string(created.Body))
		ownerToken := d.login(testenv.OwnerEmail, ownerPassword)
		wrongTail := attemptLogin(t, d.anon(), testenv.OwnerEmail, strings.Repeat("🔑", maxPasswordChars-1)+"🔒")
		requireError(t, wrongTail.StatusCode(), wrongTail.Body, http.StatusUnauthorized, msgBadLogin)

		cases := []struct {
			name     string
			username string
			password string
		}{
			{"72 bytes, all that bcrypt reads", "len72", strings.Repeat("a", 72)},
			{"73 bytes, one past what bcrypt reads", "len73", strings.Repeat("b", 73)},
			{"100 bytes", "len100", strings.Repeat("c", 100)},
			{"the spec's maximum in one-byte characters", "lenmax", strings.Repeat("d", maxPasswordChars)},
			{"the spec's maximum in four-byte characters", "lenmaxwide", strings.Repeat("😀", maxPasswordChars)},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				d := d.in(t)
				email := tc.username + "@example.com"
				resp, err := d.as(ownerToken).CreateUserWithResponse(ctx, gen.CreateUserRequest{
					Email: gen.Email(email), Username: tc.username, Password: tc.password,
				})
				require.NoError(t, err)
				require.Equal(t, http.StatusCreated, resp.StatusCode(), string(resp.Body))

				d.login(email, tc.password)

				cut := tc.password[:min(len(tc.password), bcryptInputLimit)]
				if cut == tc.password {
					cut = tc.password[:len(tc.password)-1]
				}
				for _, wrong := range []string{cut, lastCharChanged(tc.password)} {
					r := attemptLogin(t, d.anon(), email, wrong)
					requireError(t, r.StatusCode(), r.Body, http.StatusUnauthorized, msgBadLogin)
				}
			})
		}

		t.Run("one character over the maximum is a validation error, not a 500", func(t *testing.T) {
			d := d.in(t)
			tooLong := strings.Repeat("e", maxPasswordChars+1)
			resp, err := d.as(ownerToken).CreateUserWithResponse(ctx, gen.CreateUserRequest{
				Email: "toolong@example.com", Username: "toolong", Password: tooLong,
			})
			require.NoError(t, err)
			requireValidation(t, resp.StatusCode(), resp.Body, "password")
			login := attemptLogin(t, d.anon(), testenv.OwnerEmail, tooLong)
			requireValidation(t, login.StatusCode(), login.Body, "password")
		})
	})
}

// Users created before passwords were pre-hashed have plain bcrypt hashes; they still sign in,
// and bcrypt's habit of ignoring everything past 72 bytes does not let a longer password in.
func TestPasswordsHashedBeforePreHashingStillWork(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d := startDeployment(t, db)
		d.setupOwner()
		password := strings.Repeat("p", bcryptInputLimit)
		legacy, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
		require.NoError(t, err)
		require.NoError(t, d.inst.Server().Store().CreateUser(context.Background(), &store.User{
			ID: uuid.New(), Email: "legacy@example.com", Username: "legacy", HashedPassword: legacy, SiteRole: store.RoleMember,
		}))

		d.login("legacy@example.com", password)
		for _, wrong := range []string{password + "x", password[:bcryptInputLimit-1], lastCharChanged(password)} {
			r := attemptLogin(t, d.anon(), "legacy@example.com", wrong)
			requireError(t, r.StatusCode(), r.Body, http.StatusUnauthorized, msgBadLogin)
		}
	})
}
