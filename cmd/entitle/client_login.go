package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/mail"
	"os"
	"strings"

	"github.com/alecthomas/kong"
	"golang.org/x/term"

	"entitle/api"
	"entitle/gen"
	"entitle/server"
)

// loginCmd signs in with an email and password and stores the session for later commands.
type loginCmd struct {
	configFlags `embed:""`
	outputFlags `embed:""`

	URL           string `arg:"" help:"The server, e.g. https://entitle.example.com (with or without /api/v2)."`
	Email         string `help:"Email to sign in with (default: prompt)."`
	Password      string `xor:"password" help:"Password (default: prompt). Prefer --password-stdin: flags show up in the process list."`
	PasswordStdin bool   `xor:"password" help:"Read the password from standard input."`

	// As Coder's CLI: on a server with no users yet, login creates the first one (the owner).
	FirstUserEmail    string `name:"first-user-email" env:"ENTITLE_FIRST_USER_EMAIL" help:"On a server with no users yet, create the first user (the owner) with this email, then sign in."`
	FirstUserUsername string `name:"first-user-username" env:"ENTITLE_FIRST_USER_USERNAME" help:"The first user's username."`
	FirstUserPassword string `name:"first-user-password" env:"ENTITLE_FIRST_USER_PASSWORD" help:"The first user's password (at least 8 characters)."`
}

// Run signs in, greets the user and saves {url, session_token}.
func (c *loginCmd) Run(ctx context.Context, kctx *kong.Context, stdin io.Reader, stdout io.Writer) error {
	root, err := normalizeURL(c.URL)
	if err != nil {
		return err
	}
	dir, err := c.dir()
	if err != nil {
		return err
	}
	anonymous, err := newAPIClient(root, "")
	if err != nil {
		return err
	}
	created, err := c.createFirstUserIfNone(ctx, anonymous, root, kctx.Stderr)
	if err != nil {
		return err
	}
	if created || (c.Email == "" && c.FirstUserEmail != "") {
		// The first user's credentials sign in, now and on any later run of the same command.
		c.Email, c.Password, c.PasswordStdin = c.FirstUserEmail, c.FirstUserPassword, false
	}
	email, password, err := c.credentials(ctx, stdin, kctx.Stderr)
	if err != nil {
		return err
	}
	if err := validEmail(email); err != nil {
		return err
	}
	login, err := anonymous.LoginWithPasswordWithResponse(ctx, gen.LoginWithPasswordRequest{Email: gen.Email(email), Password: password})
	if err != nil {
		return fmt.Errorf("could not talk to the server at %s: %w", root, err)
	}
	// Not check(): a 401 here means a wrong password, and "run entitle login" would not help.
	if login.StatusCode() != http.StatusCreated || login.JSON201 == nil {
		return responseError(login.StatusCode(), login.Body)
	}
	client, err := newAPIClient(root, login.JSON201.SessionToken)
	if err != nil {
		return err
	}
	me, err := client.GetCurrentUserWithResponse(ctx)
	if err := check(me, err); err != nil {
		return err
	}
	if me.JSON200 == nil {
		return fmt.Errorf("the server's answer to GET /users/me is not a user: %s", me.Body)
	}
	if err := saveSession(dir, session{URL: root, SessionToken: login.JSON201.SessionToken}); err != nil {
		return err
	}
	return c.print(stdout, me.Body, func(w io.Writer) {
		fmt.Fprintf(w, "Welcome, %s!\n", printable(me.JSON200.Username))
	})
}

// createFirstUserIfNone asks the server whether it has users. With none, it creates the
// first user from the --first-user-* flags, or says how to, rather than letting the sign-in
// fail with "Incorrect email or password".
func (c *loginCmd) createFirstUserIfNone(ctx context.Context, client *gen.ClientWithResponses, root string, stderr io.Writer) (bool, error) {
	first, err := client.CheckFirstUserWithResponse(ctx)
	if err != nil {
		return false, fmt.Errorf("could not talk to the server at %s: %w", root, err)
	}
	// Every answer of entitle (and Coder) carries its version; a 404 from anything else (a
	// metrics port, a web server) would read as "no users yet".
	if first.HTTPResponse.Header.Get(server.BuildVersionHeader) == "" {
		return false, fmt.Errorf("the server at %s is not an entitle server: its answer (%d %s) lacks the %s header every entitle answer carries. Check the URL",
			root, first.StatusCode(), http.StatusText(first.StatusCode()), server.BuildVersionHeader)
	}
	switch first.StatusCode() {
	case http.StatusOK:
		return false, nil
	case http.StatusNotFound:
	default:
		return false, responseError(first.StatusCode(), first.Body)
	}
	var missing []string
	for _, f := range []struct{ flag, value string }{
		{"--first-user-email", c.FirstUserEmail}, {"--first-user-username", c.FirstUserUsername}, {"--first-user-password", c.FirstUserPassword},
	} {
		if f.value == "" {
			missing = append(missing, f.flag)
		}
	}
	if len(missing) > 0 {
		return false, fmt.Errorf("the server at %s has no users yet. Create the first one (the owner) as you sign in (missing: %s):\n"+
			"  entitle login %s --first-user-email EMAIL --first-user-username NAME --first-user-password PASSWORD", root, strings.Join(missing, ", "), root)
	}
	if err := validEmail(c.FirstUserEmail); err != nil {
		return false, err
	}
	res, err := client.CreateFirstUserWithResponse(ctx, gen.CreateFirstUserRequest{
		Email: gen.Email(c.FirstUserEmail), Username: c.FirstUserUsername, Password: c.FirstUserPassword,
	})
	if err := check(res, err); err != nil {
		return false, fmt.Errorf("create the first user: %w", err)
	}
	fmt.Fprintf(stderr, "Created the first user, %s (the owner).\n", c.FirstUserUsername)
	return true, nil
}

// validEmail catches a mistyped email before the request is built: the generated client
// refuses to encode one, and its error would read as a network failure.
func validEmail(email string) error {
	if addr, err := mail.ParseAddress(email); err != nil || addr.Address != email {
		return fmt.Errorf("%q is not an email address", email)
	}
	return nil
}

// credentials takes the email and password from the flags, or else asks for them. Prompts
// go to stderr so that stdout carries only the result.
func (c *loginCmd) credentials(ctx context.Context, stdin io.Reader, stderr io.Writer) (email, password string, err error) {
	email, password = c.Email, c.Password
	in := bufio.NewReader(stdin)
	if c.PasswordStdin {
		if email == "" {
			return "", "", errors.New("--password-stdin needs --email, since standard input holds the password")
		}
		b, err := io.ReadAll(io.LimitReader(in, 1<<20))
		if err != nil {
			return "", "", fmt.Errorf("read the password from standard input: %w", err)
		}
		// Only the line ending goes: spaces may belong to the password.
		password = strings.TrimRight(string(b), "\r\n")
	}
	tty, isTTY := stdin.(*os.File)
	isTTY = isTTY && term.IsTerminal(int(tty.Fd()))
	if email == "" {
		if isTTY {
			fmt.Fprint(stderr, "Email: ")
		}
		if email, err = readLine(ctx, in); err != nil {
			return "", "", fmt.Errorf("read email: %w", err)
		}
		email = strings.TrimSpace(email)
	}
	if password == "" && !c.PasswordStdin {
		if isTTY {
			fmt.Fprint(stderr, "Password: ")
			password, err = readPassword(ctx, tty)
			fmt.Fprintln(stderr)
		} else {
			password, err = readLine(ctx, in)
		}
		if err != nil {
			return "", "", fmt.Errorf("read password: %w", err)
		}
	}
	if email == "" || password == "" {
		return "", "", errors.New("an email and a password are needed to sign in")
	}
	return email, password, nil
}

// readLine reads one line without its line ending. It gives up when ctx ends, since main
// catches Ctrl-C and a blocked read would otherwise ignore it until Enter.
func readLine(ctx context.Context, in *bufio.Reader) (string, error) {
	type result struct {
		line string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		line, err := in.ReadString('\n')
		if errors.Is(err, io.EOF) && line != "" {
			err = nil // a last line without a newline still counts
		}
		done <- result{strings.TrimRight(line, "\r\n"), err}
	}()
	select {
	case r := <-done:
		if errors.Is(r.err, io.EOF) {
			return "", errors.New("standard input ended")
		}
		return r.line, r.err
	case <-ctx.Done():
		return "", errors.New("interrupted")
	}
}

// readPassword reads a password from the terminal without echoing it. On Ctrl-C it puts the
// terminal back itself: term.ReadPassword would only do so once Enter is pressed, and the
// process would exit leaving echo off.
func readPassword(ctx context.Context, tty *os.File) (string, error) {
	fd := int(tty.Fd())
	state, err := term.GetState(fd)
	if err != nil {
		return "", err
	}
	type result struct {
		password []byte
		err      error
	}
	done := make(chan result, 1)
	go func() {
		b, err := term.ReadPassword(fd)
		done <- result{b, err}
	}()
	select {
	case r := <-done:
		return string(r.password), r.err
	case <-ctx.Done():
		_ = term.Restore(fd, state)
		return "", errors.New("interrupted")
	}
}

// logoutCmd ends the session on the server and forgets it here.
type logoutCmd struct {
	sessionFlags `embed:""`
	outputFlags  `embed:""`
}

// Run signs out. A 401 means the session had already ended, so the stored one is removed
// all the same. A server that cannot be reached gets the session forgotten here too (as
// Coder's CLI does: the person asked to be signed out on this machine), with an error that
// says the token may still work there until it expires. Any other failure keeps it.
func (c *logoutCmd) Run(ctx context.Context, stdout io.Writer) error {
	client, signedIn, err := c.clientAndTarget()
	if err != nil {
		return err
	}
	dir, err := c.dir()
	if err != nil {
		return err
	}
	// Only the stored session is forgotten, and only when it is the one signed out: a token
	// given with --token or ENTITLE_SESSION_TOKEN is another session, and the stored one,
	// still valid, could not be ended later if its only copy were gone.
	stored := signedIn.stored
	ending := stored != nil && stored.URL == signedIn.root && stored.SessionToken == signedIn.token
	forget := func() error {
		if !ending {
			return nil
		}
		return removeSession(dir)
	}
	res, err := client.LogoutWithResponse(ctx)
	if err != nil {
		if rmErr := forget(); rmErr != nil {
			return rmErr
		}
		return fmt.Errorf("could not reach the server to end the session (%w). The session is forgotten on this machine; its token stays valid on the server until it expires", err)
	}
	if res.StatusCode() == http.StatusUnauthorized {
		if err := forget(); err != nil {
			return err
		}
		if env := envelopeOf(res.Body); env.Message != api.MsgSignedOut {
			// Refused for another reason (a suspended account): the session is not ended,
			// and will work again if the account does.
			return fmt.Errorf("%w\nThe server did not end the session: it is forgotten on this machine, but its token stays valid on the server until it expires", responseError(res.StatusCode(), res.Body))
		}
		return c.print(stdout, res.Body, func(w io.Writer) {
			fmt.Fprintln(w, "Your session had already ended; it is forgotten now.")
		})
	}
	if err := check(res, err); err != nil {
		return err
	}
	if err := forget(); err != nil {
		return err
	}
	return c.print(stdout, res.Body, func(w io.Writer) {
		if ending || stored == nil {
			fmt.Fprintln(w, "You are signed out.")
			return
		}
		fmt.Fprintln(w, "That token is signed out; the session stored on this machine is kept ('entitle logout' without --token ends it).")
	})
}
