package store

import (
	"context"
	"fmt"

	"github.com/google/uuid"
)

// CreateOrganization inserts o; ErrConflict when its name is taken, ignoring case.
func (s *Store) CreateOrganization(ctx context.Context, o *Organization) error {
	if err := translate(s.with(ctx).Create(o).Error); err != nil {
		return fmt.Errorf("insert organization: %w", err)
	}
	return nil
}

// DefaultOrganization returns the one default organization.
func (s *Store) DefaultOrganization(ctx context.Context) (Organization, error) {
	var o Organization
	if err := translate(s.with(ctx).Where("is_default").Take(&o).Error); err != nil {
		return Organization{}, fmt.Errorf("select default organization: %w", err)
	}
	return o, nil
}

// OrganizationByID returns the organization with that id.
func (s *Store) OrganizationByID(ctx context.Context, id uuid.UUID) (Organization, error) {
	var o Organization
	if err := translate(s.with(ctx).Where("id = ?", id).Take(&o).Error); err != nil {
		return Organization{}, fmt.Errorf("select organization by id: %w", err)
	}
	return o, nil
}

// OrganizationByName returns the organization with that name, ignoring case.
func (s *Store) OrganizationByName(ctx context.Context, name string) (Organization, error) {
	var o Organization
	if err := translate(s.with(ctx).Where("lower(name) = lower(?)", name).Take(&o).Error); err != nil {
		return Organization{}, fmt.Errorf("select organization by name: %w", err)
	}
	return o, nil
}

// ListOrganizations returns every organization, oldest first.
func (s *Store) ListOrganizations(ctx context.Context) ([]Organization, error) {
	var orgs []Organization
	if err := s.with(ctx).Order("created_at, id").Find(&orgs).Error; err != nil {
		return nil, fmt.Errorf("list organizations: %w", err)
	}
	return orgs, nil
}

// ListOrganizationsOfUser returns the organizations the user belongs to, oldest first.
func (s *Store) ListOrganizationsOfUser(ctx context.Context, userID uuid.UUID) ([]Organization, error) {
	var orgs []Organization
	err := s.with(ctx).
		Joins("JOIN organization_members m ON m.organization_id = organizations.id AND m.user_id = ?", userID).
		Order("organizations.created_at, organizations.id").
		Find(&orgs).Error
	if err != nil {
		return nil, fmt.Errorf("list organizations of user: %w", err)
	}
	return orgs, nil
}

// OrganizationIDsOfUser returns the ids of the organizations the user belongs to, oldest membership first.
func (s *Store) OrganizationIDsOfUser(ctx context.Context, userID uuid.UUID) ([]uuid.UUID, error) {
	ids := []uuid.UUID{}
	err := s.with(ctx).Model(&OrganizationMember{}).
		Where("user_id = ?", userID).
		Order("created_at, organization_id").
		Pluck("organization_id", &ids).Error
	if err != nil {
		return nil, fmt.Errorf("list organization ids of user: %w", err)
	}
	return ids, nil
}

// AddMember inserts m; ErrConflict when the user is already a member, ErrNotFound when the
// organization or the user does not exist.
func (s *Store) AddMember(ctx context.Context, m *OrganizationMember) error {
	if err := translate(s.with(ctx).Create(m).Error); err != nil {
		return fmt.Errorf("insert organization member: %w", err)
	}
	return nil
}

// Membership returns the user's membership of the organization.
func (s *Store) Membership(ctx context.Context, orgID, userID uuid.UUID) (OrganizationMember, error) {
	var m OrganizationMember
	err := translate(s.with(ctx).Where("organization_id = ? AND user_id = ?", orgID, userID).Take(&m).Error)
	if err != nil {
		return OrganizationMember{}, fmt.Errorf("select organization member: %w", err)
	}
	return m, nil
}
