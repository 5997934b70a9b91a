package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// duplicateKey finds the first object key that appears twice in one object of a valid JSON
// document, and says where. Decoders disagree on such a body (Go keeps the last value, others
// the first), so one is refused rather than read two ways. It walks tokens with a stack of
// the objects it is in, so depth costs memory, not recursion.
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
