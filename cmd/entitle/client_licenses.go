package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"entitle/gen"
	"entitle/license"
)

// licensesCmd manages the licenses on a server (owner only); `entitle license` is the
// issuer's offline tooling, this is the deployment's side.
type licensesCmd struct {
	Add     licensesAddCmd     `cmd:"" help:"Add a license to the server."`
	Preview licensesPreviewCmd `cmd:"" help:"Check a license as adding it would, and show what it would change, without adding it."`
	List    licensesListCmd    `cmd:"" aliases:"ls" help:"List the server's licenses."`
	Delete  licensesDeleteCmd  `cmd:"" aliases:"rm" help:"Delete a license by its id."`
}

type licensesAddCmd struct {
	sessionFlags  `embed:""`
	outputFlags   `embed:""`
	licenseSource `embed:""`
}

// licenseSource is where a command takes a license from: a path, -f or -l.
type licenseSource struct {
	Path    string `arg:"" optional:"" name:"file" help:"File holding the license, or - for standard input."`
	File    string `short:"f" name:"file" xor:"source" help:"File holding the license, or - for standard input (as Coder's CLI)."`
	License string `short:"l" name:"license" xor:"source" help:"The license itself (as Coder's CLI)."`
}

// Run uploads the license and shows it as the server stored it.
func (c *licensesAddCmd) Run(ctx context.Context, stdin io.Reader, stdout io.Writer) error {
	client, err := c.client()
	if err != nil {
		return err
	}
	token, err := c.readLicense(stdin)
	if err != nil {
		return err
	}
	res, err := client.AddLicenseWithResponse(ctx, gen.AddLicenseRequest{License: token})
	if err := check(res, err); err != nil {
		return err
	}
	return c.print(stdout, res.Body, func(w io.Writer) {
		writeLicenses(w, []gen.License{*res.JSON201})
	})
}

// readLicense reads the license and says so before calling the server when the input is not
// a license at all.
func (c *licenseSource) readLicense(stdin io.Reader) (string, error) {
	token, source, err := c.read(stdin)
	if err != nil {
		return "", err
	}
	if _, _, err := license.Decode(token); err != nil {
		return "", fmt.Errorf("%s does not hold a license (%w): a license is the token 'entitle license sign' prints", source, err)
	}
	return token, nil
}

// read takes the license from exactly one of the path, -f and -l, and names where it came from.
func (c *licenseSource) read(stdin io.Reader) (token, source string, err error) {
	given := 0
	for _, v := range []string{c.Path, c.File, c.License} {
		if v != "" {
			given++
		}
	}
	if given != 1 {
		return "", "", errors.New("give the license once: a file path, -f FILE (- for standard input), or -l LICENSE")
	}
	if c.License != "" {
		return strings.TrimSpace(c.License), "the -l value", nil
	}
	path := c.Path + c.File
	raw, err := readFileOrStdin(path, stdin)
	if err != nil {
		return "", "", err
	}
	source = path
	if path == "-" {
		source = "standard input"
	}
	// Files from editors and `echo` end in a newline, which is not part of the token.
	return strings.TrimSpace(string(raw)), source, nil
}

type licensesListCmd struct {
	sessionFlags `embed:""`
	outputFlags  `embed:""`
}

// Run lists the licenses; the tokens themselves never leave the server.
func (c *licensesListCmd) Run(ctx context.Context, stdout io.Writer) error {
	client, err := c.client()
	if err != nil {
		return err
	}
	res, err := client.GetLicensesWithResponse(ctx, nil)
	if err := check(res, err); err != nil {
		return err
	}
	return c.print(stdout, res.Body, func(w io.Writer) {
		writeLicenses(w, *res.JSON200)
	})
}

type licensesDeleteCmd struct {
	sessionFlags `embed:""`
	outputFlags  `embed:""`

	ID string `arg:"" help:"The license's id, as 'entitle licenses list' shows it."`
}

// Run deletes one license.
func (c *licensesDeleteCmd) Run(ctx context.Context, stdout io.Writer) error {
	if _, err := strconv.ParseUint(c.ID, 10, 31); err != nil {
		return fmt.Errorf("%q is not a license id: ids are whole numbers, as 'entitle licenses list' shows them", c.ID)
	}
	client, err := c.client()
	if err != nil {
		return err
	}
	res, err := client.DeleteLicenseWithResponse(ctx, c.ID)
	if err == nil && res.StatusCode() == http.StatusNotFound {
		return fmt.Errorf("there is no license with id %s. See 'entitle licenses list'", c.ID)
	}
	if err := check(res, err); err != nil {
		return err
	}
	return c.print(stdout, res.Body, func(w io.Writer) {
		fmt.Fprintf(w, "License %s deleted.\n", c.ID)
	})
}

func writeLicenses(w io.Writer, licenses []gen.License) {
	row(w, "ID", "UUID", "UPLOADED AT", "EXPIRES", "FEATURES")
	for _, l := range licenses {
		expires, features := summarizeClaims(l.Claims)
		row(w, strconv.Itoa(int(l.Id)), l.Uuid.String(), formatTime(l.UploadedAt), expires, features)
	}
}

// summarizeClaims reads what a person wants from a license's claims: when the paid term
// ends (license_expires, else exp) and what it grants. Claims come verbatim from the token,
// so anything odd shows as "-" rather than failing the whole list.
func summarizeClaims(raw json.RawMessage) (expires, features string) {
	var c struct {
		LicenseExpires json.Number            `json:"license_expires"`
		Exp            json.Number            `json:"exp"`
		Trial          bool                   `json:"trial"`
		FeatureSet     string                 `json:"feature_set"`
		AllFeatures    bool                   `json:"all_features"`
		Features       map[string]json.Number `json:"features"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return "-", "-"
	}
	expires = "-"
	for _, n := range []json.Number{c.LicenseExpires, c.Exp} {
		if secs, err := n.Float64(); err == nil {
			whole, frac := math.Modf(secs)
			expires = formatTime(time.Unix(int64(whole), int64(frac*1e9)))
			break
		}
	}
	var parts []string
	if c.FeatureSet != "" {
		parts = append(parts, c.FeatureSet)
	}
	if c.AllFeatures {
		parts = append(parts, "all features")
	}
	names := make([]string, 0, len(c.Features))
	for name := range c.Features {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		v := c.Features[name]
		if n, err := v.Int64(); err == nil && n <= 0 {
			continue // granted only when > 0
		}
		if name == "user_limit" {
			name += "=" + v.String()
		} else if len(license.UnknownFeatures(map[string]json.Number{name: v})) > 0 {
			name += " (unknown)"
		}
		parts = append(parts, name)
	}
	if c.Trial {
		parts = append(parts, "trial")
	}
	if len(parts) == 0 {
		return expires, "-"
	}
	return expires, strings.Join(parts, ", ")
}

// entitlementsShowCmd shows what the deployment is entitled to.
type entitlementsShowCmd struct {
	sessionFlags `embed:""`
	outputFlags  `embed:""`
}

// Run shows every feature, then the warnings and errors a person should act on.
func (c *entitlementsShowCmd) Run(ctx context.Context, stdout io.Writer) error {
	// Entitlements are public: no sign-in needed, only the server's URL.
	client, err := c.optionalClient()
	if err != nil {
		return err
	}
	res, err := client.GetEntitlementsWithResponse(ctx, nil)
	if err := check(res, err); err != nil {
		return err
	}
	ent := res.JSON200
	return c.print(stdout, res.Body, func(w io.Writer) {
		row(w, "FEATURE", "ENTITLEMENT", "ENABLED", "LIMIT", "ACTUAL")
		names := make([]string, 0, len(ent.Features))
		for name := range ent.Features {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			f := ent.Features[name]
			row(w, name, string(f.Entitlement), strconv.FormatBool(f.Enabled), optionalInt(f.Limit), optionalInt(f.Actual))
		}
		// Lines without tabs end the tabwriter's columns, so these are not padded.
		for _, msg := range ent.Warnings {
			fmt.Fprintf(w, "Warning: %s\n", printable(msg))
		}
		for _, msg := range ent.Errors {
			fmt.Fprintf(w, "Error: %s\n", printable(msg))
		}
	})
}

func optionalInt(n *int64) string {
	if n == nil {
		return "-"
	}
	return strconv.FormatInt(*n, 10)
}
