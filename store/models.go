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
	ID              uuid.UUID `gorm:"primaryKey"`
	Username        string
	Name            string
	Email           string
	AvatarURL       string `gorm:"column:avatar_url"`
	HashedPassword  []byte
	SiteRole        string
	Status          string
	ThemePreference string
	CreatedAt       time.Time
	UpdatedAt       time.Time
	// LastSeenAt is when the user was last authenticated, written at most once a minute.
	LastSeenAt time.Time
}

// User statuses.
const (
	UserActive    = "active"
	UserDormant   = "dormant"
	UserSuspended = "suspended"
)

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

// Login types of an API key: a session (from signing in, or POST /users/{user}/keys) slides
// forward when used; a token keeps the expiry it was made with.
const (
	LoginTypePassword = "password"
	LoginTypeToken    = "token"
)

// ScopeAll is the only scope a key has: everything its user may do.
const ScopeAll = "all"

// APIKey is a session or an API token: only the SHA-256 of its secret is kept. TokenName is
// unique among a user's tokens and empty for sessions.
type APIKey struct {
	ID              string `gorm:"primaryKey"`
	HashedSecret    []byte
	UserID          uuid.UUID
	LoginType       string
	Scope           string
	TokenName       string
	LifetimeSeconds int64
	CreatedAt       time.Time
	UpdatedAt       time.Time
	LastUsed        time.Time
	ExpiresAt       time.Time
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

// LicensesGeneration is raised by a trigger on every write to licenses (see LicensesGeneration).
// There is one row (id 1), made by its migration.
type LicensesGeneration struct {
	ID         int `gorm:"primaryKey"`
	Generation int64
}

// TableName names the one-row table.
func (LicensesGeneration) TableName() string { return "licenses_generation" }

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

// LoginThrottle counts failed logins for one key (an email's digest or a client address)
// within the window that started at WindowStart.
type LoginThrottle struct {
	Key         string `gorm:"primaryKey"`
	Failures    int
	WindowStart time.Time
}

// SeatHighWater is the most users ever active at once, and when that many were first counted.
// There is one row (id 1), absent until the active users are first counted.
type SeatHighWater struct {
	ID          int `gorm:"primaryKey"`
	ActiveUsers int64
	RecordedAt  time.Time
}

// TableName names the one-row table.
func (SeatHighWater) TableName() string { return "seat_high_water" }

// AuditLog is one entry of the audit log. UserID, OrganizationID, ResourceID and RequestID are
// uuid.Nil when there is none; Diff is the JSON of the changed fields, secrets already hidden.
type AuditLog struct {
	ID             uuid.UUID `gorm:"primaryKey"`
	Time           time.Time
	UserID         uuid.UUID
	OrganizationID uuid.UUID
	IP             string `gorm:"column:ip"`
	UserAgent      string
	ResourceType   string
	ResourceID     uuid.UUID
	ResourceTarget string
	Action         string
	Diff           string
	StatusCode     int32
	RequestID      uuid.UUID
}

// models lists every table's model, for the test that checks migrations match them.
func models() []any {
	return []any{&User{}, &Organization{}, &OrganizationMember{}, &APIKey{}, &SiteConfig{},
		&License{}, &LicensesGeneration{}, &EntitlementsRefresh{}, &Replica{}, &LoginThrottle{}, &SeatHighWater{}, &AuditLog{}}
}
