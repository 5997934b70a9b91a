package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"gorm.io/gorm/clause"
)

// DefaultOrganizationName is the name the default organization is created with.
const DefaultOrganizationName = "first-organization"

const deploymentIDKey = "deployment_id"

// ensureDefaults creates the deployment id and the default organization the first time the
// database is opened. Inserts that lose a race to another replica are ignored, so every
// process ends with the same values.
func (s *Store) ensureDefaults(ctx context.Context) error {
	err := s.with(ctx).Clauses(clause.OnConflict{DoNothing: true}).
		Create(&SiteConfig{Key: deploymentIDKey, Value: uuid.NewString()}).Error
	if err != nil {
		return fmt.Errorf("create deployment id: %w", err)
	}
	if _, err := s.DefaultOrganization(ctx); err == nil {
		return nil
	} else if !errors.Is(err, ErrNotFound) {
		return err
	}
	now := Now()
	org := Organization{ID: uuid.New(), Name: DefaultOrganizationName, DisplayName: DefaultOrganizationName, IsDefault: true, CreatedAt: now, UpdatedAt: now}
	err = translate(s.with(ctx).Create(&org).Error)
	if err != nil && !errors.Is(err, ErrConflict) {
		return fmt.Errorf("create default organization: %w", err)
	}
	return nil
}

// DeploymentID returns the id made at this deployment's first start.
func (s *Store) DeploymentID(ctx context.Context) (uuid.UUID, error) {
	var cfg SiteConfig
	if err := translate(s.with(ctx).Where("key = ?", deploymentIDKey).Take(&cfg).Error); err != nil {
		return uuid.Nil, fmt.Errorf("read deployment id: %w", err)
	}
	id, err := uuid.Parse(cfg.Value)
	if err != nil {
		return uuid.Nil, fmt.Errorf("parse deployment id: %w", err)
	}
	return id, nil
}
