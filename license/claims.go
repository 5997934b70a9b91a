// Package license verifies Ed25519-signed license tokens and computes entitlements from them.
//
// It is pure domain logic: no network, database or environment; keys come from an fs.FS and the
// time is always a parameter, so every rule can be table-tested with a fake clock.
package license

import "github.com/golang-jwt/jwt/v5"

// Claims is the payload of a license token; JSON names follow the contract exactly.
//
// Times are pointers so that a missing claim is distinguishable from the zero time.
type Claims struct {
	// ExpiresAt is the end of the grace period: the license stops counting here.
	ExpiresAt *jwt.NumericDate `json:"exp,omitempty"`
	// NotBefore is when the license starts counting; nil means it counts from the start.
	NotBefore *jwt.NumericDate `json:"nbf,omitempty"`
	// IssuedAt is when the license was signed.
	IssuedAt *jwt.NumericDate `json:"iat,omitempty"`
	// ID is the jti claim; it becomes the license's uuid when it is one.
	ID string `json:"jti,omitempty"`
	// Issuer is the iss claim.
	Issuer string `json:"iss,omitempty"`
	// Subject is the sub claim.
	Subject string `json:"sub,omitempty"`
	// LicenseExpires is the end of the paid term and the start of the grace period.
	LicenseExpires *jwt.NumericDate `json:"license_expires,omitempty"`
	// AccountType describes the customer's account.
	AccountType string `json:"account_type,omitempty"`
	// AccountID identifies the customer's account.
	AccountID string `json:"account_id,omitempty"`
	// DeploymentIDs restricts the license to these deployments when non-empty.
	DeploymentIDs []string `json:"deployment_ids,omitempty"`
	// Trial marks a trial license, which gets a shorter expiry warning.
	Trial bool `json:"trial"`
	// FeatureSet is "", "enterprise" or "premium".
	FeatureSet string `json:"feature_set,omitempty"`
	// AllFeatures grants the FeatureSet, or the enterprise set when there is none.
	AllFeatures bool `json:"all_features"`
	// Version must be 3; zero is left out of the JSON so a test can sign a license without one.
	Version int64 `json:"version,omitempty"`
	// Features maps a feature name to a value; > 0 means on, and for user_limit it is the limit.
	// Sign always writes it as an object, empty or not: Coder's clients read claims.features
	// unconditionally and fail on a license without it.
	Features map[string]int64 `json:"features"`
	// RequireTelemetry asks the deployment to keep telemetry on.
	RequireTelemetry bool `json:"require_telemetry"`
}

// licenseClaims adapts Claims to jwt.Claims without adding jwt's methods to the exported type.
type licenseClaims Claims

// GetExpirationTime implements jwt.Claims.
func (c *licenseClaims) GetExpirationTime() (*jwt.NumericDate, error) { return c.ExpiresAt, nil }

// GetIssuedAt implements jwt.Claims.
func (c *licenseClaims) GetIssuedAt() (*jwt.NumericDate, error) { return c.IssuedAt, nil }

// GetNotBefore implements jwt.Claims.
func (c *licenseClaims) GetNotBefore() (*jwt.NumericDate, error) { return c.NotBefore, nil }

// GetIssuer implements jwt.Claims.
func (c *licenseClaims) GetIssuer() (string, error) { return c.Issuer, nil }

// GetSubject implements jwt.Claims.
func (c *licenseClaims) GetSubject() (string, error) { return c.Subject, nil }

// GetAudience implements jwt.Claims; licenses carry no audience.
func (c *licenseClaims) GetAudience() (jwt.ClaimStrings, error) { return nil, nil }
