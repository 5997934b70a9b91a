// Package api implements the generated strict-server interface over the store: one file per
// resource. Authentication and request validation happen before a handler runs (see server/);
// handlers check only what the spec cannot say: reserved names, uniqueness, permissions.
package api

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"golang.org/x/crypto/bcrypt"

	"entitle/entitlements"
	"entitle/gen"
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
	// MaxTokenLifetime is the longest lifetime an API token may ask for.
	MaxTokenLifetime time.Duration
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
	// dummyHash is compared against when a login names an unknown email, so that login
	// costs the same whether or not the email exists.
	dummyHash []byte
	// maxTokenLifetime is the longest lifetime an API token may ask for.
	maxTokenLifetime time.Duration
}

// New builds the API.
func New(cfg Config) (*API, error) {
	cost := cfg.PasswordHashCost
	if cost == 0 {
		cost = bcrypt.DefaultCost
	}
	dummy, err := bcrypt.GenerateFromPassword([]byte("entitle-timing-equalizer"), cost)
	if err != nil {
		return nil, fmt.Errorf("hash dummy password: %w", err)
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
		dummyHash:       dummy,
		// API tokens (tokens.go).
		maxTokenLifetime: cfg.MaxTokenLifetime,
	}, nil
}

// GetBuildInfo says which version runs and which deployment this is.
func (a *API) GetBuildInfo(context.Context, gen.GetBuildInfoRequestObject) (gen.GetBuildInfoResponseObject, error) {
	return gen.GetBuildInfo200JSONResponse{Version: a.version, DeploymentId: a.deploymentID}, nil
}
