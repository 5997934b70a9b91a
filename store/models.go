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
	ID          uuid.UUID `gorm:"primaryKey"`
	Name        string
	DisplayName string
	Description string
	Icon        string
	IsDefault   bool
	CreatedAt   time.Time
	UpdatedAt   time.Time
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

// License is an uploaded license token; its claims are read from the token itself.
type License struct {
	ID         int32 `gorm:"primaryKey"`
	UploadedAt time.Time
	JWT        string `gorm:"column:jwt"`
	Exp        time.Time
	UUID       uuid.UUID `gorm:"column:uuid"`
}

// EntitlementsRefresh records when an explicit refresh last ran anywhere in the deployment.
type EntitlementsRefresh struct {
	ID          int `gorm:"primaryKey"`
	RefreshedAt time.Time
}

// Replica is a running server process of this deployment.
type Replica struct {
	ID         uuid.UUID `gorm:"primaryKey"`
	Hostname   string
	StartedAt  time.Time
	LastSeenAt time.Time
}

// models lists every table's model, for the test that checks migrations match them.
func models() []any {
	return []any{&User{}, &Organization{}, &OrganizationMember{}, &APIKey{}, &SiteConfig{},
		&License{}, &EntitlementsRefresh{}, &Replica{}}
}
