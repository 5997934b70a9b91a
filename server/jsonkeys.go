package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"entitle/jsontext"
)

// nulField finds the first string (key or value) of a valid JSON document that holds U+0000,
// and names its field as validations do ("name", "organization_ids.0"; "" for the body
// itself). PostgreSQL cannot store U+0000 in text, and no name, description or password needs
// it, so such a value is refused as invalid rather than failing at the database.
func nulField(body []byte) (string, bool) {
	// A NUL can only be written as an escape, so only a body holding one needs decoding.
	if !bytes.Contains(body, []byte(`\u0000`)) {
		return "", false
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return "", false
	}
	return findNUL(v, "")
}

func findNUL(v any, field string) (string, bool) {
	join := func(name string) string { return strings.TrimPrefix(field+"."+name, ".") }
	switch v := v.(type) {
	case string:
		return field, strings.ContainsRune(v, 0)
	case []any:
		for i, item := range v {
			if f, ok := findNUL(item, join(strconv.Itoa(i))); ok {
				return f, true
			}
		}
	case map[string]any:
		for key, item := range v {
			if strings.ContainsRune(key, 0) {
				return field, true
			}
			if f, ok := findNUL(item, join(key)); ok {
				return f, true
			}
		}
	}
	return "", false
}

// duplicateKeyDetail says which key is repeated, in words.
func duplicateKeyDetail(key, where string) string {
	if where == "$" {
		return fmt.Sprintf("The key %q appears more than once in the request body.", key)
	}
	return fmt.Sprintf("The key %q appears more than once in %s of the request body.", key, strings.TrimPrefix(where, "$."))
}

// notUnicodeText finds text in a valid JSON body that is not Unicode: bytes that are not UTF-8
// (JSON text must be UTF-8, RFC 8259) or an escaped UTF-16 surrogate without its pair, such as
// "\ud800". Go's decoder would silently replace either with U+FFFD, so the server would store
// something other than what was sent. It says what, naming the field, and where.
func notUnicodeText(body []byte) (detail string, found bool) {
	at, problem, found := jsontext.FirstNonUnicode(body)
	if !found {
		return "", false
	}
	where := "the request body"
	if field := jsontext.FieldAt(body, at); field != "" {
		where = fmt.Sprintf("%q", field)
	}
	return fmt.Sprintf("%s holds %s (at byte %d): JSON text is Unicode, UTF-8 encoded.", where, problem, at), true
}
