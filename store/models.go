package store

import (
	"time"

	"github.com/google/uuid"
)

// Site roles.
const (
	RoleOwner  = "owner"
	RoleMember = "member"
)

// User is a person who can sign in.
type User struct {
	ID             uuid.UUID `gorm:"primaryKey"`
	Username       string
	Email          string
	HashedPassword []byte
	SiteRole       string
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Organization groups users.
type Organization struct {
	ID        uuid.UUID `gorm:"primaryKey"`
	Name      string
	IsDefault bool
	CreatedAt time.Time
	UpdatedAt time.Time
}

// OrganizationMember says a user belongs to an organization, and whether as its admin.
type OrganizationMember struct {
	OrganizationID uuid.UUID `gorm:"primaryKey"`
	UserID         uuid.UUID `gorm:"primaryKey"`
	IsAdmin        bool
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// APIKey is a session: only the SHA-256 of its secret is kept.
type APIKey struct {
	ID           string `gorm:"primaryKey"`
	HashedSecret []byte
	UserID       uuid.UUID
	CreatedAt    time.Time
	LastUsed     time.Time
	ExpiresAt    time.Time
}

// SiteConfig is one deployment-wide key and value.
type SiteConfig struct {
	Key   string `gorm:"primaryKey"`
	Value string
}

// models lists every table's model, for the test that checks migrations match them.
func models() []any {
	return []any{&User{}, &Organization{}, &OrganizationMember{}, &APIKey{}, &SiteConfig{}}
}
