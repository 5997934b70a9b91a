package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/google/uuid"

	"entitle/gen"
)

// usersCmd creates, lists, suspends and activates users (owner only), as Coder's `coder users`.
type usersCmd struct {
	Create   usersCreateCmd   `cmd:"" help:"Create a user (owner only)."`
	List     usersListCmd     `cmd:"" aliases:"ls" help:"List and search users (owner only)."`
	Suspend  usersSuspendCmd  `cmd:"" help:"Suspend a user: they take no seat, and their sign-ins and tokens are refused (owner only)."`
	Activate usersActivateCmd `cmd:"" help:"Make a suspended or dormant user active again (owner only)."`
}

type usersCreateCmd struct {
	sessionFlags `embed:""`
	outputFlags  `embed:""`

	Email         string   `required:"" help:"The new user's email."`
	Username      string   `required:"" help:"1 to 32 letters, digits and single inner hyphens."`
	FullName      string   `name:"full-name" help:"The user's display name."`
	Password      string   `xor:"password" help:"The password (at least 8 characters). Prefer --password-stdin: flags show up in the process list."`
	PasswordStdin bool     `xor:"password" help:"Read the password from standard input."`
	OrgID         []string `name:"org-id" help:"Organization id to join; repeat for several (default: the default organization)."`
}

// Run creates the user and shows them.
func (c *usersCreateCmd) Run(ctx context.Context, stdin io.Reader, stdout io.Writer) error {
	client, err := c.client()
	if err != nil {
		return err
	}
	if err := validEmail(c.Email); err != nil {
		return err
	}
	password := c.Password
	if c.PasswordStdin {
		b, err := io.ReadAll(io.LimitReader(stdin, 1<<20))
		if err != nil {
			return fmt.Errorf("read the password from standard input: %w", err)
		}
		password = strings.TrimRight(string(b), "\r\n")
	}
	if password == "" {
		return fmt.Errorf("give the new user's password with --password or --password-stdin")
	}
	req := gen.CreateUserRequest{Email: gen.Email(c.Email), Username: c.Username, Password: password}
	if c.FullName != "" {
		req.Name = &c.FullName
	}
	if len(c.OrgID) > 0 {
		ids := make([]uuid.UUID, 0, len(c.OrgID))
		for _, raw := range c.OrgID {
			id, err := uuid.Parse(raw)
			if err != nil {
				return fmt.Errorf("--org-id %q is not an organization id; 'entitle organizations list' shows them", raw)
			}
			ids = append(ids, id)
		}
		req.OrganizationIds = &ids
	}
	res, err := client.CreateUserWithResponse(ctx, req)
	if err := check(res, err); err != nil {
		return err
	}
	return c.print(stdout, res.Body, func(w io.Writer) {
		writeUsers(w, []gen.User{*res.JSON201})
	})
}

type usersListCmd struct {
	sessionFlags `embed:""`
	outputFlags  `embed:""`

	Search string `arg:"" optional:"" help:"A search, e.g. 'status:active alice' (words match username and email)."`
}

// Run lists the users the search matches.
func (c *usersListCmd) Run(ctx context.Context, stdout io.Writer) error {
	client, err := c.client()
	if err != nil {
		return err
	}
	params := &gen.ListUsersParams{}
	if c.Search != "" {
		params.Q = &c.Search
	}
	res, err := client.ListUsersWithResponse(ctx, params)
	if err := check(res, err); err != nil {
		return err
	}
	return c.print(stdout, res.Body, func(w io.Writer) {
		writeUsers(w, res.JSON200.Users)
	})
}

func writeUsers(w io.Writer, users []gen.User) {
	row(w, "ID", "USERNAME", "EMAIL", "STATUS", "ROLES", "LAST SEEN AT")
	for _, u := range users {
		roles := make([]string, 0, len(u.Roles))
		for _, r := range u.Roles {
			roles = append(roles, r.Name)
		}
		row(w, u.Id.String(), u.Username, string(u.Email), string(u.Status), strings.Join(roles, ","), formatTime(u.LastSeenAt))
	}
}

type usersSuspendCmd struct {
	sessionFlags `embed:""`
	outputFlags  `embed:""`

	User string `arg:"" help:"The user's username or id."`
}

// Run suspends the user.
func (c *usersSuspendCmd) Run(ctx context.Context, stdout io.Writer) error {
	client, err := c.client()
	if err != nil {
		return err
	}
	res, err := client.SuspendUserWithResponse(ctx, c.User)
	if err := checkFound(res, err, fmt.Sprintf("user %q", c.User), "entitle users list"); err != nil {
		return err
	}
	return c.print(stdout, res.Body, func(w io.Writer) {
		u := res.JSON200.Username
		fmt.Fprintf(w, "%s is now suspended: they take no seat, and their sign-ins and tokens are refused until 'entitle users activate %s'.\n", u, u)
	})
}

type usersActivateCmd struct {
	sessionFlags `embed:""`
	outputFlags  `embed:""`

	User string `arg:"" help:"The user's username or id."`
}

// Run makes the user active.
func (c *usersActivateCmd) Run(ctx context.Context, stdout io.Writer) error {
	client, err := c.client()
	if err != nil {
		return err
	}
	res, err := client.ActivateUserWithResponse(ctx, c.User)
	if err := checkFound(res, err, fmt.Sprintf("user %q", c.User), "entitle users list"); err != nil {
		return err
	}
	return c.print(stdout, res.Body, func(w io.Writer) {
		fmt.Fprintf(w, "%s is now active.\n", printable(res.JSON200.Username))
	})
}
