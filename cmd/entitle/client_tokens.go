package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"entitle/gen"
	sessiontoken "entitle/session"
)

// tokensCmd manages API tokens, the long-lived keys scripts and CI sign in with, as Coder's
// `coder tokens` does.
type tokensCmd struct {
	Create tokensCreateCmd `cmd:"" help:"Create an API token and print it; it is shown only this once."`
	List   tokensListCmd   `cmd:"" aliases:"ls" help:"List API tokens."`
	Remove tokensRemoveCmd `cmd:"" aliases:"rm,delete" help:"Delete an API token by its name or id; it stops working at once."`
}

// tokenUserFlag names whose tokens a command works on; only the owner may name someone else.
type tokenUserFlag struct {
	User string `short:"u" default:"me" help:"Whose tokens: a username, a user id, or me (only the owner may name another user)."`
}

type tokensCreateCmd struct {
	sessionFlags  `embed:""`
	outputFlags   `embed:""`
	tokenUserFlag `embed:""`

	Name     string        `short:"n" help:"A name unique among the user's tokens: letters, digits, - and _ (default: a generated one)."`
	Lifetime time.Duration `help:"How long the token lasts, e.g. 24h (default: 30 days, or the server's --max-token-lifetime when shorter)."`
}

// Run creates the token and prints it alone on its line, so TOKEN=$(entitle tokens create) works.
func (c *tokensCreateCmd) Run(ctx context.Context, stdout io.Writer) error {
	client, err := c.client()
	if err != nil {
		return err
	}
	var req gen.CreateTokenRequest
	if c.Name != "" {
		req.TokenName = &c.Name
	}
	if c.Lifetime != 0 {
		ns := int64(c.Lifetime)
		req.Lifetime = &ns
	}
	res, err := client.CreateTokenWithResponse(ctx, c.User, req)
	if err := check(res, err); err != nil {
		return err
	}
	return c.print(stdout, res.Body, func(w io.Writer) {
		fmt.Fprintln(w, res.JSON201.Key)
	})
}

type tokensListCmd struct {
	sessionFlags  `embed:""`
	outputFlags   `embed:""`
	tokenUserFlag `embed:""`

	All bool `short:"a" help:"List every user's tokens (owner only; others see their own)."`
}

// Run lists the tokens, oldest first; with --all, each with its owner.
func (c *tokensListCmd) Run(ctx context.Context, stdout io.Writer) error {
	client, err := c.client()
	if err != nil {
		return err
	}
	var params *gen.ListTokensParams
	if c.All {
		params = &gen.ListTokensParams{IncludeAll: &c.All}
	}
	res, err := client.ListTokensWithResponse(ctx, c.User, params)
	if err := check(res, err); err != nil {
		return err
	}
	return c.print(stdout, res.Body, func(w io.Writer) {
		header := []string{"ID", "NAME", "LAST USED", "EXPIRES AT", "CREATED AT"}
		if c.All {
			header = append(header, "OWNER")
		}
		row(w, header...)
		for _, k := range *res.JSON200 {
			cells := []string{k.Id, k.TokenName, formatTime(k.LastUsed), formatTime(k.ExpiresAt), formatTime(k.CreatedAt)}
			if c.All {
				cells = append(cells, k.Username)
			}
			row(w, cells...)
		}
	})
}

type tokensRemoveCmd struct {
	sessionFlags  `embed:""`
	tokenUserFlag `embed:""`

	Token string `arg:"" help:"The token's name or id, as 'entitle tokens list' shows them, or the token itself."`
}

// Run finds the token by name, else takes the argument as its id, and deletes it.
func (c *tokensRemoveCmd) Run(ctx context.Context, stdout io.Writer) error {
	client, err := c.client()
	if err != nil {
		return err
	}
	id, err := c.keyID(ctx, client)
	if err != nil {
		return err
	}
	res, err := client.DeleteAPIKeyWithResponse(ctx, c.User, id)
	if err == nil && res.StatusCode() == http.StatusNotFound {
		return c.notFound()
	}
	// Success is 204 with no body, which check (made for JSON answers) would refuse.
	if err != nil || res.StatusCode() != http.StatusNoContent {
		if err := check(res, err); err != nil {
			return err
		}
	}
	_, err = fmt.Fprintf(stdout, "Token %s deleted.\n", c.Token)
	return err
}

// notFound says that no token of the user's is named or identified by the argument, and where
// to look: the tokens of another user are reached only with --user. A token given whole is
// named by its id, never echoed.
func (c *tokensRemoveCmd) notFound() error {
	ref := "named or with the id " + strconv.Quote(c.Token)
	if tok, err := sessiontoken.Parse(c.Token); err == nil {
		ref = "with the id " + strconv.Quote(tok.ID)
	}
	if strings.EqualFold(c.User, "me") {
		return fmt.Errorf("you have no token %s. See 'entitle tokens list'; another user's token needs --user USER", printable(ref))
	}
	return fmt.Errorf("%s has no token %s, or you cannot see their tokens. See 'entitle tokens list --user %s'", printable(c.User), printable(ref), printable(c.User))
}

// keyID is the id of the token the argument names: by name first, as Coder's CLI looks it up.
func (c *tokensRemoveCmd) keyID(ctx context.Context, client *gen.ClientWithResponses) (string, error) {
	res, err := client.GetTokenByNameWithResponse(ctx, c.User, c.Token)
	if err == nil && res.StatusCode() == http.StatusNotFound {
		if tok, err := sessiontoken.Parse(c.Token); err == nil {
			return tok.ID, nil
		}
		return c.Token, nil
	}
	if err := check(res, err); err != nil {
		return "", err
	}
	return res.JSON200.Id, nil
}
