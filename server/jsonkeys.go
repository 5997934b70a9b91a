package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
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

// duplicateKey finds the first object key that appears twice in one object of a valid JSON
// document, and says where. It walks tokens with a stack of the objects it is in, so depth
// costs memory, not recursion.
func duplicateKey(body []byte) (key, where string, found bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	type frame struct {
		seen      map[string]bool // nil for an array
		path      string
		expectKey bool
		index     int
	}
	var stack []*frame
	// child is the path of the value about to start in the innermost container.
	child := func(key string) string {
		if len(stack) == 0 {
			return "$"
		}
		top := stack[len(stack)-1]
		if top.seen == nil {
			return fmt.Sprintf("%s[%d]", top.path, top.index)
		}
		return top.path + "." + key
	}
	var pendingKey string
	// valueDone moves the innermost container on after one of its values ended.
	valueDone := func() {
		if len(stack) == 0 {
			return
		}
		top := stack[len(stack)-1]
		if top.seen == nil {
			top.index++
		} else {
			top.expectKey = true
		}
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			// The body was checked to be valid JSON: the only end is io.EOF.
			return "", "", false
		}
		if len(stack) > 0 && stack[len(stack)-1].seen != nil && stack[len(stack)-1].expectKey {
			if k, ok := tok.(string); ok {
				top := stack[len(stack)-1]
				if top.seen[k] {
					return k, top.path, true
				}
				top.seen[k] = true
				top.expectKey = false
				pendingKey = k
				continue
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{seen: map[string]bool{}, path: child(pendingKey), expectKey: true})
		case json.Delim('['):
			stack = append(stack, &frame{path: child(pendingKey)})
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
			valueDone()
		default:
			valueDone()
		}
	}
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
	at, problem, found := firstNonUnicode(body)
	if !found {
		return "", false
	}
	where := "the request body"
	if field := fieldAt(body, at); field != "" {
		where = fmt.Sprintf("%q", field)
	}
	return fmt.Sprintf("%s holds %s (at byte %d): JSON text is Unicode, UTF-8 encoded.", where, problem, at), true
}

// firstNonUnicode returns the offset of the first byte that is not UTF-8, or of the first
// unpaired surrogate escape, and what it is.
func firstNonUnicode(body []byte) (at int, problem string, found bool) {
	if !utf8.Valid(body) {
		for at < len(body) {
			r, size := utf8.DecodeRune(body[at:])
			if r == utf8.RuneError && size <= 1 {
				break
			}
			at += size
		}
		return at, fmt.Sprintf("the byte 0x%02x, which is not UTF-8 text there", body[at]), true
	}
	// A surrogate can only be written as an escape, \uD800 to \uDFFF.
	if !bytes.Contains(body, []byte(`\ud`)) && !bytes.Contains(body, []byte(`\uD`)) {
		return 0, "", false
	}
	// The body is valid JSON, so every backslash is inside a string and starts an escape.
	for i := 0; i < len(body); i++ {
		if body[i] != '\\' {
			continue
		}
		if body[i+1] != 'u' {
			i++ // \n, \", \\ and the like: the escaped byte is no escape itself
			continue
		}
		unit := hexUnit(body[i+2 : i+6])
		switch {
		case unit >= 0xD800 && unit <= 0xDBFF:
			if i+12 <= len(body) && body[i+6] == '\\' && body[i+7] == 'u' {
				if low := hexUnit(body[i+8 : i+12]); low >= 0xDC00 && low <= 0xDFFF {
					i += 11
					continue
				}
			}
		case unit >= 0xDC00 && unit <= 0xDFFF:
		default:
			i += 5
			continue
		}
		return i, fmt.Sprintf("%s, an escaped UTF-16 surrogate without its pair, which stands for no character", body[i:i+6]), true
	}
	return 0, "", false
}

// fieldAt names the field whose key or value holds the byte at offset of a valid JSON body, as
// validations name fields ("name", "organization_ids.0"); "" for the body itself.
func fieldAt(body []byte, offset int) string {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	type frame struct {
		object    bool
		path      string
		expectKey bool
		index     int
	}
	var stack []*frame
	join := func(name string) string {
		if len(stack) == 0 || stack[len(stack)-1].path == "" {
			return name
		}
		return stack[len(stack)-1].path + "." + name
	}
	pendingKey := ""
	for {
		start := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		inToken := offset >= int(start) && offset < int(dec.InputOffset())
		if len(stack) > 0 && stack[len(stack)-1].object && stack[len(stack)-1].expectKey {
			if k, ok := tok.(string); ok {
				if inToken {
					return stack[len(stack)-1].path
				}
				stack[len(stack)-1].expectKey = false
				pendingKey = k
				continue
			}
		}
		path := ""
		if len(stack) > 0 {
			if top := stack[len(stack)-1]; top.object {
				path = join(pendingKey)
			} else {
				path = join(strconv.Itoa(top.index))
			}
		}
		if inToken {
			return path
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{object: true, path: path, expectKey: true})
			continue
		case json.Delim('['):
			stack = append(stack, &frame{path: path})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		if len(stack) > 0 {
			if top := stack[len(stack)-1]; top.object {
				top.expectKey = true
			} else {
				top.index++
			}
		}
	}
}

// hexUnit reads the four hex digits of a \u escape, which a valid JSON body always has.
func hexUnit(digits []byte) rune {
	var unit rune
	for _, d := range digits {
		unit <<= 4
		switch {
		case d >= '0' && d <= '9':
			unit |= rune(d - '0')
		case d >= 'a' && d <= 'f':
			unit |= rune(d - 'a' + 10)
		case d >= 'A' && d <= 'F':
			unit |= rune(d - 'A' + 10)
		}
	}
	return unit
}
