package server

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDuplicateKey(t *testing.T) {
	cases := []struct {
		name, body, key, where string
	}{
		{"a repeated top-level key is found", `{"name":"bad name!","name":"ok"}`, "name", "$"},
		{"a repeated key in a nested object is found with its path", `{"a":{"b":1,"b":2}}`, "b", "$.a"},
		{"a repeated key inside an array element is found with its index", `{"a":[{"x":1},{"y":1,"y":2}]}`, "y", "$.a[1]"},
		{"the same key in sibling objects is not a repeat", `{"a":{"k":1},"b":{"k":1}}`, "", ""},
		{"a key equal to a string value is not a repeat", `{"k":"k","v":"k"}`, "", ""},
		{"a key that differs only in case is not a repeat", `{"name":1,"Name":2}`, "", ""},
		{"an array at the top is walked", `[{"a":1},{"a":1,"a":2}]`, "a", "$[1]"},
		{"escaped forms of one key are the same key", `{"name":1,"n\u0061me":2}`, "name", "$"},
		{"scalars have no keys", `"name"`, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			key, where, found := duplicateKey([]byte(tc.body))
			assert.Equal(t, tc.key != "", found)
			assert.Equal(t, tc.key, key)
			assert.Equal(t, tc.where, where)
		})
	}
}

func TestNotUnicodeText(t *testing.T) {
	cases := []struct {
		name, body string
		at         int    // -1 when the body is Unicode text
		field      string // the field named
	}{
		{"plain ASCII", `{"a":"b"}`, -1, ""},
		{"UTF-8 characters", `{"a":"ünï 🏢"}`, -1, ""},
		{"a surrogate pair", `{"a":"\ud83c\udfe2"}`, -1, ""},
		{"a surrogate pair in capitals", `{"a":"\uD83C\uDFE2"}`, -1, ""},
		{"an escaped backslash before ud800 is text", `{"a":"\\ud800"}`, -1, ""},
		{"escapes of characters that are not surrogates", `{"a":"\u00e9\u2028\"\n"}`, -1, ""},
		{"a byte that is not UTF-8", "{\"a\":\"x\xffy\"}", 7, `"a"`},
		{"a truncated sequence at the end of a string", "{\"a\":\"\xe2\x82\"}", 6, `"a"`},
		{"a lone high surrogate", `{"a":"x\ud800y"}`, 7, `"a"`},
		{"a high surrogate at the end of a string", `{"b":1,"a":"\ud800"}`, 12, `"a"`},
		{"a high surrogate before another high one", `{"a":"\ud800\ud800\udc00"}`, 6, `"a"`},
		{"a lone low surrogate", `{"a":"\uDC00"}`, 6, `"a"`},
		{"a lone surrogate in a key names the object", `{"o":{"\udfff":1}}`, 7, `"o"`},
		{"a lone surrogate in a top-level key names the body", `{"\udfff":1}`, 2, "the request body"},
		{"after an escaped backslash, a real lone surrogate", `{"a":"\\\ud800"}`, 8, `"a"`},
		{"in an array, by index", `{"ids":["x","\ud800"]}`, 13, `"ids.1"`},
		{"in a nested object after another", `{"a":{"b":[1,{"c":2}],"d":"\udc00"}}`, 27, `"a.d"`},
		{"a string at the top", `"\ud800"`, 1, "the request body"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			at, _, found := firstNonUnicode([]byte(tc.body))
			require.Equal(t, tc.at >= 0, found)
			detail, _ := notUnicodeText([]byte(tc.body))
			if tc.at >= 0 {
				assert.Equal(t, tc.at, at)
				assert.True(t, strings.HasPrefix(detail, tc.field+" holds "), detail)
			}
		})
	}
}
