// Package api implements the generated strict-server interface over the store: one file per
// resource. Authentication and request validation happen before a handler runs (see server/);
// handlers check only what the spec cannot say: reserved names, uniqueness, permissions.
package api

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"
	"golang.org/x/crypto/bcrypt"

	"entitle/entitlements"
	"entitle/gen"
	"entitle/password"
	"entitle/store"
)

var _ gen.StrictServerInterface = (*API)(nil)

// Config is what the handlers need from the server's configuration.
type Config struct {
	Store           *store.Store
	DeploymentID    uuid.UUID
	Entitlements    *entitlements.Service
	Logger          *slog.Logger
	Version         string
	SessionDuration time.Duration
	// PasswordHashCost is the bcrypt cost; zero means bcrypt.DefaultCost.
	PasswordHashCost int
	// RefreshCooldown is the minimum gap between explicit refreshes across the deployment.
	RefreshCooldown time.Duration
	// AccessURL is the URL people reach the server at; it is asked for on each /buildinfo
	// because with a listen port of 0 it is known only once the server listens.
	AccessURL func() string
	// ThrottleWindow is how long failed logins count against an email or client address;
	// zero (or less) is the contract's 15 minutes.
	ThrottleWindow time.Duration
	// MaxTokenLifetime is the longest lifetime an API token may ask for.
	MaxTokenLifetime time.Duration
	// Draining is closed when the server starts to drain: requests waiting for an
	// entitlements change answer at once instead of holding the drain up.
	Draining <-chan struct{}
}

// API serves the operations of openapi.yaml.
type API struct {
	store           *store.Store
	entitlements    *entitlements.Service
	logger          *slog.Logger
	version         string
	deploymentID    uuid.UUID
	sessionDuration time.Duration
	hashCost        int
	refreshCooldown time.Duration
	accessURL       func() string
	// dummyHash is compared against when a login names an unknown email, so that login
	// costs the same whether or not the email exists.
	dummyHash     []byte
	loginThrottle *loginThrottle
	// maxTokenLifetime is the longest lifetime an API token may ask for.
	maxTokenLifetime time.Duration
	// draining is Config.Draining.
	draining <-chan struct{}
}

// New builds the API.
func New(cfg Config) (*API, error) {
	cost := cfg.PasswordHashCost
	if cost == 0 {
		cost = bcrypt.DefaultCost
	}
	// Not password.Hash: that runs bcrypt, about 70 ms at the default cost, before the server
	// could answer; comparing against either costs the same.
	dummy, err := password.Unmatchable(cost)
	if err != nil {
		return nil, fmt.Errorf("dummy password hash: %w", err)
	}
	window := cfg.ThrottleWindow
	if window <= 0 {
		window = defaultLoginThrottleWindow
	}
	return &API{
		store:           cfg.Store,
		entitlements:    cfg.Entitlements,
		logger:          cfg.Logger,
		version:         cfg.Version,
		deploymentID:    cfg.DeploymentID,
		sessionDuration: cfg.SessionDuration,
		hashCost:        cost,
		refreshCooldown: cfg.RefreshCooldown,
		accessURL:       cfg.AccessURL,
		dummyHash:       dummy,
		loginThrottle:   &loginThrottle{store: cfg.Store, window: window, logger: cfg.Logger},
		// API tokens (tokens.go).
		maxTokenLifetime: cfg.MaxTokenLifetime,
		draining:         cfg.Draining,
	}, nil
}

// Versions of Coder's workspace APIs that /buildinfo reports for Coder's clients, which read
// them; entitle serves neither agents nor provisioners.
const (
	agentAPIVersion       = "2.0"
	provisionerAPIVersion = "1.0"
)

// GetBuildInfo says which version runs, where it is reached and which deployment this is, in
// Coder's shape.
func (a *API) GetBuildInfo(context.Context, gen.GetBuildInfoRequestObject) (gen.GetBuildInfoResponseObject, error) {
	accessURL := ""
	if a.accessURL != nil {
		accessURL = strings.TrimSuffix(a.accessURL(), "/")
	}
	return gen.GetBuildInfo200JSONResponse{
		Version:               a.version,
		DeploymentId:          a.deploymentID,
		DashboardUrl:          accessURL,
		ExternalUrl:           accessURL + "/swagger/",
		AgentApiVersion:       agentAPIVersion,
		ProvisionerApiVersion: provisionerAPIVersion,
	}, nil
}
