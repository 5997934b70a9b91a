package main

import (
	"bytes"
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLicenseSignRefusesTimesOutside1970To9999(t *testing.T) {
	t.Parallel()
	privPath, _ := keyPair(t, "issuer")
	sign := []string{"license", "sign", "--key", privPath, "--kid", "issuer"}

	cases := []struct {
		name string
		args []string
		want []string // each must appear in the error
	}{
		{
			name: "a paid term that ends after 9999 is refused naming license_expires",
			args: []string{"--not-before", "9999-12-01T00:00:00Z", "--expires", "60d"},
			want: []string{"license_expires", "10000-01-30T00:00:00Z", "outside 1970..9999"},
		},
		{
			name: "a paid term inside 9999 whose grace ends after it is refused naming exp",
			args: []string{"--not-before", "9999-12-20T00:00:00Z", "--expires", "5d", "--grace", "30d"},
			want: []string{"exp", "--grace", "10000-01-24T00:00:00Z", "outside 1970..9999"},
		},
		{
			name: "a start before 1970 is refused naming nbf",
			args: []string{"--not-before", "1969-12-31T00:00:00Z"},
			want: []string{"nbf", "--not-before", "1969-12-31T00:00:00Z", "outside 1970..9999"},
		},
		{
			name: "a term too long for a duration is refused rather than wrapped around",
			args: []string{"--expires", "300000d"},
			want: []string{"--expires", "300000d"},
		},
		{
			name: "a grace period too long for a duration is refused rather than wrapped around",
			args: []string{"--grace", "300000d"},
			want: []string{"--grace", "300000d"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			stdout, _, err := runCLI(t, append(sign, tc.args...)...)
			require.Error(t, err, "sign printed %q", stdout)
			assert.Empty(t, stdout, "no license is printed")
			assert.NotContains(t, err.Error(), "\n", "one line")
			for _, want := range tc.want {
				assert.Contains(t, err.Error(), want)
			}
		})
	}

	t.Run("the real binary says so in one line and exits non-zero", func(t *testing.T) {
		t.Parallel()
		cmd := exec.Command(buildBinary(t), append(sign, "--not-before", "9999-12-01T00:00:00Z", "--expires", "60d")...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var exit *exec.ExitError
		require.True(t, errors.As(err, &exit), "it must exit non-zero: %v; stdout: %s", err, stdout.String())
		assert.NotZero(t, exit.ExitCode())
		assert.Empty(t, stdout.String())
		lines := strings.Split(strings.TrimRight(stderr.String(), "\n"), "\n")
		require.Len(t, lines, 1, "stderr: %s", stderr.String())
		assert.True(t, strings.HasPrefix(lines[0], "entitle: "), lines[0])
		assert.Contains(t, lines[0], "license_expires")
	})
}
