package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"entitle/gen"
)

// organizationsCmd creates and shows organizations and manages their members.
type organizationsCmd struct {
	Create  organizationsCreateCmd  `cmd:"" help:"Create an organization (owner only); you become its admin."`
	Show    organizationsShowCmd    `cmd:"" help:"Show one organization, or with 'me' all of yours."`
	List    organizationsListCmd    `cmd:"" aliases:"ls" help:"List the organizations you can see."`
	Members organizationsMembersCmd `cmd:"" help:"List, add and remove an organization's members."`
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

	Organization string `arg:"" optional:"" default:"default" help:"The organization's id or name, 'default', or 'me' for every organization you belong to."`
}

// Run shows one organization, the default one unless told otherwise; "me" shows the caller's
// organizations, as Coder's "organizations show me" does.
func (c *organizationsShowCmd) Run(ctx context.Context, stdout io.Writer) error {
	client, err := c.client()
	if err != nil {
		return err
	}
	if c.Organization == "me" {
		res, err := client.ListUserOrganizationsWithResponse(ctx, "me", nil)
		if err := check(res, err); err != nil {
			return err
		}
		return c.print(stdout, res.Body, func(w io.Writer) {
			writeOrganizations(w, *res.JSON200)
		})
	}
	res, err := client.GetOrganizationWithResponse(ctx, c.Organization)
	if err := checkFound(res, err, fmt.Sprintf("organization %q", c.Organization), "entitle organizations list"); err != nil {
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

// organizationsMembersCmd manages who belongs to an organization.
type organizationsMembersCmd struct {
	List   membersListCmd   `cmd:"" aliases:"ls" help:"List an organization's members."`
	Add    membersAddCmd    `cmd:"" help:"Add a user to an organization (owner or its admins)."`
	Remove membersRemoveCmd `cmd:"" aliases:"rm" help:"Remove a user from an organization (owner or its admins)."`
}

// orgFlag picks the organization a members command works on, like Coder's --org.
type orgFlag struct {
	Org string `name:"org" short:"O" env:"ENTITLE_ORGANIZATION" default:"default" help:"The organization's id or name, or 'default'."`
}

type membersListCmd struct {
	sessionFlags `embed:""`
	outputFlags  `embed:""`
	orgFlag      `embed:""`
}

// Run lists the organization's members, oldest membership first.
func (c *membersListCmd) Run(ctx context.Context, stdout io.Writer) error {
	client, err := c.client()
	if err != nil {
		return err
	}
	res, err := client.ListOrganizationMembersWithResponse(ctx, c.Org, nil)
	if err := checkFound(res, err, fmt.Sprintf("organization %q", c.Org), "entitle organizations list"); err != nil {
		return err
	}
	return c.print(stdout, res.Body, func(w io.Writer) {
		row(w, "USERNAME", "EMAIL", "ROLES", "JOINED AT")
		for _, m := range *res.JSON200 {
			row(w, m.Username, string(m.Email), roleList(m.Roles), formatTime(m.CreatedAt))
		}
	})
}

type membersAddCmd struct {
	sessionFlags `embed:""`
	outputFlags  `embed:""`
	orgFlag      `embed:""`

	User string `arg:"" help:"The user's username or id."`
}

// Run adds the user to the organization.
func (c *membersAddCmd) Run(ctx context.Context, stdout io.Writer) error {
	client, err := c.client()
	if err != nil {
		return err
	}
	res, err := client.AddOrganizationMemberWithResponse(ctx, c.Org, c.User)
	if err := checkFound(res, err, fmt.Sprintf("organization %q or user %q", c.Org, c.User), "entitle users list"); err != nil {
		return err
	}
	return c.print(stdout, res.Body, func(w io.Writer) {
		fmt.Fprintf(w, "%s is now a member of %s.\n", c.User, c.Org)
	})
}

type membersRemoveCmd struct {
	sessionFlags `embed:""`
	orgFlag      `embed:""`

	User string `arg:"" help:"The user's username or id."`
}

// Run removes the user from the organization.
func (c *membersRemoveCmd) Run(ctx context.Context, stdout io.Writer) error {
	client, err := c.client()
	if err != nil {
		return err
	}
	res, err := client.RemoveOrganizationMemberWithResponse(ctx, c.Org, c.User)
	if err != nil {
		return fmt.Errorf("could not talk to the server: %w", err)
	}
	// 204 has no body, so check's JSON test does not apply.
	if res.StatusCode() != http.StatusNoContent {
		return check(res, nil)
	}
	_, err = fmt.Fprintf(stdout, "%s is no longer a member of %s.\n", c.User, c.Org)
	return err
}

func roleList(roles []gen.SlimRole) string {
	names := make([]string, 0, len(roles))
	for _, r := range roles {
		names = append(names, r.Name)
	}
	return strings.Join(names, ", ")
}
