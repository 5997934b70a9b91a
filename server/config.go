// Package server wires entitle's HTTP server: Echo, the middleware (request ids, access log,
// panic recovery, body limit, authentication, validation against the embedded spec), the one
// error writer, health checks, and start and graceful stop.
package server

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"entitle/proxyaddr"
)

// defaultMaxTokenLifetime is --max-token-lifetime's default, as Coder's.
const defaultMaxTokenLifetime = 720 * time.Hour

// Config is the server's whole configuration. The kong tags give each field its flag,
// environment variable and default; tests fill the struct directly.
type Config struct {
	HTTPAddress                 string        `name:"http-address" env:"ENTITLE_HTTP_ADDRESS" default:"127.0.0.1:3000" help:"Address the API listens on."`
	PostgresURL                 string        `name:"postgres-url" env:"ENTITLE_POSTGRES_URL" help:"PostgreSQL connection URL; empty uses the embedded SQLite database in --data-dir."`
	DataDir                     string        `name:"data-dir" env:"ENTITLE_DATA_DIR" default:"${default_data_dir}" help:"Directory of the embedded database."`
	LicenseKeysDir              string        `name:"license-keys-dir" env:"ENTITLE_LICENSE_KEYS_DIR" placeholder:"DIR" help:"Trusted license public keys, <kid>.pem each (default: <data-dir>/license-keys)."`
	SessionDuration             time.Duration `name:"session-duration" env:"ENTITLE_SESSION_DURATION" default:"24h" help:"Session token lifetime; a session slides forward when used."`
	MaxTokenLifetime            time.Duration `name:"max-token-lifetime" env:"ENTITLE_MAX_TOKEN_LIFETIME" default:"720h" help:"Longest lifetime an API token may ask for; tokens do not slide."`
	EntitlementsRefreshInterval time.Duration `name:"entitlements-refresh-interval" env:"ENTITLE_ENTITLEMENTS_REFRESH_INTERVAL" default:"10m" help:"How often entitlements are recomputed."`
	EntitlementsRefreshCooldown time.Duration `name:"entitlements-refresh-cooldown" env:"ENTITLE_ENTITLEMENTS_REFRESH_COOLDOWN" default:"60s" help:"Minimum gap between explicit entitlement refreshes, across the deployment."`
	PrometheusAddress           string        `name:"prometheus-address" env:"ENTITLE_PROMETHEUS_ADDRESS" placeholder:"HOST:PORT" help:"Serve Prometheus metrics at /metrics on this address (off when empty)."`
	AccessURL                   string        `name:"access-url" env:"ENTITLE_ACCESS_URL" placeholder:"URL" help:"The URL people and clients reach the server at (default: the listen URL)."`
	LogFormat                   string        `name:"log-format" env:"ENTITLE_LOG_FORMAT" enum:"text,json" default:"text" help:"Log line format: text or json."`
	ProxyTrustedHeaders         []string      `name:"proxy-trusted-headers" env:"ENTITLE_PROXY_TRUSTED_HEADERS" sep:"," placeholder:"HEADER,..." help:"Headers to take the client's address from, when the request comes from a trusted proxy; e.g. X-Forwarded-For, X-Real-IP, True-Client-IP, CF-Connecting-IP."`
	ProxyTrustedOrigins         []string      `name:"proxy-trusted-origins" env:"ENTITLE_PROXY_TRUSTED_ORIGINS" sep:"," placeholder:"CIDR,..." help:"Addresses or ranges of the proxies whose --proxy-trusted-headers to believe; e.g. 10.0.0.0/8."`

	// Version is what /buildinfo reports; main sets it.
	Version string `kong:"-"`
	// PasswordHashCost is the bcrypt cost; zero is bcrypt's default. Tests lower it.
	PasswordHashCost int `kong:"-"`
	// LoginThrottleWindow is how long failed logins count against an email or client address;
	// zero is the contract's 15 minutes. Tests shorten it.
	LoginThrottleWindow time.Duration `kong:"-"`
	// ShutdownTimeout bounds how long requests in flight may drain at stop; zero is 15s.
	ShutdownTimeout time.Duration `kong:"-"`
	// DatabaseTimeout bounds each database statement and transaction (store.Config); zero is
	// the store's default. Tests shorten it.
	DatabaseTimeout time.Duration `kong:"-"`
	// DormancyAfter is how long without authentication makes a user dormant; zero is Coder's
	// 90 days. DormancyCheckInterval is the time between dormancy passes; zero is 15 minutes.
	// Tests shorten them.
	DormancyAfter         time.Duration `kong:"-"`
	DormancyCheckInterval time.Duration `kong:"-"`
}

// Validate reports the first setting that cannot work.
func (c *Config) Validate() error {
	switch {
	case c.HTTPAddress == "":
		return errors.New("--http-address must not be empty")
	case c.PostgresURL == "" && c.DataDir == "":
		return errors.New("--data-dir must not be empty when --postgres-url is not set")
	case c.SessionDuration <= 0:
		return errors.New("--session-duration must be positive")
	case c.MaxTokenLifetime < 0:
		return errors.New("--max-token-lifetime must not be negative")
	case c.EntitlementsRefreshInterval <= 0:
		return errors.New("--entitlements-refresh-interval must be positive")
	case c.EntitlementsRefreshCooldown < 0:
		return errors.New("--entitlements-refresh-cooldown must not be negative")
	case c.LogFormat != "" && c.LogFormat != "text" && c.LogFormat != "json":
		return errors.New("--log-format must be text or json")
	case c.PrometheusAddress != "" && c.PrometheusAddress == c.HTTPAddress && !strings.HasSuffix(c.HTTPAddress, ":0"):
		// Two listeners on port 0 each get a free port of their own: that is not a clash.
		return errors.New("--prometheus-address must differ from --http-address")
	}
	if c.AccessURL != "" {
		// Clients are sent to it (buildinfo's dashboard_url): "not a url" would start and
		// send them nowhere.
		u, err := url.Parse(c.AccessURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("--access-url: %q is not an http or https URL, such as https://entitle.example.com", c.AccessURL)
		}
	}
	if _, err := c.clientAddresses(); err != nil {
		return err
	}
	return nil
}

// clientAddresses finds each request's client address as --proxy-trusted-headers and
// --proxy-trusted-origins say.
func (c *Config) clientAddresses() (*proxyaddr.Resolver, error) {
	return proxyaddr.New(c.ProxyTrustedHeaders, c.ProxyTrustedOrigins)
}

// KeysDir is where trusted license keys live, with its default filled in.
func (c *Config) KeysDir() string {
	if c.LicenseKeysDir != "" {
		return c.LicenseKeysDir
	}
	return filepath.Join(c.DataDir, "license-keys")
}

// NewLogger makes the logger the configuration asks for, writing to w. The access log's lines
// are written in batches (see logbuffer.go); the server's Close writes out the last ones.
func (c *Config) NewLogger(w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	buffer := newLogBuffer(w)
	if c.LogFormat == "json" {
		return slog.New(bufferingHandler{Handler: slog.NewJSONHandler(buffer, opts), buffer: buffer, format: "json"})
	}
	return slog.New(bufferingHandler{Handler: slog.NewTextHandler(buffer, opts), buffer: buffer, format: "text"})
}

// maxTokenLifetime is --max-token-lifetime; zero, as in a Config filled by hand, is its default.
func (c *Config) maxTokenLifetime() time.Duration {
	if c.MaxTokenLifetime > 0 {
		return c.MaxTokenLifetime
	}
	return defaultMaxTokenLifetime
}

func (c *Config) shutdownTimeout() time.Duration {
	if c.ShutdownTimeout > 0 {
		return c.ShutdownTimeout
	}
	return 15 * time.Second
}
