// Package jsontext finds what a valid JSON text holds that two readers may read differently:
// a key repeated in one object (one reader keeps the first value, another the last, a third
// merges them), text that is not Unicode (Go's decoder reads it as U+FFFD, another reader
// fails or keeps the bytes) and numbers no float64 holds. The server refuses the first two in
// request bodies, the license checks all three in signed claims.
package jsontext

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// DuplicateKey finds the first object key that appears twice in one object of a valid JSON
// document, and says where. It walks tokens with a stack of the objects it is in, so depth
// costs memory, not recursion.
func DuplicateKey(body []byte) (key, where string, found bool) {
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

// FirstNonUnicode returns the offset of the first byte that is not UTF-8, or of the first
// unpaired surrogate escape, and what it is.
func FirstNonUnicode(body []byte) (at int, problem string, found bool) {
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

// FieldAt names the field whose key or value holds the byte at offset of a valid JSON text, as
// validations name fields ("name", "organization_ids.0"); "" for the body itself.
func FieldAt(body []byte, offset int) string {
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

// hexUnit reads the four hex digits of a \u escape, which a valid JSON text always has.
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

// NumberOutOfRange finds the first number of a valid JSON text beyond a float64's range, and the
// offset of its last byte. Readers that hold every number as a float64 (Go's map[string]any, as
// Coder's SDK reads license claims; JavaScript) fail on it, or read infinity.
func NumberOutOfRange(body []byte) (at int, number string, found bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if err != nil {
			return 0, "", false
		}
		if n, ok := tok.(json.Number); ok {
			if _, err := strconv.ParseFloat(string(n), 64); err != nil {
				return int(dec.InputOffset()) - 1, string(n), true
			}
		}
	}
}
