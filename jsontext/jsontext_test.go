package jsontext_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"entitle/jsontext"
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
			key, where, found := jsontext.DuplicateKey([]byte(tc.body))
			assert.Equal(t, tc.key != "", found)
			assert.Equal(t, tc.key, key)
			assert.Equal(t, tc.where, where)
		})
	}
}
