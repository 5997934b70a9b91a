package main

// What every client command shares: where the session is kept, the authenticated API client,
// turning error answers into errors, and printing tables or JSON.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"entitle/api"
	"entitle/gen"
	"entitle/server"
)

// errNotSignedIn is what every command that needs a session says when there is none.
var errNotSignedIn = errors.New("You are not signed in. Run 'entitle login URL' first.") //nolint:revive,staticcheck // a sentence printed to a person as is, never wrapped

// sessionFileName is the file in the config directory that holds the stored session.
const sessionFileName = "session.json"

// requestTimeout bounds each request so a hung server cannot hang a script forever.
const requestTimeout = 30 * time.Second

// configFlags names the directory the session is stored in.
type configFlags struct {
	GlobalConfig string `name:"global-config" env:"ENTITLE_CONFIG_DIR" type:"path" placeholder:"DIR" help:"Where the session is stored (default: the user config directory, e.g. ~/.config/entitle)."`
}

// dir is the config directory: the flag, or else os.UserConfigDir()/entitle.
func (f configFlags) dir() (string, error) {
	if f.GlobalConfig != "" {
		return f.GlobalConfig, nil
	}
	base, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("find the config directory (set --global-config or ENTITLE_CONFIG_DIR): %w", err)
	}
	return filepath.Join(base, "entitle"), nil
}

// sessionFlags lets a command run against a server other than the stored one, as Coder's
// CODER_URL and CODER_SESSION_TOKEN do, which is what scripts and CI want.
type sessionFlags struct {
	configFlags `embed:""`

	URL   string `name:"url" env:"ENTITLE_URL" help:"Server URL; overrides the stored session's."`
	Token string `name:"token" env:"ENTITLE_SESSION_TOKEN" help:"Session token; overrides the stored session's."`
}

// outputFlags picks between a table for people and the API's own JSON for scripts.
type outputFlags struct {
	Output string `short:"o" enum:"table,json" default:"table" help:"Output format: table or json."`
}

// session is what login stores and every other command reads.
type session struct {
	URL          string `json:"url"`
	SessionToken string `json:"session_token"`
}

// loadSession reads the stored session; a missing file is no session and no error.
func loadSession(dir string) (*session, error) {
	path := filepath.Join(dir, sessionFileName)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read session: %w", err)
	}
	var s session
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s is damaged (%w); run 'entitle login URL' again", path, err)
	}
	return &s, nil
}

// saveSession writes the session readable by its owner only, because the token is a
// password in all but name. Writing a temporary file and renaming it means a crash never
// leaves half a session behind.
func saveSession(dir string, s session) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create config directory: %w", err)
	}
	b, err := json.MarshalIndent(s, "", "  ") //nolint:gosec // G117: storing the token is the point; the file is 0600
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, sessionFileName+".*")
	if err != nil {
		return fmt.Errorf("save session: %w", err)
	}
	defer func() { _ = os.Remove(f.Name()) }() // a no-op once the rename has happened
	if _, err := f.Write(append(b, '\n')); err != nil {
		_ = f.Close()
		return fmt.Errorf("save session: %w", err)
	}
	if err := f.Chmod(0o600); err != nil {
		_ = f.Close()
		return fmt.Errorf("save session: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("save session: %w", err)
	}
	if err := os.Rename(f.Name(), filepath.Join(dir, sessionFileName)); err != nil {
		return fmt.Errorf("save session: %w", err)
	}
	return nil
}

// removeSession deletes the stored session; having none is fine.
func removeSession(dir string) error {
	err := os.Remove(filepath.Join(dir, sessionFileName))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove session: %w", err)
	}
	return nil
}

// normalizeURL accepts what people type: with or without a scheme, /api/v2 or a trailing
// slash, and returns the server's root such as https://entitle.example.com.
func normalizeURL(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", errors.New("the server URL is empty")
	}
	if !strings.Contains(raw, "://") {
		// Like Coder: a bare host means https, except on this machine, where TLS is rare.
		scheme := "https"
		if strings.HasPrefix(raw, "localhost") || strings.HasPrefix(raw, "127.0.0.1") {
			scheme = "http"
		}
		raw = scheme + "://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("%q is not a URL: %w", raw, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%q is not an http or https URL", raw)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.Path = strings.TrimSuffix(u.Path, server.APIPrefix)
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath, u.RawQuery, u.Fragment = "", "", ""
	return u.String(), nil
}

// sameHostRedirects follows a redirect only on the same host, and never from https down to
// http. The API never redirects, but a proxy in front of it may (http to https); Go's client
// would send the session token along to wherever a redirect points, since it strips only
// Authorization and Cookie.
func sameHostRedirects(req *http.Request, via []*http.Request) error {
	first := via[0].URL
	switch {
	case req.URL.Hostname() != first.Hostname():
		return fmt.Errorf("the server at %s redirected to another host, %s: entitle sends your session to no other host (use --url with that address if you trust it)", first.Host, req.URL.Host)
	case first.Scheme == "https" && req.URL.Scheme != "https":
		return fmt.Errorf("the server at %s redirected from https to %s: entitle sends your session unencrypted nowhere", first.Host, req.URL.Scheme)
	case len(via) >= 10:
		return errors.New("stopped after 10 redirects")
	}
	return nil
}

// newAPIClient talks to the API under root, sending token (when not empty) the way Coder's
// clients do.
func newAPIClient(root, token string) (*gen.ClientWithResponses, error) {
	opts := []gen.ClientOption{
		gen.WithHTTPClient(&http.Client{Timeout: requestTimeout, CheckRedirect: sameHostRedirects}),
		gen.WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
			req.Header.Set("User-Agent", "entitle-cli/"+buildVersion())
			if token != "" {
				req.Header.Set(server.SessionHeader, token)
			}
			return nil
		}),
	}
	return gen.NewClientWithResponses(root+server.APIPrefix, opts...)
}

// client builds the authenticated client from the flags, the environment and the stored
// session, in that order of precedence.
func (f sessionFlags) client() (*gen.ClientWithResponses, error) {
	client, _, err := f.clientAndTarget()
	return client, err
}

// signedInTarget is what client signed in with: the server, the token it sends, and the stored
// session (nil when none).
type signedInTarget struct {
	root, token string
	stored      *session
}

// clientAndTarget is client, also saying what it signed in with (logout needs to know whether
// that is the stored session).
func (f sessionFlags) clientAndTarget() (*gen.ClientWithResponses, signedInTarget, error) {
	root, token, stored, err := f.target()
	if err != nil {
		return nil, signedInTarget{}, err
	}
	if root != "" && token == "" && stored != nil && stored.URL != root {
		return nil, signedInTarget{}, fmt.Errorf("the stored session belongs to %s, not %s. Run 'entitle login %s' to sign in there, or pass --token", stored.URL, root, root)
	}
	if root == "" || token == "" {
		return nil, signedInTarget{}, errNotSignedIn
	}
	client, err := newAPIClient(root, token)
	return client, signedInTarget{root: root, token: token, stored: stored}, err
}

// optionalClient is client for commands anyone may run (entitlements): signed in when a
// session is at hand for the server, anonymous otherwise, and only the URL is needed.
func (f sessionFlags) optionalClient() (*gen.ClientWithResponses, error) {
	root, token, _, err := f.target()
	if err != nil {
		return nil, err
	}
	if root == "" {
		return nil, errors.New("which server? Pass --url URL (or set ENTITLE_URL), or run 'entitle login URL' once")
	}
	return newAPIClient(root, token)
}

// target is the server and token the flags, the environment and the stored session name.
// The stored token is only ever sent to the server that issued it: --url pointing elsewhere
// must not leak it to another host.
func (f sessionFlags) target() (root, token string, stored *session, err error) {
	dir, err := f.dir()
	if err != nil {
		return "", "", nil, err
	}
	if stored, err = loadSession(dir); err != nil {
		return "", "", nil, err
	}
	token = f.Token
	if f.URL != "" {
		if root, err = normalizeURL(f.URL); err != nil {
			return "", "", nil, err
		}
	} else if stored != nil {
		root = stored.URL
	}
	if token == "" && stored != nil && stored.URL == root {
		token = stored.SessionToken
	}
	return root, token, stored, nil
}

// apiResult is what every generated *Result has in common.
type apiResult interface {
	StatusCode() int
	ContentType() string
	GetBody() []byte
}

// check turns a failed request into an error: the transport's, or the server's envelope.
// A 401 also says how to sign in again, since that is the only fix.
func check(res apiResult, err error) error {
	if err != nil {
		return fmt.Errorf("could not talk to the server: %w", err)
	}
	status := res.StatusCode()
	if status >= 200 && status < 300 {
		// The generated client decodes only JSON; anything else (a login page in front of
		// the server, say) would leave the commands with nothing to show.
		if !strings.Contains(res.ContentType(), "json") {
			return fmt.Errorf("the server answered %d with %q, not JSON: is this an entitle server?", status, res.ContentType())
		}
		return nil
	}
	apiErr := responseError(status, res.GetBody())
	if status == http.StatusUnauthorized && envelopeOf(res.GetBody()).Message == api.MsgSignedOut {
		// Signing in again helps a session that ended, not a suspended account.
		return fmt.Errorf("%w\nRun 'entitle login URL' to sign in again.", apiErr) //nolint:revive,staticcheck // a sentence printed to a person as is
	}
	return apiErr
}

// checkFound is check for a request about one named thing: a 404 says which thing was not
// found and which command lists what there is, rather than the server's general sentence.
func checkFound(res apiResult, err error, what, listing string) error {
	if err == nil && res.StatusCode() == http.StatusNotFound {
		return fmt.Errorf("%s was not found, or you cannot see it. See '%s'", what, listing)
	}
	return check(res, err)
}

// envelopeOf decodes an error envelope; a body that is not one gives the zero envelope.
func envelopeOf(body []byte) gen.Response {
	var env gen.Response
	_ = json.Unmarshal(body, &env)
	return env
}

// responseError renders the error envelope as lines a person reads: the message, the
// detail, then one "field: detail" line per validation. A body that is not the envelope
// (a proxy's error page, say) is shown with the HTTP status instead.
func responseError(status int, body []byte) error {
	env := envelopeOf(body)
	if env.Message == "" {
		text := strings.TrimSpace(string(body))
		if len(text) > 200 {
			text = text[:200] + "..."
		}
		return fmt.Errorf("the server answered %d %s: %s", status, http.StatusText(status), printable(text))
	}
	lines := []string{printable(env.Message)}
	if env.Detail != nil && *env.Detail != "" {
		// "Invalid license" + "token is malformed" reads as one sentence; a message that is
		// already a sentence gets the detail on a line of its own.
		if strings.HasSuffix(env.Message, ".") {
			lines = append(lines, printable(*env.Detail))
		} else {
			lines[0] += ": " + printable(*env.Detail)
		}
	}
	if env.Validations != nil {
		for _, v := range *env.Validations {
			lines = append(lines, printable(v.Field)+": "+printable(v.Detail))
		}
	}
	return errors.New(strings.Join(lines, "\n"))
}

// print shows a response: its body, indented, with --output json, so scripts get exactly
// the API's JSON; otherwise what table writes, aligned in columns.
func (o outputFlags) print(stdout io.Writer, body []byte, table func(w io.Writer)) error {
	if o.Output == "json" {
		var out bytes.Buffer
		// The API ends a body with a line break (as json.Encoder does); Indent keeps it.
		if err := json.Indent(&out, bytes.TrimSpace(body), "", "  "); err != nil {
			return fmt.Errorf("the server's answer is not JSON: %w", err)
		}
		out.WriteByte('\n')
		_, err := stdout.Write(out.Bytes())
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 8, 2, ' ', 0)
	table(tw)
	return tw.Flush()
}

// row writes one table row; cells are tab-separated for the tabwriter, each made printable
// (cells hold server text; see terminal.go).
func row(w io.Writer, cells ...string) {
	for i, c := range cells {
		cells[i] = printable(c)
	}
	fmt.Fprintln(w, strings.Join(cells, "\t"))
}

// formatTime shows times as the API does, RFC 3339 in UTC, so the table and the JSON agree.
func formatTime(t time.Time) string {
	return t.UTC().Format(time.RFC3339)
}
