package entitlements

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"entitle/license"
)

// Encoded is one computation of the entitlements as GET /entitlements sends them, encoded once
// when they are computed: every request until the next recompute writes the same bytes.
type Encoded struct {
	// JSON is the response body: the entitlements as a JSON object and a newline, as the
	// generated handlers write a body.
	JSON []byte
	// Hash is the hex SHA-256 of JSON: equal bodies have equal hashes (an ETag's makings).
	Hash string
	// ContentTypeHeader and ETagHeader are the response's Content-Type and ETag header values,
	// made once here rather than on every request; net/http only reads them.
	ContentTypeHeader []string
	ETagHeader        []string
}

// encode makes the Encoded form of ent, sent with the entity tag etag.
func encode(ent license.Entitlements, etag string) (*Encoded, error) {
	body, err := json.Marshal(ent)
	if err != nil {
		return nil, fmt.Errorf("encode entitlements: %w", err)
	}
	body = append(body, '\n')
	sum := sha256.Sum256(body)
	return &Encoded{
		JSON: body, Hash: hex.EncodeToString(sum[:]),
		ContentTypeHeader: []string{"application/json; charset=utf-8"},
		ETagHeader:        []string{etag},
	}, nil
}

// Encoded returns the entitlements last computed, encoded. The value is shared: never change it.
func (s *Service) Encoded() *Encoded {
	return s.current.Load().state.Encoded
}
