package main

import (
	"fmt"
	"strings"
	"unicode"
)

// Text from the server reaches a person's terminal: names and descriptions that other users
// wrote, error messages from whatever answered. A control character in it could move the
// cursor, erase lines or, with a line break, print a line that looks like the CLI's own (an
// organization admin forging an entry in the owner's `entitle audit`). So server text is
// printed through printable, which writes those characters as escapes.

// printable returns s with every control character (C0, DEL, C1; tab and line breaks too, as
// they would break a table's row or a message's line) and every mark that reorders text
// (bidirectional embeddings, overrides and isolates) written as an escape: \t, \n, \r, \x1b,
// \u202e.
func printable(s string) string {
	if strings.IndexFunc(s, unsafeRune) < 0 {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x80 && unsafeRune(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case unsafeRune(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func unsafeRune(r rune) bool {
	return unicode.IsControl(r) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069)
}
