package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
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
