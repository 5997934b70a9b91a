package server

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/jsontext"
)

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
			at, _, found := jsontext.FirstNonUnicode([]byte(tc.body))
			require.Equal(t, tc.at >= 0, found)
			detail, _ := notUnicodeText([]byte(tc.body))
			if tc.at >= 0 {
				assert.Equal(t, tc.at, at)
				assert.True(t, strings.HasPrefix(detail, tc.field+" holds "), detail)
			}
		})
	}
}
