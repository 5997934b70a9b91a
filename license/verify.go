package license

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"entitle/jsontext"
)

// SupportedVersion is the only license format version this server accepts.
const SupportedVersion = 3

// iatSkew is how far in the future iat may be, since the issuer's clock may run ahead of ours.
const iatSkew = 5 * time.Minute

const (
	messageInvalid         = "Invalid license"
	messageWrongDeployment = "License cannot be used on this deployment."
)

// License is a token that passed signature verification.
type License struct {
	// Token is the compact JWT as given.
	Token string
	// KeyID is the kid that verified the signature.
	KeyID string
	// Claims are the decoded claims.
	Claims Claims
	// Payload is the token's payload JSON verbatim, so numbers keep every digit.
	Payload json.RawMessage
	// UUID is jti when it parses as a non-nil UUID, else a freshly generated one.
	UUID uuid.UUID
}

// Error is a rejected license: Message is the envelope message, Detail names the cause.
type Error struct {
	Message string
	Detail  string
}

// Error implements error.
func (e *Error) Error() string { return e.Message + ": " + e.Detail }

// invalid makes the usual rejection, whose message is the same for every cause.
func invalid(format string, args ...any) *Error {
	return &Error{Message: messageInvalid, Detail: fmt.Sprintf(format, args...)}
}

// VerifyUpload runs every upload check of the contract and returns *Error on rejection.
//
// The signature is checked before any claims check so an attacker learns nothing about them
// from a forged token. Only faults of the claims' decoding come first, because jwt decodes
// before it verifies: a claim of the wrong type, or a time outside 1970..9999.
func VerifyUpload(token string, keys Keys, deploymentID string, now time.Time) (*License, error) {
	lic, err := verifySignature(token, keys)
	if err != nil {
		return nil, err
	}
	if err := checkUnambiguous(token); err != nil {
		return nil, err
	}
	if err := checkClaims(lic, deploymentID, now); err != nil {
		return nil, err
	}
	return lic, nil
}

// VerifyStored checks only what can change for an already-stored license (well-formed, EdDSA,
// kid still trusted, signature), so a license whose key was removed turns into an entitlement
// error; expiry is not an error here because Compute treats it as a state, not a fault.
func VerifyStored(token string, keys Keys) (*License, error) {
	lic, err := verifySignature(token, keys)
	if err != nil {
		return nil, err
	}
	return lic, nil
}

// newParser accepts only EdDSA, which rules out alg confusion (none, HS256 keyed with the public
// key, RS256) before any key is looked up. Strict base64 stops one token having several
// spellings that would each pass the "already added" check. Claims are checked by checkClaims so
// each cause gets its own detail.
func newParser() *jwt.Parser {
	return jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
		jwt.WithoutClaimsValidation(),
		jwt.WithStrictDecoding(),
	)
}

// verifySignature parses token and verifies its signature with the key its kid names.
func verifySignature(token string, keys Keys) (*License, *Error) {
	parser := newParser()
	var claims licenseClaims
	var kid string
	keyFunc := func(t *jwt.Token) (any, error) {
		// WithValidMethods already enforces this; checked again so a future option change
		// cannot hand an Ed25519 key to another algorithm.
		if t.Method != jwt.SigningMethodEdDSA {
			return nil, invalid("algorithm %s is not allowed, want EdDSA", headerString(t.Header, "alg"))
		}
		raw, ok := t.Header["kid"]
		if !ok || raw == nil {
			return nil, invalid("license has no key id (kid)")
		}
		id, ok := raw.(string)
		if !ok || id == "" {
			return nil, invalid("license key id (kid) must be a non-empty string")
		}
		key, ok := keys[id]
		if !ok {
			return nil, invalid("unknown key id %s", quoteShort(id))
		}
		kid = id
		return key, nil
	}

	parsed, err := parser.ParseWithClaims(token, &claims, keyFunc)
	if err != nil {
		return nil, describeParseError(parsed, err)
	}

	// ParseWithClaims has decoded this segment already; decode it again to keep the bytes verbatim.
	_, rest, _ := strings.Cut(token, ".")
	payloadSegment, _, _ := strings.Cut(rest, ".")
	payload, err := parser.DecodeSegment(payloadSegment)
	if err != nil {
		return nil, invalid("token is malformed: %v", err)
	}

	// jwt decodes times in the local zone; UTC keeps results the same on every machine.
	for _, d := range []*jwt.NumericDate{claims.ExpiresAt, claims.NotBefore, claims.IssuedAt, claims.LicenseExpires} {
		if d != nil {
			d.Time = d.UTC()
		}
	}

	id, err := uuid.Parse(claims.ID)
	if err != nil || id == uuid.Nil {
		// A nil UUID would make every such license collide, so it counts as "not a UUID".
		id = uuid.New()
	}
	return &License{
		Token:   token,
		KeyID:   kid,
		Claims:  Claims(claims),
		Payload: json.RawMessage(payload),
		UUID:    id,
	}, nil
}

// describeParseError turns a jwt error into a detail that names the cause.
func describeParseError(parsed *jwt.Token, err error) *Error {
	var licErr *Error
	if errors.As(err, &licErr) {
		return licErr
	}
	if errors.Is(err, jwt.ErrTokenMalformed) {
		// Say which claim is wrong in JSON terms rather than leaking Go type names.
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			if typeErr.Field == "" {
				part := "payload"
				if strings.Contains(err.Error(), "decode header") {
					part = "header"
				}
				return invalid("token is malformed: %s is a JSON %s, want an object", part, typeErr.Value)
			}
			return invalid("token is malformed: claim %s has the wrong type (%s)", quoteShort(typeErr.Field), shorten(typeErr.Value))
		}
		// jwt's own text already reads "token is malformed: could not base64 decode header: ...".
		return invalid("%v", err)
	}
	if parsed != nil {
		alg, ok := parsed.Header["alg"]
		if !ok || alg == nil {
			return invalid("license has no algorithm (alg)")
		}
		if alg != jwt.SigningMethodEdDSA.Alg() {
			return invalid("algorithm %s is not allowed, want EdDSA", headerString(parsed.Header, "alg"))
		}
	}
	if errors.Is(err, jwt.ErrTokenSignatureInvalid) {
		return invalid("signature is invalid")
	}
	return invalid("token could not be verified: %v", err)
}

// checkUnambiguous refuses a header or claims that two JSON readers would read differently: a
// key given twice in one object (golang-jwt merges a repeated object and keeps the last of a
// repeated value; a browser keeps the last, other readers the first), or text that is not
// Unicode (read here as U+FFFD, elsewhere as bytes or not at all, and not the claims the API
// must echo verbatim). A signature over such a license does not make it mean one thing.
func checkUnambiguous(token string) *Error {
	header, payload, err := Decode(token)
	if err != nil {
		return invalid("token is malformed: %v", err)
	}
	for _, part := range []struct {
		name, verb, hold string
		text             []byte
	}{
		{"the header", "gives", "holds", header},
		{"the claims", "give", "hold", payload},
	} {
		if at, problem, found := jsontext.FirstNonUnicode(part.text); found {
			where := ""
			if field := jsontext.FieldAt(part.text, at); field != "" {
				where = fmt.Sprintf(", in %q", field)
			}
			return invalid("%s %s %s%s", part.name, part.hold, problem, where)
		}
		if key, where, found := jsontext.DuplicateKey(part.text); found {
			in := ""
			if where != "$" {
				in = ", in " + strings.TrimPrefix(where, "$.")
			}
			return invalid("%s %s %q more than once%s", part.name, part.verb, key, in)
		}
		if at, number, found := jsontext.NumberOutOfRange(part.text); found {
			where := ""
			if field := jsontext.FieldAt(part.text, at); field != "" {
				where = fmt.Sprintf(", in %q", field)
			}
			return invalid("%s %s the number %s, beyond what a JSON reader can hold%s", part.name, part.hold, shorten(number), where)
		}
	}
	if given, claim, found := foldedClaimName(payload); found {
		return invalid("the claims give %s, which differs from the claim %q only in case", quoteShort(given), claim)
	}
	return nil
}

// claimNames are the JSON names of the claims entitle reads.
var claimNames = func() map[string]bool {
	names := map[string]bool{}
	for field := range reflect.TypeFor[Claims]().Fields() {
		name, _, _ := strings.Cut(field.Tag.Get("json"), ",")
		names[name] = true
	}
	return names
}()

// foldedClaimName finds a top-level key that is not a claim's name but that Go's decoder reads
// as one: it matches a struct's field names ignoring case (bytes.EqualFold, so "EXP", and
// "verſion" with the long s), while the claims are echoed verbatim, where "EXP" is not "exp".
// golang-jwt decodes the claims so, and so does Coder.
func foldedClaimName(payload []byte) (given, claim string, found bool) {
	var top map[string]json.RawMessage
	if json.Unmarshal(payload, &top) != nil {
		return "", "", false // not an object: the claims' own decoding says so
	}
	for _, key := range slices.Sorted(maps.Keys(top)) {
		if claimNames[key] {
			continue
		}
		for _, name := range slices.Sorted(maps.Keys(claimNames)) {
			if strings.EqualFold(key, name) {
				return key, name, true
			}
		}
	}
	return "", "", false
}

// checkClaims runs the upload checks on verified claims, most fundamental first.
func checkClaims(lic *License, deploymentID string, now time.Time) *Error {
	c := lic.Claims
	if c.Version != SupportedVersion {
		return invalid("license version is %s, want %d", versionSeen(lic.Payload), SupportedVersion)
	}
	if c.ExpiresAt == nil {
		return invalid("license has no expiry (exp)")
	}
	if !now.Before(c.ExpiresAt.Time) {
		return invalid("license expired at %s", formatTime(c.ExpiresAt.Time))
	}
	if c.LicenseExpires == nil {
		return invalid("license has no end of paid term (license_expires)")
	}
	if c.LicenseExpires.After(c.ExpiresAt.Time) {
		return invalid("license_expires %s is after exp %s",
			formatTime(c.LicenseExpires.Time), formatTime(c.ExpiresAt.Time))
	}
	if c.IssuedAt != nil && c.IssuedAt.After(now.Add(iatSkew)) {
		return invalid("license is issued in the future, at %s", formatTime(c.IssuedAt.Time))
	}
	if len(c.DeploymentIDs) > 0 && !containsFold(c.DeploymentIDs, deploymentID) {
		return &Error{
			Message: messageWrongDeployment,
			Detail: fmt.Sprintf("license is for deployment ids %s; this deployment's id is %s",
				listShort(c.DeploymentIDs), quoteShort(deploymentID)),
		}
	}
	return nil
}

// versionSeen gives the version claim as written in the payload, or "missing", since Claims
// cannot tell a missing version from 0.
func versionSeen(payload json.RawMessage) string {
	var raw struct {
		Version json.RawMessage `json:"version"`
	}
	if err := json.Unmarshal(payload, &raw); err != nil || raw.Version == nil || string(raw.Version) == "null" {
		return "missing"
	}
	return shorten(string(raw.Version))
}

// containsFold reports whether ids holds id; deployment ids are UUIDs, whose case carries no meaning.
func containsFold(ids []string, id string) bool {
	for _, candidate := range ids {
		if strings.EqualFold(candidate, id) {
			return true
		}
	}
	return false
}

// formatTime writes t the way the API writes timestamps.
func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// maxDetailLen bounds attacker-chosen text echoed into a detail.
const maxDetailLen = 64

// shorten cuts s to maxDetailLen bytes so a huge header cannot blow up an error body.
func shorten(s string) string {
	if len(s) <= maxDetailLen {
		return s
	}
	return strings.ToValidUTF8(s[:maxDetailLen], "") + "..."
}

// quoteShort quotes s, shortened, for a detail.
func quoteShort(s string) string { return fmt.Sprintf("%q", shorten(s)) }

// headerString renders a header value, whatever its JSON type, for a detail.
func headerString(header map[string]any, name string) string {
	if s, ok := header[name].(string); ok {
		return quoteShort(s)
	}
	b, err := json.Marshal(header[name])
	if err != nil {
		return "(unprintable)"
	}
	return shorten(string(b))
}

// maxListedIDs bounds how many deployment ids a detail lists.
const maxListedIDs = 5

// listShort renders ids for a detail, listing at most maxListedIDs of them.
func listShort(ids []string) string {
	quoted := make([]string, 0, min(len(ids), maxListedIDs))
	for _, id := range ids[:min(len(ids), maxListedIDs)] {
		quoted = append(quoted, quoteShort(id))
	}
	list := strings.Join(quoted, ", ")
	if extra := len(ids) - maxListedIDs; extra > 0 {
		list += fmt.Sprintf(" and %d more", extra)
	}
	return list
}
