package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"entitle/license"
)

// licenseCmd groups the issuer's tools; they work offline, with no server.
type licenseCmd struct {
	Keygen  keygenCmd  `cmd:"" help:"Make an Ed25519 key pair for signing licenses."`
	Sign    signCmd    `cmd:"" help:"Sign a license and print it."`
	Inspect inspectCmd `cmd:"" help:"Show a license's header and claims and whether it verifies."`
}

type keygenCmd struct {
	Kid        string `required:"" help:"Key id; the public key is written as <public-dir>/<kid>.pem."`
	PrivateOut string `required:"" type:"path" help:"Where to write the private key (PKCS#8 PEM, mode 0600)."`
	PublicDir  string `required:"" type:"path" help:"Directory of trusted public keys, such as the server's --license-keys-dir."`
	Force      bool   `help:"Overwrite existing key files."`
}

func (c *keygenCmd) Run(stdout io.Writer) error {
	if err := checkKid(c.Kid); err != nil {
		return err
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return fmt.Errorf("generate key: %w", err)
	}
	privPEM, err := license.MarshalPrivateKeyPEM(priv)
	if err != nil {
		return err
	}
	pubPEM, err := license.MarshalPublicKeyPEM(pub)
	if err != nil {
		return err
	}
	pubPath := filepath.Join(c.PublicDir, c.Kid+".pem")
	if err := writeNew(c.PrivateOut, privPEM, 0o600, c.Force); err != nil {
		return err
	}
	if err := os.MkdirAll(c.PublicDir, 0o750); err != nil {
		return fmt.Errorf("create public key directory: %w", err)
	}
	if err := writeNew(pubPath, pubPEM, 0o644, c.Force); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "private key: %s\npublic key:  %s (kid %q)\n", c.PrivateOut, pubPath, c.Kid)
	return nil
}

type signCmd struct {
	Key              string           `required:"" type:"existingfile" help:"Private key file (PKCS#8 PEM)."`
	Kid              string           `required:"" help:"Key id the verifier knows the public key by."`
	Features         map[string]int64 `mapsep:"," placeholder:"NAME=N,..." help:"Features to grant, e.g. user_limit=100,audit_log=1."`
	AllFeatures      bool             `help:"Grant the feature set (the enterprise set when --feature-set is not given)."`
	AllowUnknown     bool             `name:"allow-unknown-features" help:"Sign feature names this version does not know (servers ignore them)."`
	FeatureSet       string           `enum:",enterprise,premium" default:"" help:"Feature set: enterprise or premium."`
	Trial            bool             `help:"Mark the license as a trial."`
	Expires          days             `default:"30d" help:"Length of the paid term from --not-before (or now), e.g. 30d or 720h."`
	Grace            days             `default:"7d" help:"Grace period after the paid term."`
	NotBefore        string           `placeholder:"TIME" help:"When the license starts counting, RFC 3339 (default: now)."`
	DeploymentID     []string         `name:"deployment-id" help:"Restrict to this deployment id; repeat for several."`
	AccountID        string           `help:"The customer's account id."`
	AccountType      string           `default:"organization" help:"The customer's account type."`
	RequireTelemetry bool             `help:"Ask the deployment to keep telemetry on."`
}

func (c *signCmd) Run(stdout io.Writer) error {
	keyPEM, err := os.ReadFile(c.Key)
	if err != nil {
		return fmt.Errorf("read private key: %w", err)
	}
	priv, err := license.ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		return fmt.Errorf("%s: %w", c.Key, err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	start := now
	if c.NotBefore != "" {
		if start, err = time.Parse(time.RFC3339, c.NotBefore); err != nil {
			return fmt.Errorf("--not-before must be an RFC 3339 time such as 2026-01-02T15:04:05Z: %w", err)
		}
	}
	if unknown := license.UnknownFeatures(c.Features); len(unknown) > 0 && !c.AllowUnknown {
		return fmt.Errorf("unknown feature %s: a server ignores it, so it is likely a typo. Known features: %s. Pass --allow-unknown-features to sign it anyway",
			strings.Join(unknown, ", "), strings.Join(license.FeatureNames(), ", "))
	}
	if c.Expires <= 0 || c.Grace < 0 {
		return errors.New("--expires must be positive and --grace must not be negative")
	}
	paidEnd := start.Add(time.Duration(c.Expires))
	exp := paidEnd.Add(time.Duration(c.Grace))
	// The server refuses such a license, so say which flag put which claim out of bounds.
	for _, claim := range []struct {
		name, from string
		at         time.Time
	}{
		{"nbf", "--not-before", start},
		{"license_expires", "--not-before + --expires", paidEnd},
		{"exp", "--not-before + --expires + --grace", exp},
	} {
		if !license.TimeInBounds(claim.at) {
			return fmt.Errorf("%s (%s) would be %s, outside %s, where a license's times must fall",
				claim.name, claim.from, claim.at.UTC().Format(time.RFC3339), license.TimeBounds)
		}
	}
	claims := license.Claims{
		IssuedAt:         jwt.NewNumericDate(now),
		NotBefore:        jwt.NewNumericDate(start),
		LicenseExpires:   jwt.NewNumericDate(paidEnd),
		ExpiresAt:        jwt.NewNumericDate(exp),
		ID:               uuid.NewString(),
		Issuer:           "entitle",
		Subject:          c.AccountID,
		AccountType:      c.AccountType,
		AccountID:        c.AccountID,
		DeploymentIDs:    c.DeploymentID,
		Trial:            c.Trial,
		FeatureSet:       c.FeatureSet,
		AllFeatures:      c.AllFeatures,
		Version:          license.SupportedVersion,
		Features:         c.Features,
		RequireTelemetry: c.RequireTelemetry,
	}
	token, err := license.Sign(priv, c.Kid, claims)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, token)
	return nil
}

type inspectCmd struct {
	KeysDir string `type:"path" placeholder:"DIR" help:"Trusted public keys to verify against (default: only decode)."`
	File    string `arg:"" help:"License file, or - for standard input."`
}

// errDoesNotVerify makes inspect exit non-zero when the license does not verify.
var errDoesNotVerify = errors.New("the license does not verify")

func (c *inspectCmd) Run(stdin io.Reader, stdout io.Writer) error {
	raw, err := readFileOrStdin(c.File, stdin)
	if err != nil {
		return err
	}
	token := strings.TrimSpace(string(raw))
	header, claims, err := license.Decode(token)
	if err != nil {
		return fmt.Errorf("%s is not a license: %w", c.File, err)
	}
	for _, seg := range []struct {
		name string
		raw  json.RawMessage
	}{{"header", header}, {"claims", claims}} {
		var pretty bytes.Buffer
		if err := json.Indent(&pretty, seg.raw, "  ", "  "); err != nil {
			return fmt.Errorf("%s: %s: %w", c.File, seg.name, err)
		}
		fmt.Fprintf(stdout, "%s:\n  %s\n", seg.name, pretty.String())
	}
	var named struct {
		Features map[string]json.RawMessage `json:"features"`
	}
	if json.Unmarshal(claims, &named) == nil && named.Features != nil {
		if unknown := license.UnknownFeatures(named.Features); len(unknown) > 0 {
			fmt.Fprintf(stdout, "unknown features: %s (this version ignores them)\n", strings.Join(unknown, ", "))
		}
	}
	if c.KeysDir == "" {
		fmt.Fprintln(stdout, "signature: not checked (give --keys-dir to verify)")
		return nil
	}
	keys, err := license.LoadKeys(os.DirFS(c.KeysDir))
	if err != nil {
		return fmt.Errorf("load keys from %s: %w", c.KeysDir, err)
	}
	lic, err := license.VerifyStored(token, keys)
	var rejected *license.Error
	if errors.As(err, &rejected) {
		fmt.Fprintf(stdout, "verifies: no: %s\n", rejected.Detail)
		return errDoesNotVerify
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "verifies: yes, with key %q\n", lic.KeyID)
	now := time.Now()
	if lic.Claims.NotBefore != nil && now.Before(lic.Claims.NotBefore.Time) {
		fmt.Fprintf(stdout, "status: not yet valid: counts from %s\n", lic.Claims.NotBefore.UTC().Format(time.RFC3339))
	} else if lic.Claims.ExpiresAt != nil && !now.Before(lic.Claims.ExpiresAt.Time) {
		fmt.Fprintf(stdout, "status: expired at %s\n", lic.Claims.ExpiresAt.UTC().Format(time.RFC3339))
	} else if lic.Claims.LicenseExpires != nil && !now.Before(lic.Claims.LicenseExpires.Time) {
		fmt.Fprintf(stdout, "status: in its grace period until %s\n", lic.Claims.ExpiresAt.UTC().Format(time.RFC3339))
	} else {
		fmt.Fprintln(stdout, "status: active")
	}
	return nil
}

// days is a duration that also accepts a number of days, such as "30d".
type days time.Duration

// UnmarshalText parses "30d" as well as anything time.ParseDuration takes.
func (d *days) UnmarshalText(b []byte) error {
	s := string(b)
	if n, ok := strings.CutSuffix(s, "d"); ok {
		v, err := strconv.ParseInt(n, 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not a number of days", s)
		}
		// Multiplying further would wrap around into a short or negative duration.
		if maxDays := int64(math.MaxInt64 / (24 * time.Hour)); v > maxDays || v < -maxDays {
			return fmt.Errorf("%q is more days than a duration holds (at most %dd)", s, maxDays)
		}
		*d = days(time.Duration(v) * 24 * time.Hour)
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration such as 30d or 720h", s)
	}
	*d = days(v)
	return nil
}

func checkKid(kid string) error {
	if kid == "" || strings.ContainsAny(kid, `/\`) || kid == "." || kid == ".." {
		return fmt.Errorf("--kid %q must be a plain file name", kid)
	}
	return nil
}

func writeNew(path string, data []byte, mode os.FileMode, force bool) error {
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if force {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(path, flags, mode)
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("%s exists already (use --force to overwrite it)", path)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Chmod(mode); err != nil {
		_ = f.Close()
		return fmt.Errorf("chmod %s: %w", path, err)
	}
	return f.Close()
}

func readFileOrStdin(name string, stdin io.Reader) ([]byte, error) {
	if name == "-" {
		b, err := io.ReadAll(io.LimitReader(stdin, 1<<20))
		if err != nil {
			return nil, fmt.Errorf("read standard input: %w", err)
		}
		return b, nil
	}
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return b, nil
}
