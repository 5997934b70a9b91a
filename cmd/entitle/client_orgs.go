package main

import (
	"context"
	"io"
	"strconv"

	"entitle/gen"
)

// organizationsCmd creates and shows organizations.
type organizationsCmd struct {
	Create organizationsCreateCmd `cmd:"" help:"Create an organization (owner only); you become its admin."`
	Show   organizationsShowCmd   `cmd:"" help:"Show one organization."`
	List   organizationsListCmd   `cmd:"" aliases:"ls" help:"List the organizations you can see."`
}

type organizationsCreateCmd struct {
	sessionFlags `embed:""`
	outputFlags  `embed:""`

	Name string `arg:"" help:"1 to 32 letters, digits and single inner hyphens."`
}

// Run creates the organization.
func (c *organizationsCreateCmd) Run(ctx context.Context, stdout io.Writer) error {
	client, err := c.client()
	if err != nil {
		return err
	}
	res, err := client.CreateOrganizationWithResponse(ctx, gen.CreateOrganizationRequest{Name: c.Name})
	if err := check(res, err); err != nil {
		return err
	}
	return c.print(stdout, res.Body, func(w io.Writer) {
		writeOrganizations(w, []gen.Organization{*res.JSON201})
	})
}

type organizationsShowCmd struct {
	sessionFlags `embed:""`
	outputFlags  `embed:""`

	Organization string `arg:"" optional:"" default:"default" help:"The organization's id or name, or 'default'."`
}

// Run shows one organization, the default one unless told otherwise.
func (c *organizationsShowCmd) Run(ctx context.Context, stdout io.Writer) error {
	client, err := c.client()
	if err != nil {
		return err
	}
	res, err := client.GetOrganizationWithResponse(ctx, c.Organization)
	if err := check(res, err); err != nil {
		return err
	}
	return c.print(stdout, res.Body, func(w io.Writer) {
		writeOrganizations(w, []gen.Organization{*res.JSON200})
	})
}

type organizationsListCmd struct {
	sessionFlags `embed:""`
	outputFlags  `embed:""`
}

// Run lists the organizations the caller can see, oldest first.
func (c *organizationsListCmd) Run(ctx context.Context, stdout io.Writer) error {
	client, err := c.client()
	if err != nil {
		return err
	}
	res, err := client.ListOrganizationsWithResponse(ctx, nil)
	if err := check(res, err); err != nil {
		return err
	}
	return c.print(stdout, res.Body, func(w io.Writer) {
		writeOrganizations(w, *res.JSON200)
	})
}

func writeOrganizations(w io.Writer, orgs []gen.Organization) {
	row(w, "ID", "NAME", "DEFAULT", "CREATED AT")
	for _, o := range orgs {
		row(w, o.Id.String(), o.Name, strconv.FormatBool(o.IsDefault), formatTime(o.CreatedAt))
	}
}
