package audit

import (
	"bytes"
	"encoding/json"
	"sort"
	"time"
)

// Field is one changed field in Coder's diff format. A secret field says only that it changed:
// neither value is ever written.
type Field struct {
	Old    any  `json:"old,omitempty"`
	New    any  `json:"new,omitempty"`
	Secret bool `json:"secret"`
}

// Diff is the changed fields of a resource, by name.
type Diff map[string]Field

// Fields is a resource's audited fields by name, as a handler states them. A value that must
// never be shown is wrapped in Secret.
type Fields map[string]any

// Secret wraps a value that must never appear in the audit log (a password hash, a token's
// secret, a license token): a diff says only whether it changed. Its value is unexported and it
// encodes as null, so even a mistake cannot print it.
type Secret struct{ value string }

// SecretOf wraps a secret value.
func SecretOf[T ~string | ~[]byte](v T) Secret { return Secret{value: string(v)} }

// MarshalJSON implements json.Marshaler: a secret never encodes as itself.
func (Secret) MarshalJSON() ([]byte, error) { return []byte("null"), nil }

// DiffOf is what changed from before to after: nil before for a creation, nil after for a
// deletion. A field is in the diff when its value differs (compared as JSON, and times as
// instants); a secret field appears with only secret: true.
func DiffOf(before, after Fields) Diff {
	names := map[string]bool{}
	for name := range before {
		names[name] = true
	}
	for name := range after {
		names[name] = true
	}
	sorted := make([]string, 0, len(names))
	for name := range names {
		sorted = append(sorted, name)
	}
	sort.Strings(sorted)
	diff := Diff{}
	for _, name := range sorted {
		old, hadOld := before[name]
		updated, hasNew := after[name]
		oldSecret, oldIsSecret := old.(Secret)
		newSecret, newIsSecret := updated.(Secret)
		if oldIsSecret || newIsSecret {
			if hadOld != hasNew || oldSecret != newSecret {
				diff[name] = Field{Secret: true}
			}
			continue
		}
		if hadOld && hasNew && sameJSON(old, updated) {
			continue
		}
		f := Field{}
		if hadOld {
			f.Old = old
		}
		if hasNew {
			f.New = updated
		}
		diff[name] = f
	}
	return diff
}

// sameJSON says whether a and b encode alike (times: whether they are the same instant); a
// value that does not encode differs.
func sameJSON(a, b any) bool {
	if ta, ok := a.(time.Time); ok {
		tb, ok := b.(time.Time)
		return ok && ta.Equal(tb)
	}
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && bytes.Equal(ja, jb)
}
