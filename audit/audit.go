// Package audit records who changed what, in Coder's shape. A Recorder writes an Entry in the
// caller's transaction, so an entry exists exactly when its change does. Which Recorder is in
// force follows the entitlements: entries are recorded only while audit_log is enabled, as in
// Coder. Handlers say what changed (the fields before and after); this package builds the row,
// hiding secrets.
package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"

	"github.com/google/uuid"

	"entitle/license"
	"entitle/store"
)

// Action is what was done, in Coder's words.
type Action string

// The actions entitle records.
const (
	ActionCreate Action = "create"
	ActionWrite  Action = "write"
	ActionDelete Action = "delete"
	ActionLogin  Action = "login"
	ActionLogout Action = "logout"
)

// ResourceType is the kind of thing an entry is about, in Coder's words.
type ResourceType string

// The resource types entitle records.
const (
	ResourceUser               ResourceType = "user"
	ResourceAPIKey             ResourceType = "api_key"
	ResourceLicense            ResourceType = "license"
	ResourceOrganization       ResourceType = "organization"
	ResourceOrganizationMember ResourceType = "organization_member"
)

// Every action and resource type Coder knows, so that a search for one entitle never records
// finds nothing rather than failing, as it does against Coder.
var (
	Actions = []Action{ActionCreate, ActionWrite, ActionDelete, "start", "stop", ActionLogin,
		ActionLogout, "register", "request_password_reset", "connect", "disconnect", "open", "close"}
	ResourceTypes = []ResourceType{"template", "template_version", ResourceUser, "workspace",
		"workspace_build", "git_ssh_key", ResourceAPIKey, "group", ResourceLicense, "convert_login",
		"health_settings", "notifications_settings", "prebuilds_settings", "oauth2_provider_settings",
		"workspace_proxy", ResourceOrganization, "oauth2_provider_app", "oauth2_provider_app_secret",
		"custom_role", ResourceOrganizationMember, "notification_template",
		"idp_sync_settings_organization", "idp_sync_settings_group", "idp_sync_settings_role",
		"workspace_agent", "workspace_app", "task"}
)

// Entry is one change, or one sign-in attempt, as a handler describes it. What the request
// carries (its id, client address and user agent) and the entry's id and time are added when
// it is recorded.
type Entry struct {
	Action       Action
	ResourceType ResourceType
	// ResourceID is uuid.Nil for a resource without one (a failed login for an unknown email).
	ResourceID uuid.UUID
	// ResourceTarget names the resource for people: an organization's or user's name, a token's
	// name, a license's id.
	ResourceTarget string
	// OrganizationID is the organization the resource belongs to, if any.
	OrganizationID uuid.UUID
	// UserID is who acted; uuid.Nil for no one (an unknown email, a background pass).
	UserID uuid.UUID
	// StatusCode is the HTTP status the request is answered with; zero means 200.
	StatusCode int
	Diff       Diff
}

// Recorder records entries.
type Recorder interface {
	// Record writes e with tx: inside a transaction (a Store made by InTx), the entry is part
	// of it and is rolled back with the change it records.
	Record(ctx context.Context, tx *store.Store, e Entry) error
}

// featureAuditLog is the feature that turns the audit log on.
const featureAuditLog = "audit_log"

// For is the Recorder the entitlements ask for: entries are written by w while audit_log is
// enabled (entitled or in grace), and dropped otherwise, as Coder does.
func For(ent license.Entitlements, w Writer) Recorder {
	if ent.Features[featureAuditLog].Enabled {
		return w
	}
	return Discard{}
}

// Writer writes entries to the audit_logs table.
type Writer struct {
	// Committed, when set, is told of each entry once the transaction it was written in has
	// committed, and never of one rolled back with its change: the server counts entries for
	// its metrics with it, on the replica that wrote them.
	Committed func(Entry)
}

// Record implements Recorder.
func (w Writer) Record(ctx context.Context, tx *store.Store, e Entry) error {
	diff := e.Diff
	if diff == nil {
		diff = Diff{}
	}
	diffJSON, err := json.Marshal(diff)
	if err != nil {
		return fmt.Errorf("encode audit diff: %w", err)
	}
	status := e.StatusCode
	if status == 0 {
		status = http.StatusOK
	}
	req := RequestFrom(ctx)
	ip := ""
	if req.ClientAddress.IsValid() {
		ip = req.ClientAddress.Unmap().String()
	}
	row := store.AuditLog{
		ID:             uuid.New(),
		Time:           store.Now(),
		UserID:         e.UserID,
		OrganizationID: e.OrganizationID,
		IP:             ip,
		UserAgent:      req.UserAgent,
		ResourceType:   string(e.ResourceType),
		ResourceID:     e.ResourceID,
		ResourceTarget: e.ResourceTarget,
		Action:         string(e.Action),
		Diff:           string(diffJSON),
		StatusCode:     int32(status), //nolint:gosec // an HTTP status
		RequestID:      requestUUID(req.ID),
	}
	if err := tx.InsertAuditLog(ctx, &row); err != nil {
		return err
	}
	if w.Committed != nil {
		tx.AfterCommit(func() { w.Committed(e) })
	}
	return nil
}

// Discard records nothing: audit_log is not enabled.
type Discard struct{}

// Record implements Recorder.
func (Discard) Record(context.Context, *store.Store, Entry) error { return nil }

// Request is what an entry takes from the request that made the change. The server puts it in
// every API request's context; the login throttle counts by its ClientAddress too.
type Request struct {
	// ID is the request's id as X-Request-ID carries it; an entry keeps it as a UUID
	// (RequestID), worked out only when an entry is recorded.
	ID string
	// ClientAddress is the TCP peer of the connection, as the login throttle counts it.
	ClientAddress netip.Addr
	UserAgent     string
}

type requestKey struct{}

// WithRequest returns a context that carries the request's details; server middleware calls it.
func WithRequest(ctx context.Context, r Request) context.Context {
	return context.WithValue(ctx, requestKey{}, r)
}

// RequestFrom returns the request's details, or the zero Request outside a request (a
// background pass).
func RequestFrom(ctx context.Context) Request {
	r, _ := RequestOf(ctx)
	return r
}

// RequestOf returns the request's details, and whether ctx carries any.
func RequestOf(ctx context.Context) (Request, bool) {
	r, ok := ctx.Value(requestKey{}).(Request)
	return r, ok
}

// requestIDNamespace turns a client's own X-Request-ID that is not a UUID into one (a
// name-based UUID), since Coder's request_id is a UUID: the same id always gives the same UUID.
var requestIDNamespace = uuid.MustParse("3d4c1c1e-7d0f-4d0b-9a55-2f1f5b0f3a61")

// requestUUID is a request's id as a UUID: the id itself when it is one, else derived from it;
// outside a request, the zero UUID.
func requestUUID(id string) uuid.UUID {
	if id == "" {
		return uuid.Nil
	}
	if parsed, err := uuid.Parse(id); err == nil && len(id) == 36 {
		return parsed
	}
	return uuid.NewSHA1(requestIDNamespace, []byte(id))
}
