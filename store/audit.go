package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
)

// InsertAuditLog writes one audit entry. Called on a Store made by InTx, it is part of that
// transaction: the entry stands or falls with the change it records.
func (s *Store) InsertAuditLog(ctx context.Context, e *AuditLog) error {
	if err := translate(s.with(ctx).Create(e).Error); err != nil {
		return fmt.Errorf("insert audit log: %w", err)
	}
	return nil
}

// AuditFilter selects audit entries; a zero field selects every entry.
type AuditFilter struct {
	ResourceType string
	ResourceID   uuid.UUID
	Action       string
	// Username and Email name the acting user, ignoring case; UserID names them by id.
	Username string
	Email    string
	UserID   uuid.UUID
	// From and Before bound the entry's time: From <= time < Before.
	From   time.Time
	Before time.Time
}

// AuditLogWithUser is an audit entry with its acting user's details, which are nil when the
// entry has no user or the user no longer exists, and its organization's as it is now, nil
// when it names none or the organization no longer exists.
type AuditLogWithUser struct {
	AuditLog      `gorm:"embedded"`
	UserUsername  *string
	UserName      *string
	UserEmail     *string
	UserAvatarURL *string `gorm:"column:user_avatar_url"`
	UserSiteRole  *string
	UserStatus    *string
	UserCreatedAt *time.Time
	UserUpdatedAt *time.Time
	UserLastSeen  *time.Time

	OrganizationName        *string
	OrganizationDisplayName *string
	OrganizationIcon        *string
}

// AuditLogs returns a page of the entries filter selects, newest first (at most limit, 0 for
// no limit, after skipping offset), and how many entries it selects in all. The page and the
// count are read in one transaction, so they agree.
func (s *Store) AuditLogs(ctx context.Context, filter AuditFilter, limit, offset int) ([]AuditLogWithUser, int64, error) {
	var (
		entries []AuditLogWithUser
		count   int64
	)
	err := s.InTx(ctx, func(tx *Store) error {
		if err := tx.auditLogsOf(ctx, filter).Count(&count).Error; err != nil {
			return fmt.Errorf("count audit logs: %w", err)
		}
		q := tx.auditLogsOf(ctx, filter).Select(`audit_logs.*,
			users.username AS user_username, users.name AS user_name, users.email AS user_email,
			users.avatar_url AS user_avatar_url, users.site_role AS user_site_role,
			users.status AS user_status, users.created_at AS user_created_at,
			users.updated_at AS user_updated_at, users.last_seen_at AS user_last_seen,
			organizations.name AS organization_name, organizations.display_name AS organization_display_name,
			organizations.icon AS organization_icon`).
			Joins("LEFT JOIN organizations ON organizations.id = audit_logs.organization_id").
			Order("audit_logs.time DESC").Order("audit_logs.id DESC")
		if err := limitAndOffset(q, limit, offset).Scan(&entries).Error; err != nil {
			return fmt.Errorf("list audit logs: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	if entries == nil {
		entries = []AuditLogWithUser{}
	}
	return entries, count, nil
}

// auditLogsOf selects the entries filter names, joined with their users.
func (s *Store) auditLogsOf(ctx context.Context, f AuditFilter) *gorm.DB {
	q := s.with(ctx).Table("audit_logs").Joins("LEFT JOIN users ON users.id = audit_logs.user_id")
	if f.ResourceType != "" {
		q = q.Where("audit_logs.resource_type = ?", f.ResourceType)
	}
	if f.ResourceID != uuid.Nil {
		q = q.Where("audit_logs.resource_id = ?", f.ResourceID)
	}
	if f.Action != "" {
		q = q.Where("audit_logs.action = ?", f.Action)
	}
	if f.Username != "" {
		q = q.Where("lower(users.username) = lower(?)", f.Username)
	}
	if f.Email != "" {
		q = q.Where(s.lowerEmail("users.email")+" = "+s.lowerEmail("?"), f.Email)
	}
	if f.UserID != uuid.Nil {
		q = q.Where("audit_logs.user_id = ?", f.UserID)
	}
	if !f.From.IsZero() {
		q = q.Where("audit_logs.time >= ?", f.From)
	}
	if !f.Before.IsZero() {
		q = q.Where("audit_logs.time < ?", f.Before)
	}
	return q
}
