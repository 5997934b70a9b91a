package e2e

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/gen"
	"entitle/internal/testenv"
	"entitle/server"
)

// startBehindProxy starts a deployment that trusts X-Forwarded-For from origins, with a license
// issuer it trusts (for the audit log).
func startBehindProxy(t *testing.T, db testenv.Database, origins ...string) (*deployment, *testenv.Issuer) {
	t.Helper()
	return startAudited(t, db, func(cfg *server.Config) {
		cfg.ProxyTrustedHeaders = []string{"X-Forwarded-For"}
		cfg.ProxyTrustedOrigins = origins
	})
}

// forwardedFor is a client whose requests carry X-Forwarded-For: chain, as a proxy in front of
// the server would write it.
func (d *deployment) forwardedFor(chain string) *gen.ClientWithResponses {
	d.t.Helper()
	c, err := gen.NewClientWithResponses(d.inst.APIURL(), gen.WithHTTPClient(d),
		gen.WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
			req.Header.Set("X-Forwarded-For", chain)
			return nil
		}))
	require.NoError(d.t, err)
	return c
}

// Behind a load balancer every request comes from the balancer. Trusting it, each client
// behind it has its own fifty failures: one client's guessing throttles that client, not every
// sign-in. What a client writes to the left of its own address does not move it elsewhere.
func TestBehindATrustedProxyEachClientHasItsOwnLoginLimit(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d, issuer := startBehindProxy(t, db, "127.0.0.1/32")
		d.addAuditLicense(d.setupOwner(), issuer)
		d.waitForAuditLog(true)

		guesser := d.forwardedFor("203.0.113.7")
		for i := range failuresPerAddress {
			failLogins(t, guesser, fmt.Sprintf("user%d@example.com", i), 1)
		}
		requireThrottled(t, attemptLogin(t, guesser, "another@example.com", "wrong-password"), throttleWindow)
		// Claiming to be someone else, to the left of what the proxy appended, changes nothing.
		disguised := d.forwardedFor("198.51.100.1, 203.0.113.7")
		requireThrottled(t, attemptLogin(t, disguised, "another@example.com", "wrong-password"), throttleWindow)

		// Another client behind the same proxy signs in, and its audit entry names it.
		ok := attemptLogin(t, d.forwardedFor("203.0.113.8"), testenv.OwnerEmail, testenv.OwnerPassword)
		require.Equal(t, http.StatusCreated, ok.StatusCode(), string(ok.Body))
		owner := ok.JSON201.SessionToken
		d.remember(owner)
		created, err := d.forwardedFor("203.0.113.8").CreateOrganizationWithResponse(context.Background(),
			gen.CreateOrganizationRequest{Name: "behind-proxy"}, func(_ context.Context, req *http.Request) error {
				req.Header.Set(server.SessionHeader, owner)
				return nil
			})
		require.NoError(t, err)
		require.Equal(t, http.StatusCreated, created.StatusCode(), string(created.Body))
		entries := d.auditLogs(owner, "resource_type:organization")
		require.NotEmpty(t, entries.AuditLogs, "the organization's creation was not audited")
		assert.Equal(t, "203.0.113.8", entries.AuditLogs[0].Ip)
		assert.Equal(t, "behind-proxy", entries.AuditLogs[0].ResourceTarget)
	})
}

// The header is believed only from a trusted proxy: from any other peer it is whatever the
// client wrote, and the client is the peer.
func TestForwardedForFromAnUntrustedPeerIsIgnored(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t.Parallel()
		d, _ := startBehindProxy(t, db, "10.0.0.0/8")
		d.setupOwner()
		for i := range failuresPerAddress {
			failLogins(t, d.forwardedFor(fmt.Sprintf("203.0.113.%d", i)), fmt.Sprintf("user%d@example.com", i), 1)
		}
		requireThrottled(t, attemptLogin(t, d.forwardedFor("203.0.113.200"), "another@example.com", "wrong-password"), throttleWindow)
	})
}
