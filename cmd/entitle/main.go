// Command entitle serves the organizations, licenses and entitlements slice of Coder's v2 API.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/alecthomas/kong"

	"entitle/server"
)

// version is stamped by `make build` with -ldflags "-X main.version=...".
var version = ""

type cli struct {
	Server  serverCmd  `cmd:"" help:"Run the API server."`
	License licenseCmd `cmd:"" help:"The license issuer's tools: keygen, sign, inspect (offline)."`

	Login         loginCmd         `cmd:"" group:"Client" help:"Sign in to a server and remember the session."`
	Logout        logoutCmd        `cmd:"" group:"Client" help:"Sign out and forget the stored session."`
	Organizations organizationsCmd `cmd:"" group:"Client" aliases:"org,orgs" help:"Create, show and list organizations."`
	Licenses      licensesCmd      `cmd:"" group:"Client" help:"Add, list and delete the server's licenses (owner only)."`
	Entitlements  entitlementsCmd  `cmd:"" group:"Client" help:"Show what the deployment is entitled to."`
	Tokens        tokensCmd        `cmd:"" group:"Client" help:"Create, list and remove API tokens for scripts and CI."`
}

type serverCmd struct {
	server.Config `embed:""`
}

func (c *serverCmd) Run(ctx context.Context) error {
	stderr := os.Stderr
	logger := c.NewLogger(stderr)
	c.Version = buildVersion()
	err := server.Run(ctx, c.Config, logger, func(url string) {
		fmt.Fprintf(stderr, "entitle is listening on %s (API under %s%s)\n", url, url, server.APIPrefix)
	})
	if err != nil {
		// A start-up failure is one line for the operator, however many the driver wrote.
		return errors.New(oneLine(err.Error()))
	}
	return nil
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "entitle: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var root cli
	exit := -1
	parser, err := kong.New(&root,
		kong.Name("entitle"),
		kong.Description("entitle serves the organizations, licenses and entitlements slice of the Coder v2 REST API.\nEvery flag can also be set by the environment variable shown beside it."),
		kong.Vars{"default_data_dir": defaultDataDir()},
		kong.Writers(stdout, stderr),
		kong.Exit(func(code int) { exit = code }),
		kong.BindTo(ctx, (*context.Context)(nil)),
		kong.BindTo(stdout, (*io.Writer)(nil)),
		kong.BindTo(os.Stdin, (*io.Reader)(nil)),
	)
	if err != nil {
		return fmt.Errorf("build command line: %w", err)
	}
	kctx, err := parser.Parse(args)
	if exit >= 0 {
		// --help printed its text.
		if exit == 0 {
			return nil
		}
		return errors.New("invalid arguments")
	}
	if err != nil {
		return fmt.Errorf("%w (see 'entitle --help')", err)
	}
	return kctx.Run()
}

// oneLine folds a multi-line error (the PostgreSQL driver lists every address it tried) into
// the single line the operator sees.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// defaultDataDir follows the XDG base directory spec.
func defaultDataDir() string {
	if dir := os.Getenv("XDG_DATA_HOME"); dir != "" {
		return filepath.Join(dir, "entitle")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "entitle")
	}
	return ".entitle"
}

func buildVersion() string {
	if version != "" {
		return version
	}
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return "v0.0.0-dev"
}
