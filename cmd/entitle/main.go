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
	"regexp"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/alecthomas/kong"

	"entitle/server"
)

// version is stamped by `make build` with -ldflags "-X main.version=...".
var version = ""

type cli struct {
	Version kong.VersionFlag `help:"Print the version and exit."`

	Server  serverCmd  `cmd:"" group:"Server" help:"Run the API server."`
	License licenseCmd `cmd:"" group:"Issuer" help:"The license issuer's tools: keygen, sign, inspect (offline, no server needed)."`

	Login         loginCmd         `cmd:"" group:"Client" help:"Sign in to a server and remember the session."`
	Logout        logoutCmd        `cmd:"" group:"Client" help:"Sign out and forget the stored session."`
	Users         usersCmd         `cmd:"" group:"Client" help:"Create, list, suspend and activate users (owner only)."`
	Organizations organizationsCmd `cmd:"" group:"Client" aliases:"org,orgs" help:"Create, show and list organizations."`
	Licenses      licensesCmd      `cmd:"" group:"Client" help:"Add, preview, list and delete the server's licenses (owner only)."`
	Entitlements  entitlementsCmd  `cmd:"" group:"Client" help:"Show what the deployment is entitled to, and explain why."`
	Tokens        tokensCmd        `cmd:"" group:"Client" help:"Create, list and remove API tokens for scripts and CI."`
	Audit         auditCmd         `cmd:"" group:"Client" help:"Read the audit log: who changed what, and when (owner only)."`
}

type serverCmd struct {
	server.Config `embed:""`
	// ProfileContention is the runtime's, so main sets it, not the server.
	ProfileContention bool `name:"profile-contention" env:"ENTITLE_PROFILE_CONTENTION" help:"Record where goroutines wait for locks and channels, for /debug/pprof/mutex and /debug/pprof/block on --prometheus-address (empty otherwise); costs a little on each contended wait."`
}

func (c *serverCmd) Run(ctx context.Context) error {
	tuneGarbageCollector()
	if c.ProfileContention {
		profileContention()
	}
	stderr := os.Stderr
	logger := c.NewLogger(stderr)
	c.Version = buildVersion()
	err := server.Run(ctx, c.Config, logger, func(url string) {
		// A line for people; with --log-format json stderr carries only JSON lines, and the
		// "serving" line already names the URL.
		if c.LogFormat != "json" {
			fmt.Fprintf(stderr, "entitle is listening on %s (API under %s%s, Swagger UI at %s/swagger/)\n", url, url, server.APIPrefix, url)
		}
	})
	if err != nil {
		// A start-up failure is one line for the operator, however many the driver wrote.
		return errors.New(oneLine(err.Error()))
	}
	return nil
}

// The garbage collector's settings for `entitle server`, unless the environment sets GOGC or
// GOMEMLIMIT (which always win). The server's live heap is small: the spec and caches bounded
// in count, a few MB. Go's default GOGC of 100 then collects each time a few MB have been
// allocated, some 40 times a second under load, which cost about a sixth of the CPU of GET
// /entitlements. At 400 the heap may grow to five times what is live before a collection;
// the soft limit makes it collect sooner rather than let the heap pass 64 MiB, so memory
// stays bounded even if the live heap grows (bench: peak RSS under load, BENCHMARKS.md). At
// 128 MiB, POST /organizations on PostgreSQL, with a larger live heap than the reads, reached
// 79 MB of RSS; the reads' heap stays well below either limit, so they collect as rarely.
const (
	serverGCPercent   = 400
	serverMemoryLimit = 64 << 20
)

func tuneGarbageCollector() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(serverGCPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(serverMemoryLimit)
	}
}

// Contention profiling when asked for: one contended lock in mutexProfileFraction is recorded
// (the profile scales the samples back up), and waits are sampled about once per
// blockProfileRate of waiting. Go records neither by default, so without --profile-contention
// /debug/pprof/mutex and /debug/pprof/block are empty.
const (
	mutexProfileFraction = 100
	blockProfileRate     = time.Millisecond
)

func profileContention() {
	runtime.SetMutexProfileFraction(mutexProfileFraction)
	runtime.SetBlockProfileRate(int(blockProfileRate))
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
		kong.Vars{"default_data_dir": defaultDataDir(), "version": buildVersion()},
		// The top level lists each command group once with its one-line description; each
		// group's --help shows its subcommands.
		kong.ConfigureHelp(kong.HelpOptions{NoExpandSubcommands: true, Compact: true}),
		kong.ExplicitGroups([]kong.Group{
			{Key: "Server", Title: "Server:"},
			{Key: "Issuer", Title: "Issuer (offline):"},
			{Key: "Client", Title: "Client (talks to a server; sign in with 'entitle login URL'):"},
		}),
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
		if hint := verbHint(args); hint != "" {
			return fmt.Errorf("%w\n%s", err, hint)
		}
		return fmt.Errorf("%w (see 'entitle --help')", err)
	}
	return kctx.Run()
}

// verbHint suggests the right command when `license` (the issuer's offline tools) and
// `licenses` (a server's licenses) are confused, which their names invite.
func verbHint(args []string) string {
	if len(args) < 2 {
		return ""
	}
	switch {
	case args[0] == "license" && slices.Contains([]string{"add", "list", "ls", "delete", "rm", "preview"}, args[1]):
		return fmt.Sprintf("Did you mean 'entitle licenses %s'? 'entitle license' holds the issuer's offline tools (keygen, sign, inspect).", args[1])
	case args[0] == "licenses" && slices.Contains([]string{"keygen", "sign", "inspect"}, args[1]):
		return fmt.Sprintf("Did you mean 'entitle license %s'? 'entitle licenses' manages a server's licenses (add, preview, list, delete).", args[1])
	}
	return ""
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

// buildVersion is semver with a leading v, as Coder's clients expect of /buildinfo: a
// stamped tag as it is; anything else (a bare commit from git describe) becomes a
// development version that names it, v0.0.0-devel+<commit>, which Coder's clients treat as
// a development build rather than refusing it.
func buildVersion() string {
	v := version
	if v == "" {
		if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "(devel)" {
			v = info.Main.Version
		}
	}
	if semverPattern.MatchString(v) {
		return v
	}
	if v == "" {
		return "v0.0.0-devel"
	}
	return "v0.0.0-devel+" + strings.Map(func(r rune) rune {
		if r == '.' || r == '-' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' {
			return r
		}
		return '-'
	}, v)
}

var semverPattern = regexp.MustCompile(`^v\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)
