package license

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
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
