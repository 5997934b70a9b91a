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

	"entitle/audit"
	"entitle/entitlements"
	"entitle/gen"
	"entitle/license"
	"entitle/store"
)

// refreshTarget names an explicit refresh in the audit log: it is recorded as a write of the
// license resource, since Coder has no resource type for entitlements.
const refreshTarget = "entitlements"

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
	token, lic, now, bad, err := a.verifyUpload(req.Body.License)
	if err != nil {
		return nil, err
	}
	if bad != nil {
		return gen.AddLicense400JSONResponse{BadRequestJSONResponse: *bad}, nil
	}
	row := store.License{UploadedAt: now, JWT: token, Exp: lic.Claims.ExpiresAt.UTC(), UUID: lic.UUID}
	err = a.store.InTx(ctx, func(tx *store.Store) error {
		if err := tx.InsertLicense(ctx, &row); err != nil {
			return err
		}
		return a.recordChange(ctx, tx, http.StatusCreated, audit.ActionCreate, audited{}, auditedLicense(row))
	})
	if errors.Is(err, store.ErrConflict) {
		return gen.AddLicense409JSONResponse{ConflictJSONResponse: conflict(msgLicenseExists, "")}, nil
	} else if err != nil {
		return nil, err
	}
	a.entitlementsChanged(ctx)
	return verbatimLicenses{status: http.StatusCreated, licenses: []gen.License{licenseResponse(row, lic.Payload)}, single: true}, nil
}

// verifyUpload makes the checks an upload makes before it stores anything: the token is not
// empty and verifies against the trusted keys for this deployment at now. bad is the 400 when
// a check fails; err is an unexpected failure.
func (a *API) verifyUpload(raw string) (token string, lic *license.License, now time.Time, bad *gen.BadRequestJSONResponse, err error) {
	// License files usually end in a newline; the token itself never contains white space.
	token = strings.TrimSpace(raw)
	if token == "" {
		empty := invalidField("license", "must not be empty")
		return "", nil, time.Time{}, &empty, nil
	}
	keys, err := a.entitlements.Keys()
	if err != nil {
		return "", nil, time.Time{}, nil, err
	}
	now = store.Now()
	lic, err = license.VerifyUpload(token, keys, a.deploymentID.String(), now)
	var rejected *license.Error
	if errors.As(err, &rejected) {
		invalid := gen.BadRequestJSONResponse(message(rejected.Message, rejected.Detail))
		return "", nil, time.Time{}, &invalid, nil
	}
	if err != nil {
		return "", nil, time.Time{}, nil, err
	}
	return token, lic, now, nil, nil
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
	return streamList(ctx, a.logger, rows, func(dst []byte, row store.LicenseRow) ([]byte, error) {
		// A row that no longer decodes is still listed, so the operator can see and delete it;
		// /entitlements says what is wrong with it.
		buf := bytes.NewBuffer(dst)
		err := appendLicense(buf, licenseResponse(row.License, license.ShownClaims(row.JWT)))
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
	if parseErr != nil || id <= 0 || strconv.FormatInt(id, 10) != req.Id {
		// Not an id at all, or one not written in plain digits ("+1", "01"): as unknown as
		// any other id, so that one license has one name.
		return gen.DeleteLicense404JSONResponse{NotFoundJSONResponse: notFound()}, nil
	}
	licenseID := int32(id)
	err = a.store.InTx(ctx, func(tx *store.Store) error {
		// The row as stored, to say what was deleted; one that no longer reads is still named by id.
		rows, err := tx.LicensesPage(ctx, 1, 0, licenseID-1)
		if err != nil {
			return err
		}
		before := store.License{ID: licenseID}
		if len(rows) == 1 && rows[0].ID == licenseID {
			before = rows[0].License
		}
		if err := tx.DeleteLicense(ctx, licenseID); err != nil {
			return err
		}
		return a.recordChange(ctx, tx, http.StatusOK, audit.ActionDelete, auditedLicense(before), audited{})
	})
	if errors.Is(err, store.ErrNotFound) {
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
	// The keys are read before the cooldown is claimed: a refresh that cannot recompute (a bad
	// file among the keys) must not make the operator wait a minute after fixing it.
	if _, err := a.entitlements.Keys(); err != nil {
		return nil, err
	}
	var (
		ok   bool
		wait time.Duration
		now  = store.Now()
	)
	err = a.store.InTx(ctx, func(tx *store.Store) error {
		var err error
		if ok, wait, err = tx.ClaimRefresh(ctx, now, a.refreshCooldown); err != nil || !ok {
			return err
		}
		return a.recordChange(ctx, tx, http.StatusCreated, audit.ActionWrite, audited{}, audited{
			resourceType: audit.ResourceLicense, target: refreshTarget, fields: audit.Fields{"refreshed_at": now},
		})
	})
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
	// The recompute's own time, apart from the request's: what an operator with many licenses
	// wants to know, and what make bench-scale reports.
	st := a.entitlements.State()
	a.logger.Info("entitlements refreshed", "licenses", st.Licenses,
		"recompute_ms", float64(st.Took.Microseconds())/1000)
	return gen.RefreshEntitlements201JSONResponse(message(msgRefreshed, "")), nil
}

// GetEntitlements returns the entitlements held in memory, in the bytes they were encoded to
// when they were computed (nothing is encoded per request), with their ETag; with If-None-Match
// that still matches it answers 304, after waiting up to ?wait= for a change (watch.go).
func (a *API) GetEntitlements(ctx context.Context, req gen.GetEntitlementsRequestObject) (gen.GetEntitlementsResponseObject, error) {
	wait, bad := parseWait(req.Params.Wait)
	if bad != nil {
		return gen.GetEntitlements400JSONResponse{BadQueryJSONResponse: *bad}, nil
	}
	ifNoneMatch := ""
	if req.Params.IfNoneMatch != nil {
		ifNoneMatch = *req.Params.IfNoneMatch
	}
	st, waited := a.awaitChange(ctx, ifNoneMatch, wait)
	var resp gen.GetEntitlementsResponseObject
	if ifNoneMatch == "" || !etagMatches(ifNoneMatch, st.ETag) {
		resp = encodedEntitlements{encoded: st.Encoded}
	} else {
		resp = gen.GetEntitlements304Response{Headers: gen.GetEntitlements304ResponseHeaders{ETag: st.ETag}}
	}
	if waited {
		resp = afterWait{resp}
	}
	return resp, nil
}

// encodedEntitlements writes entitlements already encoded, with their ETag.
type encodedEntitlements struct {
	encoded *entitlements.Encoded
}

// VisitGetEntitlementsResponse implements gen.GetEntitlementsResponseObject. The header values
// were made with the encoding, once per recompute.
func (e encodedEntitlements) VisitGetEntitlementsResponse(w http.ResponseWriter) error {
	h := w.Header()
	h["Content-Type"] = e.encoded.ContentTypeHeader
	h["Etag"] = e.encoded.ETagHeader
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(e.encoded.JSON)
	return err
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
	return writeJSON(w, v.status, buf.Bytes())
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
