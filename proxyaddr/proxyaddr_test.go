package proxyaddr_test

import (
	"net/http"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/proxyaddr"
)

func TestTheClientIsThePeerUnlessThePeerIsATrustedProxy(t *testing.T) {
	r, err := proxyaddr.New([]string{"x-forwarded-for", "X-Real-IP"}, []string{"10.0.0.0/8", "192.168.1.5", "::ffff:172.16.0.1"})
	require.NoError(t, err)
	cases := []struct {
		name, peer string
		header     http.Header
		want       string
	}{
		{"no proxy trusted: headers ignored", "203.0.113.9:4000", http.Header{"X-Forwarded-For": {"198.51.100.1"}}, "203.0.113.9"},
		{"trusted proxy, one hop", "10.1.2.3:4000", http.Header{"X-Forwarded-For": {"198.51.100.1"}}, "198.51.100.1"},
		{"a single trusted address", "192.168.1.5:4000", http.Header{"X-Forwarded-For": {"198.51.100.1"}}, "198.51.100.1"},
		{"an IPv4-mapped origin matches the plain address", "172.16.0.1:4000", http.Header{"X-Forwarded-For": {"198.51.100.1"}}, "198.51.100.1"},
		{"a peer next to the trusted one is not trusted", "192.168.1.6:4000", http.Header{"X-Forwarded-For": {"198.51.100.1"}}, "192.168.1.6"},
		{"what the client forged left of its address is skipped", "10.1.2.3:4000",
			http.Header{"X-Forwarded-For": {"1.1.1.1, 2.2.2.2, 198.51.100.1"}}, "198.51.100.1"},
		{"trusted hops on the right are skipped", "10.1.2.3:4000",
			http.Header{"X-Forwarded-For": {"1.1.1.1, 198.51.100.1, 10.9.9.9,10.8.8.8"}}, "198.51.100.1"},
		{"header lines are one list, the last nearest", "10.1.2.3:4000",
			http.Header{"X-Forwarded-For": {"1.1.1.1", "198.51.100.1, 10.9.9.9"}}, "198.51.100.1"},
		{"every hop trusted: the first is the client", "10.1.2.3:4000",
			http.Header{"X-Forwarded-For": {"10.7.7.7, 10.9.9.9"}}, "10.7.7.7"},
		{"hops with ports and IPv6", "10.1.2.3:4000",
			http.Header{"X-Forwarded-For": {"[2001:db8::7]:5123, 198.51.100.1:80"}}, "198.51.100.1"},
		{"IPv6 hop", "10.1.2.3:4000", http.Header{"X-Forwarded-For": {"2001:db8::7"}}, "2001:db8::7"},
		{"the first header that names an address wins", "10.1.2.3:4000",
			http.Header{"X-Forwarded-For": {"198.51.100.1"}, "X-Real-Ip": {"198.51.100.2"}}, "198.51.100.1"},
		{"a garbled header gives way to the next", "10.1.2.3:4000",
			http.Header{"X-Forwarded-For": {"198.51.100.1, not-an-address"}, "X-Real-Ip": {"198.51.100.2"}}, "198.51.100.2"},
		{"no usable header: the peer", "10.1.2.3:4000", http.Header{"X-Forwarded-For": {""}, "Forwarded": {"for=1.1.1.1"}}, "10.1.2.3"},
		{"an empty hop is garbled", "10.1.2.3:4000", http.Header{"X-Forwarded-For": {"198.51.100.1,"}}, "10.1.2.3"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, netip.MustParseAddr(c.want), r.Client(c.peer, c.header))
		})
	}
	assert.Equal(t, netip.Addr{}, r.Client("not-a-peer", nil), "an unreadable peer is the zero address")
}

func TestTheZeroResolverTrustsNoProxy(t *testing.T) {
	var r *proxyaddr.Resolver
	assert.False(t, r.TrustsProxies())
	assert.Equal(t, netip.MustParseAddr("127.0.0.1"), r.Client("127.0.0.1:5000", http.Header{"X-Forwarded-For": {"1.1.1.1"}}))
	empty, err := proxyaddr.New(nil, nil)
	require.NoError(t, err)
	assert.False(t, empty.TrustsProxies())
	assert.Equal(t, netip.MustParseAddr("::1"), empty.Client("[::1]:5000", http.Header{"X-Forwarded-For": {"1.1.1.1"}}))
}

func TestSettingsThatCannotWorkAreRefused(t *testing.T) {
	for _, c := range []struct {
		name             string
		headers, origins []string
		want             string
	}{
		{"headers without origins", []string{"X-Forwarded-For"}, nil, "needs --proxy-trusted-origins"},
		{"origins without headers", nil, []string{"10.0.0.0/8"}, "needs --proxy-trusted-headers"},
		{"a bad range", []string{"X-Forwarded-For"}, []string{"10.0.0.0/33"}, `"10.0.0.0/33" is neither an address nor a CIDR range`},
		{"a host name", []string{"X-Forwarded-For"}, []string{"proxy.internal"}, "is neither an address nor a CIDR range"},
		{"a bad header name", []string{"X Forwarded For"}, []string{"10.0.0.0/8"}, `"X Forwarded For" is not a header name`},
		{"an empty header name", []string{""}, []string{"10.0.0.0/8"}, "is not a header name"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := proxyaddr.New(c.headers, c.origins)
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
		})
	}
}
