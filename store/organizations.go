package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
)

// CreateOrganization inserts o; ErrConflict when its name is taken, ignoring case.
func (s *Store) CreateOrganization(ctx context.Context, o *Organization) error {
	if err := translate(s.with(ctx).Create(o).Error); err != nil {
		return fmt.Errorf("insert organization: %w", err)
	}
	return nil
}

// CreateOrganizationWithAdmin inserts o and makes adminID its first member, an admin of it:
// both rows or neither. ErrConflict when the name is taken, ignoring case; ErrNotFound when
// there is no such user. o's creation time, when zero, is now; the membership begins then too.
//
// On PostgreSQL the two rows are one statement (an INSERT inside WITH), so creating an
// organization costs one round trip to the database rather than two: with BEGIN and COMMIT
// around it for the audit entry, three rather than four. SQLite has no INSERT inside WITH,
// and runs in-process, where a statement costs no round trip: two statements there.
func (s *Store) CreateOrganizationWithAdmin(ctx context.Context, o *Organization, adminID uuid.UUID) error {
	if o.CreatedAt.IsZero() {
		o.CreatedAt = Now()
	}
	if o.UpdatedAt.IsZero() {
		o.UpdatedAt = o.CreatedAt
	}
	admin := OrganizationMember{OrganizationID: o.ID, UserID: adminID, IsAdmin: true, CreatedAt: o.CreatedAt, UpdatedAt: o.CreatedAt}
	if s.dialect != DialectPostgres {
		insert := func(tx *Store) error {
			if err := tx.CreateOrganization(ctx, o); err != nil {
				return err
			}
			return tx.AddMember(ctx, &admin)
		}
		if s.inTx {
			return insert(s) // the caller's transaction holds the two together
		}
		return s.InTx(ctx, insert)
	}
	// The invalidation reads the tables from the SQL; the marks from where the new row falls.
	err := s.with(ctx).Set(insertedFromSetting, o.CreatedAt).Exec(`WITH organization AS (
	INSERT INTO organizations (id, name, display_name, description, icon, is_default, created_at, updated_at)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?)
	RETURNING id
)
INSERT INTO organization_members (organization_id, user_id, is_admin, created_at, updated_at)
SELECT id, ?, ?, ?, ? FROM organization`,
		o.ID, o.Name, o.DisplayName, o.Description, o.Icon, o.IsDefault, o.CreatedAt, o.UpdatedAt,
		admin.UserID, admin.IsAdmin, admin.CreatedAt, admin.UpdatedAt).Error
	if err := translate(err); err != nil {
		return fmt.Errorf("insert organization and its admin: %w", err)
	}
	return nil
}

// OrganizationChanges are the fields an update sets; nil leaves a field as it is.
type OrganizationChanges struct {
	Name        *string
	DisplayName *string
	Description *string
	Icon        *string
}

// UpdateOrganization sets the changed fields and updated_at, and returns the organization as it
// is now. Only the fields given are written, so concurrent updates of different fields both
// stand. ErrConflict when the new name is taken, ignoring case; ErrNotFound when there is no
// such organization.
func (s *Store) UpdateOrganization(ctx context.Context, id uuid.UUID, c OrganizationChanges, now time.Time) (Organization, error) {
	set := map[string]any{"updated_at": now}
	for column, value := range map[string]*string{"name": c.Name, "display_name": c.DisplayName, "description": c.Description, "icon": c.Icon} {
		if value != nil {
			set[column] = *value
		}
	}
	var org Organization
	err := s.InTx(ctx, func(tx *Store) error {
		res := tx.with(ctx).Model(&Organization{}).Where("id = ?", id).Updates(set)
		if err := translate(res.Error); err != nil {
			return err
		}
		if res.RowsAffected == 0 {
			return ErrNotFound
		}
		var err error
		org, err = tx.OrganizationByID(ctx, id)
		return err
	})
	if err != nil {
		return Organization{}, fmt.Errorf("update organization %s: %w", id, err)
	}
	return org, nil
}

// DeleteOrganization removes an organization that is not the default one, and with it every
// membership (the foreign key cascades); ErrNotFound when there is no such organization.
func (s *Store) DeleteOrganization(ctx context.Context, id uuid.UUID) error {
	res := s.with(ctx).Where("id = ? AND NOT is_default", id).Delete(&Organization{})
	if res.Error != nil {
		return fmt.Errorf("delete organization %s: %w", id, res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("delete organization %s: %w", id, ErrNotFound)
	}
	return nil
}

// DefaultOrganization returns the one default organization.
func (s *Store) DefaultOrganization(ctx context.Context) (Organization, error) {
	return cachedRead(ctx, s, s.caches.organizations, organizationKey{isDefault: true}, func(ctx context.Context) (Organization, error) {
		var o Organization
		if err := translate(s.with(ctx).Where("is_default").Take(&o).Error); err != nil {
			return Organization{}, fmt.Errorf("select default organization: %w", err)
		}
		return o, nil
	})
}

// OrganizationByID returns the organization with that id.
func (s *Store) OrganizationByID(ctx context.Context, id uuid.UUID) (Organization, error) {
	return cachedRead(ctx, s, s.caches.organizations, organizationKey{id: id}, func(ctx context.Context) (Organization, error) {
		var o Organization
		if err := translate(s.with(ctx).Where("id = ?", id).Take(&o).Error); err != nil {
			return Organization{}, fmt.Errorf("select organization by id: %w", err)
		}
		return o, nil
	})
}

// OrganizationByName returns the organization with that name, ignoring case.
func (s *Store) OrganizationByName(ctx context.Context, name string) (Organization, error) {
	load := func(ctx context.Context) (Organization, error) {
		var o Organization
		if err := translate(s.with(ctx).Where("lower(name) = lower(?)", name).Take(&o).Error); err != nil {
			return Organization{}, fmt.Errorf("select organization by name: %w", err)
		}
		return o, nil
	}
	if !isASCII(name) {
		// SQLite's lower() folds only ASCII letters, Go's strings.ToLower every letter: the
		// cache's key would not find what the query finds. Stored names are ASCII anyway.
		return load(ctx)
	}
	return cachedRead(ctx, s, s.caches.organizations, organizationKey{name: strings.ToLower(name)}, load)
}

// ListOrganizations returns a page of every organization, oldest first.
func (s *Store) ListOrganizations(ctx context.Context, page Page) ([]Organization, error) {
	scoped := func() *gorm.DB { return s.with(ctx).Model(&Organization{}) }
	orgs := []Organization{}
	if err := page.of(scoped, "organizations.created_at", "organizations.id").Find(&orgs).Error; err != nil {
		return nil, fmt.Errorf("list organizations: %w", err)
	}
	return orgs, nil
}

// ListOrganizationsOfUser returns a page of the organizations the user belongs to, oldest first.
func (s *Store) ListOrganizationsOfUser(ctx context.Context, userID uuid.UUID, page Page) ([]Organization, error) {
	scoped := func() *gorm.DB {
		return s.with(ctx).Model(&Organization{}).
			Joins("JOIN organization_members m ON m.organization_id = organizations.id AND m.user_id = ?", userID)
	}
	orgs := []Organization{}
	if err := page.of(scoped, "organizations.created_at", "organizations.id").Find(&orgs).Error; err != nil {
		return nil, fmt.Errorf("list organizations of user: %w", err)
	}
	return orgs, nil
}

// OrganizationOfUserByName returns the organization with that name (ignoring case) if the user
// belongs to it; ErrNotFound otherwise.
func (s *Store) OrganizationOfUserByName(ctx context.Context, userID uuid.UUID, name string) (Organization, error) {
	var o Organization
	err := s.with(ctx).
		Joins("JOIN organization_members m ON m.organization_id = organizations.id AND m.user_id = ?", userID).
		Where("lower(organizations.name) = lower(?)", name).
		Take(&o).Error
	if err := translate(err); err != nil {
		return Organization{}, fmt.Errorf("select organization of user by name: %w", err)
	}
	return o, nil
}

// OrganizationIDsOfUser returns the ids of the organizations the user belongs to, oldest membership first.
func (s *Store) OrganizationIDsOfUser(ctx context.Context, userID uuid.UUID) ([]uuid.UUID, error) {
	ids, few, err := s.FewOrganizationIDsOfUser(ctx, userID)
	if err != nil || few {
		return ids, err
	}
	// Too many to keep in memory for every request: read them all, this once.
	all := []uuid.UUID{}
	err = s.with(ctx).Model(&OrganizationMember{}).Where("user_id = ?", userID).
		Order("organization_id").Pluck("organization_id", &all).Error
	if err != nil {
		return nil, fmt.Errorf("list organization ids of user: %w", err)
	}
	return all, nil
}

// MaxCachedOrganizationIDs bounds the organization ids kept in memory per user: most users
// belong to a few organizations and are served from memory; one in more (an owner in a
// million) is read, or streamed, from the database.
const MaxCachedOrganizationIDs = 1000

// FewOrganizationIDsOfUser returns the user's organization ids by id, from memory when it can,
// when there are at most MaxCachedOrganizationIDs; few is false (and ids incomplete) when
// there are more. The order is the one streamed lists use, so both answers agree.
func (s *Store) FewOrganizationIDsOfUser(ctx context.Context, userID uuid.UUID) (ids []uuid.UUID, few bool, err error) {
	ids, err = cachedRead(ctx, s, s.caches.userOrganizations, userID, func(ctx context.Context) ([]uuid.UUID, error) {
		ids := []uuid.UUID{}
		err := s.with(ctx).Model(&OrganizationMember{}).
			Where("user_id = ?", userID).
			Order("organization_id").
			Limit(MaxCachedOrganizationIDs+1).
			Pluck("organization_id", &ids).Error
		if err != nil {
			return nil, fmt.Errorf("list organization ids of user: %w", err)
		}
		return ids, nil
	})
	if err != nil {
		return nil, false, err
	}
	// A copy: the kept list is shared, and the caller may change what it is given.
	return slices.Clone(ids), len(ids) <= MaxCachedOrganizationIDs, nil
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
	key := membershipKey{organizationID: orgID, userID: userID}
	return cachedRead(ctx, s, s.caches.memberships, key, func(ctx context.Context) (OrganizationMember, error) {
		var m OrganizationMember
		err := translate(s.with(ctx).Where("organization_id = ? AND user_id = ?", orgID, userID).Take(&m).Error)
		if err != nil {
			return OrganizationMember{}, fmt.Errorf("select organization member: %w", err)
		}
		return m, nil
	})
}

// SetMemberAdmin makes the member an admin of the organization or a plain member, and returns
// the membership as it is now; ErrNotFound when the user is not a member.
func (s *Store) SetMemberAdmin(ctx context.Context, orgID, userID uuid.UUID, admin bool, now time.Time) (OrganizationMember, error) {
	var m OrganizationMember
	err := s.InTx(ctx, func(tx *Store) error {
		res := tx.with(ctx).Model(&OrganizationMember{}).
			Where("organization_id = ? AND user_id = ?", orgID, userID).
			Updates(map[string]any{"is_admin": admin, "updated_at": now})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrNotFound
		}
		var err error
		m, err = tx.Membership(ctx, orgID, userID)
		return err
	})
	if err != nil {
		return OrganizationMember{}, fmt.Errorf("set organization roles: %w", err)
	}
	return m, nil
}

// RemoveMember ends the user's membership of the organization; ErrNotFound when there is none.
func (s *Store) RemoveMember(ctx context.Context, orgID, userID uuid.UUID) error {
	res := s.with(ctx).Where("organization_id = ? AND user_id = ?", orgID, userID).Delete(&OrganizationMember{})
	if res.Error != nil {
		return fmt.Errorf("delete organization member: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("delete organization member: %w", ErrNotFound)
	}
	return nil
}

// MemberWithUser is a membership with the details of its user.
type MemberWithUser struct {
	OrganizationMember `gorm:"embedded"`
	Username           string
	Name               string
	Email              string
	AvatarURL          string `gorm:"column:avatar_url"`
	SiteRole           string
	Status             string
	UserCreatedAt      time.Time
	UserUpdatedAt      time.Time
	LastSeenAt         time.Time
}

// membersWithUsers selects an organization's memberships joined with their users.
func (s *Store) membersWithUsers(ctx context.Context, orgID uuid.UUID) *gorm.DB {
	return s.with(ctx).Model(&OrganizationMember{}).
		Select("organization_members.*, users.username, users.name, users.email, users.avatar_url, users.site_role, "+
			"users.status, users.created_at AS user_created_at, users.updated_at AS user_updated_at, users.last_seen_at").
		Joins("JOIN users ON users.id = organization_members.user_id").
		Where("organization_members.organization_id = ?", orgID)
}

// ListMembers returns a page of the organization's members, oldest membership first, with their
// users' details. AfterID names a member by their user id.
func (s *Store) ListMembers(ctx context.Context, orgID uuid.UUID, page Page) ([]MemberWithUser, error) {
	scoped := func() *gorm.DB { return s.membersWithUsers(ctx, orgID) }
	members := []MemberWithUser{}
	err := page.of(scoped, "organization_members.created_at", "organization_members.user_id").Find(&members).Error
	if err != nil {
		return nil, fmt.Errorf("list organization members: %w", err)
	}
	return members, nil
}

// CountMembers counts the organization's members.
func (s *Store) CountMembers(ctx context.Context, orgID uuid.UUID) (int64, error) {
	var n int64
	if err := s.with(ctx).Model(&OrganizationMember{}).Where("organization_id = ?", orgID).Count(&n).Error; err != nil {
		return 0, fmt.Errorf("count organization members: %w", err)
	}
	return n, nil
}
