package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"entitle/gen"
	"entitle/license"
	"entitle/store"
)

const (
	msgLicenseExists  = "License has already been added."
	msgLicenseDeleted = "License deleted."
	msgRefreshed      = "Entitlements updated."
)

// AddLicense verifies and stores a license, then recomputes entitlements on every replica.
func (a *API) AddLicense(ctx context.Context, req gen.AddLicenseRequestObject) (gen.AddLicenseResponseObject, error) {
	actor, err := actorFrom(ctx)
	if err != nil {
		return nil, err
	}
	if !actor.IsOwner() {
		return gen.AddLicense403JSONResponse{ForbiddenJSONResponse: forbidden("Only the owner can add licenses.")}, nil
	}
	// License files usually end in a newline; the token itself never contains white space.
	token := strings.TrimSpace(req.Body.License)
	if token == "" {
		return gen.AddLicense400JSONResponse{BadRequestJSONResponse: invalidField("license", "must not be empty")}, nil
	}
	keys, err := a.entitlements.Keys()
	if err != nil {
		return nil, err
	}
	now := store.Now()
	lic, err := license.VerifyUpload(token, keys, a.deploymentID.String(), now)
	var rejected *license.Error
	if errors.As(err, &rejected) {
		return gen.AddLicense400JSONResponse{BadRequestJSONResponse: gen.BadRequestJSONResponse(message(rejected.Message, rejected.Detail))}, nil
	}
	if err != nil {
		return nil, err
	}
	row := store.License{UploadedAt: now, JWT: token, Exp: lic.Claims.ExpiresAt.UTC(), UUID: lic.UUID}
	if err := a.store.InsertLicense(ctx, &row); errors.Is(err, store.ErrConflict) {
		return gen.AddLicense409JSONResponse{ConflictJSONResponse: conflict(msgLicenseExists, "")}, nil
	} else if err != nil {
		return nil, err
	}
	a.entitlementsChanged(ctx)
	return verbatimLicenses{status: http.StatusCreated, licenses: []gen.License{licenseResponse(row, lic.Payload)}, single: true}, nil
}

// GetLicenses lists a page of the licenses by id, without their tokens.
func (a *API) GetLicenses(ctx context.Context, req gen.GetLicensesRequestObject) (gen.GetLicensesResponseObject, error) {
	actor, err := actorFrom(ctx)
	if err != nil {
		return nil, err
	}
	if !actor.IsOwner() {
		return gen.GetLicenses403JSONResponse{ForbiddenJSONResponse: forbidden("Only the owner can list licenses.")}, nil
	}
	page, bad := parseLicensePage(req.Params.Limit, req.Params.Offset, req.Params.AfterId)
	if bad != nil {
		return gen.GetLicenses400JSONResponse{BadQueryJSONResponse: *bad}, nil
	}
	rows := a.store.StreamLicenses(ctx, page.limit, page.offset, page.afterID)
	return streamList(ctx, a.logger, rows, func(row store.LicenseRow) ([]byte, error) {
		// A row that no longer decodes is still listed, so the operator can see and delete it;
		// /entitlements says what is wrong with it.
		var buf bytes.Buffer
		err := appendLicense(&buf, licenseResponse(row.License, license.ShownClaims(row.JWT)))
		return buf.Bytes(), err
	}), nil
}

// DeleteLicense removes a license and recomputes entitlements on every replica.
func (a *API) DeleteLicense(ctx context.Context, req gen.DeleteLicenseRequestObject) (gen.DeleteLicenseResponseObject, error) {
	actor, err := actorFrom(ctx)
	if err != nil {
		return nil, err
	}
	if !actor.IsOwner() {
		return gen.DeleteLicense403JSONResponse{ForbiddenJSONResponse: forbidden("Only the owner can delete licenses.")}, nil
	}
	id, parseErr := strconv.ParseInt(req.Id, 10, 32)
	if parseErr != nil || id <= 0 {
		// Not an id at all: as unknown as any other id.
		return gen.DeleteLicense404JSONResponse{NotFoundJSONResponse: notFound()}, nil
	}
	if err := a.store.DeleteLicense(ctx, int32(id)); errors.Is(err, store.ErrNotFound) {
		return gen.DeleteLicense404JSONResponse{NotFoundJSONResponse: notFound()}, nil
	} else if err != nil {
		return nil, err
	}
	a.entitlementsChanged(ctx)
	return gen.DeleteLicense200JSONResponse(message(msgLicenseDeleted, "")), nil
}

// RefreshEntitlements recomputes now, at most once per cooldown across the deployment.
func (a *API) RefreshEntitlements(ctx context.Context, _ gen.RefreshEntitlementsRequestObject) (gen.RefreshEntitlementsResponseObject, error) {
	actor, err := actorFrom(ctx)
	if err != nil {
		return nil, err
	}
	if !actor.IsOwner() {
		return gen.RefreshEntitlements403JSONResponse{ForbiddenJSONResponse: forbidden("Only the owner can refresh entitlements.")}, nil
	}
	ok, wait, err := a.store.ClaimRefresh(ctx, store.Now(), a.refreshCooldown)
	if err != nil {
		return nil, err
	}
	if !ok {
		seconds := max(int(math.Ceil(wait.Seconds())), 1)
		return gen.RefreshEntitlements429JSONResponse{
			// Coder's message; Coder answers 400, but 429 with Retry-After states the cause.
			Body:    message(fmt.Sprintf("Entitlements already recently refreshed, please wait %d seconds to force a new refresh", seconds), ""),
			Headers: gen.RefreshEntitlements429ResponseHeaders{RetryAfter: seconds},
		}, nil
	}
	if err := a.entitlements.Changed(ctx); err != nil {
		return nil, err
	}
	return gen.RefreshEntitlements201JSONResponse(message(msgRefreshed, "")), nil
}

// GetEntitlements returns the entitlements held in memory.
func (a *API) GetEntitlements(context.Context, gen.GetEntitlementsRequestObject) (gen.GetEntitlementsResponseObject, error) {
	ent := a.entitlements.Current()
	features := make(map[string]gen.Feature, len(ent.Features))
	for name, f := range ent.Features {
		features[name] = gen.Feature{Entitlement: gen.Entitlement(f.Entitlement), Enabled: f.Enabled, Limit: f.Limit, Actual: f.Actual}
	}
	return gen.GetEntitlements200JSONResponse{
		Features:         features,
		Warnings:         ent.Warnings,
		Errors:           ent.Errors,
		HasLicense:       ent.HasLicense,
		Trial:            ent.Trial,
		RequireTelemetry: ent.RequireTelemetry,
		RefreshedAt:      ent.RefreshedAt.UTC(),
	}, nil
}

// entitlementsChanged recomputes after a change that is already stored. A failure is logged
// rather than failing the request: the change stands, and the next tick recomputes.
func (a *API) entitlementsChanged(ctx context.Context) {
	if err := a.entitlements.Changed(ctx); err != nil {
		a.logger.Error("recompute entitlements after a license change", "error", err)
	}
}

func licenseResponse(row store.License, payload json.RawMessage) gen.License {
	return gen.License{Id: row.ID, Uuid: row.UUID, UploadedAt: row.UploadedAt.UTC(), Claims: payload}
}

// verbatimLicenses writes licenses with each one's claims exactly as the token carried them.
// encoding/json would compact the raw payload and escape <, > and &, so the claims are spliced
// in as bytes; the rest is encoded as usual. It answers both the add and the list operations.
type verbatimLicenses struct {
	status   int
	licenses []gen.License
	// single writes the one license as an object rather than a list.
	single bool
}

// VisitAddLicenseResponse implements gen.AddLicenseResponseObject.
func (v verbatimLicenses) VisitAddLicenseResponse(w http.ResponseWriter) error { return v.write(w) }

// VisitGetLicensesResponse implements gen.GetLicensesResponseObject.
func (v verbatimLicenses) VisitGetLicensesResponse(w http.ResponseWriter) error { return v.write(w) }

func (v verbatimLicenses) write(w http.ResponseWriter) error {
	var buf bytes.Buffer
	if !v.single {
		buf.WriteByte('[')
	}
	for i, l := range v.licenses {
		if i > 0 {
			buf.WriteByte(',')
		}
		if err := appendLicense(&buf, l); err != nil {
			return err
		}
	}
	if !v.single {
		buf.WriteByte(']')
	}
	return writeJSON(w, v.status, &buf)
}

// appendLicense writes one license with its claims spliced in as the token carried them.
func appendLicense(buf *bytes.Buffer, l gen.License) error {
	head, err := json.Marshal(struct {
		ID         int32     `json:"id"`
		UUID       uuid.UUID `json:"uuid"`
		UploadedAt time.Time `json:"uploaded_at"`
	}{l.Id, l.Uuid, l.UploadedAt})
	if err != nil {
		return fmt.Errorf("encode license: %w", err)
	}
	buf.Write(head[:len(head)-1]) // without its closing brace
	buf.WriteString(`,"claims":`)
	buf.Write(l.Claims)
	buf.WriteByte('}')
	return nil
}

// writeJSON sends a body already encoded, ending it with a newline as encoding/json would.
func writeJSON(w http.ResponseWriter, status int, buf *bytes.Buffer) error {
	buf.WriteByte('\n')
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, err := buf.WriteTo(w)
	return err
}
