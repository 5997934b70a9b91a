package license

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Decode splits a compact token into its header and payload JSON without verifying anything:
// for showing a token, or reading back one that was verified when it was stored.
func Decode(token string) (header, payload json.RawMessage, err error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, nil, errors.New("a license is a compact JWT: three base64url parts joined by dots")
	}
	header, err = decodeSegment("header", parts[0])
	if err != nil {
		return nil, nil, err
	}
	payload, err = decodeSegment("payload", parts[1])
	if err != nil {
		return nil, nil, err
	}
	return header, payload, nil
}

// ShownClaims is a token's payload when it is a JSON object, else {}: for listing a stored
// license that may no longer decode, which must show what it can rather than fail the list.
func ShownClaims(token string) json.RawMessage {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return json.RawMessage("{}")
	}
	payload, err := decodeSegment("payload", parts[1])
	// The API splices the payload into its answer as bytes, so it must be an object in UTF-8.
	if err != nil || !utf8.Valid(payload) || !isObject(payload) {
		return json.RawMessage("{}")
	}
	return payload
}

// isObject reports whether valid JSON is an object.
func isObject(raw []byte) bool {
	trimmed := bytes.TrimLeft(raw, " \t\r\n")
	return len(trimmed) > 0 && trimmed[0] == '{'
}

func decodeSegment(name, seg string) (json.RawMessage, error) {
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return nil, fmt.Errorf("%s is not base64url: %w", name, err)
	}
	if !json.Valid(raw) {
		return nil, fmt.Errorf("%s is not JSON", name)
	}
	return raw, nil
}
