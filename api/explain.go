package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"entitle/gen"
	"entitle/license"
	"entitle/store"
)

// GetEntitlementsExplanation says why the entitlements are what they are and when they change.
func (a *API) GetEntitlementsExplanation(ctx context.Context, _ gen.GetEntitlementsExplanationRequestObject) (gen.GetEntitlementsExplanationResponseObject, error) {
	actor, err := actorFrom(ctx)
	if err != nil {
		return nil, err
	}
	if !actor.IsOwner() {
		return gen.GetEntitlementsExplanation403JSONResponse{ForbiddenJSONResponse: forbidden("Only the owner can see why the entitlements are what they are.")}, nil
	}
	x, err := a.entitlements.Explain(ctx)
	if err != nil {
		return nil, err
	}
	return gen.GetEntitlementsExplanation200JSONResponse(explanationResponse(x)), nil
}

// PreviewLicense makes every check an upload makes, the same 400s and 409, and explains the
// entitlements before and after the license would be added, without storing or changing
// anything: nothing is written, and neither the entitlements nor their watchers are touched.
func (a *API) PreviewLicense(ctx context.Context, req gen.PreviewLicenseRequestObject) (gen.PreviewLicenseResponseObject, error) {
	actor, err := actorFrom(ctx)
	if err != nil {
		return nil, err
	}
	if !actor.IsOwner() {
		return gen.PreviewLicense403JSONResponse{ForbiddenJSONResponse: forbidden("Only the owner can preview licenses.")}, nil
	}
	token, lic, now, bad, err := a.verifyUpload(req.Body.License)
	if err != nil {
		return nil, err
	}
	if bad != nil {
		return gen.PreviewLicense400JSONResponse{BadRequestJSONResponse: *bad}, nil
	}
	// The upload's conflict comes from the unique index on the token; a preview reads instead.
	rows, err := a.store.Licenses(ctx)
	if err != nil {
		return nil, err
	}
	for _, row := range rows {
		if row.JWT == token {
			return gen.PreviewLicense409JSONResponse{ConflictJSONResponse: conflict(msgLicenseExists, "")}, nil
		}
	}
	before, after, err := a.entitlements.Preview(ctx, lic)
	if err != nil {
		return nil, err
	}
	return licensePreview{
		license: licenseResponse(store.License{UploadedAt: now, UUID: lic.UUID}, lic.Payload),
		before:  explanationResponse(before),
		after:   explanationResponse(after),
		changes: featureChangesResponse(license.FeatureChanges(before.Entitlements, after.Entitlements)),
	}, nil
}

// licensePreview writes a preview with the license's claims exactly as the token carried them,
// as the upload's answer does (verbatimLicenses).
type licensePreview struct {
	license gen.License
	before  gen.Explanation
	after   gen.Explanation
	changes gen.FeatureChanges
}

// VisitPreviewLicenseResponse implements gen.PreviewLicenseResponseObject.
func (p licensePreview) VisitPreviewLicenseResponse(w http.ResponseWriter) error {
	rest, err := json.Marshal(struct {
		ExplainBefore gen.Explanation    `json:"explain_before"`
		ExplainAfter  gen.Explanation    `json:"explain_after"`
		Changes       gen.FeatureChanges `json:"changes"`
	}{p.before, p.after, p.changes})
	if err != nil {
		return fmt.Errorf("encode license preview: %w", err)
	}
	var buf bytes.Buffer
	buf.WriteString(`{"license":`)
	if err := appendLicense(&buf, p.license); err != nil {
		return err
	}
	buf.WriteByte(',')
	buf.Write(rest[1:]) // without its opening brace
	return writeJSON(w, http.StatusOK, buf.Bytes())
}

func explanationResponse(x license.Explanation) gen.Explanation {
	out := gen.Explanation{
		Diagnostics: make([]gen.Diagnostic, 0, len(x.Diagnostics)),
		Licenses:    make([]gen.ExplainedLicense, 0, len(x.Licenses)),
		Timeline:    make([]gen.TimelineEvent, 0, len(x.Timeline)),
		Seats: gen.Seats{
			Active: x.Seats.Active, Dormant: x.Seats.Dormant, Suspended: x.Seats.Suspended,
			Limit: x.Seats.Limit, HighWaterMark: x.Seats.HighWaterMark, HighWaterAt: x.Seats.HighWaterAt,
		},
	}
	for _, d := range x.Diagnostics {
		diag := gen.Diagnostic{Code: gen.DiagnosticCode(d.Code), Severity: gen.DiagnosticSeverity(d.Severity), Message: d.Message}
		if d.Feature != "" {
			diag.Feature = &d.Feature
		}
		if d.LicenseID != nil {
			id := licenseID(*d.LicenseID)
			diag.LicenseId = &id
		}
		if !d.At.IsZero() {
			at := d.At.UTC()
			diag.At = &at
		}
		out.Diagnostics = append(out.Diagnostics, diag)
	}
	for _, l := range x.Licenses {
		out.Licenses = append(out.Licenses, gen.ExplainedLicense{
			Id: licenseID(l.ID), Uuid: l.UUID, Status: gen.ExplainedLicenseStatus(l.Status), Counts: l.Counts, Reason: &l.Reason,
		})
	}
	for _, e := range x.Timeline {
		out.Timeline = append(out.Timeline, gen.TimelineEvent{
			At: e.At.UTC(), Event: gen.TimelineEventEvent(e.Event), LicenseId: licenseID(e.LicenseID), Changes: featureChangesResponse(e.Changes),
		})
	}
	return out
}

// licenseID is a license's id as the API writes it: ids are int32 rows, which the license
// package holds as int64, so narrowing them back loses nothing.
func licenseID(id int64) int32 {
	return int32(id) //nolint:gosec // G115: always an int32 row id, widened on the way in
}

func featureChangesResponse(changes map[string]license.FeatureChange) gen.FeatureChanges {
	out := make(gen.FeatureChanges, len(changes))
	for name, c := range changes {
		out[name] = gen.FeatureChange{From: gen.Entitlement(c.From), To: gen.Entitlement(c.To), FromLimit: c.FromLimit, ToLimit: c.ToLimit}
	}
	return out
}
