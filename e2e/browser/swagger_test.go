//go:build browser

// Package browser drives entitle's pages in a real headless Chromium. It is built only with
// `-tags browser` (scripts/test-browser), so plain `go test ./...` needs no browser.
package browser

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"entitle/internal/testenv"
	"entitle/server"
)

// recordCSPViolations runs in the page before its own scripts, so a policy that blocks
// something Swagger UI needs is a failure here rather than a silently broken page.
const recordCSPViolations = `window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push(e.violatedDirective + " blocked " + (e.blockedURI || "inline"));
});`

// chromiumPath is Debian's chromium, or CHROMIUM_PATH. A missing browser fails the test: a
// skipped browser test is a test nobody notices is not running.
func chromiumPath(t *testing.T) string {
	t.Helper()
	path := os.Getenv("CHROMIUM_PATH")
	if path == "" {
		path = "/usr/bin/chromium"
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("no Chromium at %s: run `apt-get install chromium` (or set CHROMIUM_PATH)", path)
	}
	return path
}

// newBrowser starts a headless Chromium with a fresh profile and returns a tab's context. The
// context has no deadline: chromedp ties the browser's life to the context of its first
// action, so the start is bounded by a timer instead, and the test bounds each later stage
// with a context derived from this one (which still leaves time for a screenshot).
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1600),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithErrorf(t.Logf))
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc() // waits for the browser to exit, before TempDir removes its profile
	})
	const startTimeout = 30 * time.Second
	tooSlow := time.AfterFunc(startTimeout, cancelTab)
	err := chromedp.Do(ctx)
	if !tooSlow.Stop() {
		t.Fatalf("Chromium did not start within %s", startTimeout)
	}
	if err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return ctx
}

// console collects what the page writes to the console, for the log and for failures.
type console struct {
	mu       sync.Mutex
	messages []chromedp.ConsoleMessage
}

func watchConsole(ctx context.Context) *console {
	c := &console{}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			c.mu.Lock()
			c.messages = append(c.messages, m)
			c.mu.Unlock()
		}
	}()
	return c
}

func (c *console) all() []chromedp.ConsoleMessage {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]chromedp.ConsoleMessage(nil), c.messages...)
}

// screenshot saves the page as it is now and says where.
func screenshot(t *testing.T, ctx context.Context, label string) {
	t.Helper()
	shotCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	png, err := chromedp.Run(shotCtx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("no screenshot: %v", err)
		return
	}
	f, err := os.CreateTemp("", "entitle-"+label+"-*.png")
	if err != nil {
		t.Logf("no screenshot: %v", err)
		return
	}
	defer func() { _ = f.Close() }()
	if _, err := f.Write(png); err != nil {
		t.Logf("no screenshot: %v", err)
		return
	}
	t.Logf("screenshot: %s", f.Name())
}

// A person opens Swagger UI, authorizes with their session token, and tries
// GET /organizations/{organization} against the running server.
func TestSwaggerUITriesAnOperationWithASessionToken(t *testing.T) {
	inst := testenv.Start(t, testenv.Databases()[0].NewConfig(t))
	token := inst.SetupOwner(t)
	tab := newBrowser(t)
	messages := watchConsole(tab)
	// Every stage below also ends by this deadline, so the whole test stays under two minutes.
	testCtx, cancel := context.WithTimeout(tab, 80*time.Second)
	defer cancel()

	// The operation block, found by its path whatever its generated id; in the Authorize
	// dialog, the CoderSessionToken scheme and its form (each scheme has its own form and
	// buttons, and the apiKey fields share one element id).
	const op = `.opblock.opblock-get:has(> .opblock-summary .opblock-summary-path[data-path="/organizations/{organization}"])`
	const tokenScheme = `//div[h4/code[normalize-space()="CoderSessionToken"]]`
	const tokenForm = `//div[contains(@class, "auth-container")][.` + tokenScheme + `]`

	stage := func(name string, timeout time.Duration, f func(ctx context.Context) error) {
		t.Helper()
		ctx, cancel := context.WithTimeout(testCtx, timeout)
		defer cancel()
		if err := f(ctx); err != nil {
			for _, m := range messages.all() {
				t.Logf("console %s: %s", m.Type, m)
			}
			screenshot(t, tab, "swagger-ui")
			t.Fatalf("%s: %v", name, err)
		}
	}
	steps := func(steps ...chromedp.Action[chromedp.Void]) func(context.Context) error {
		return func(ctx context.Context) error { return chromedp.Do(ctx, steps...) }
	}
	text := func(name string, sel chromedp.CSS) string {
		t.Helper()
		var got string
		stage(name, 10*time.Second, func(ctx context.Context) (err error) {
			got, err = chromedp.Run(ctx, chromedp.Text(sel))
			return err
		})
		return got
	}
	checkCSP := func() {
		t.Helper()
		var violations []string
		stage("read CSP violations", 10*time.Second, func(ctx context.Context) (err error) {
			violations, err = chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.__cspViolations`))
			return err
		})
		if len(violations) > 0 {
			t.Errorf("the Content-Security-Policy blocked what Swagger UI needed: %s", strings.Join(violations, "; "))
		}
	}

	stage("watch for CSP violations", 10*time.Second, func(ctx context.Context) error {
		_, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument,
			page.AddScriptToEvaluateOnNewDocumentParams{Source: recordCSPViolations})
		return err
	})
	stage("open /swagger and see the operations", 40*time.Second, steps(
		chromedp.Navigate(inst.URL+strings.TrimSuffix(server.SwaggerPath, "/")),
		chromedp.WaitVisible(chromedp.CSS(op)),
	))
	stage("authorize with the session token", 15*time.Second, steps(
		chromedp.Click(chromedp.CSS(".auth-wrapper button.authorize")),
		chromedp.SendKeys(tokenScheme+"//input", token),
		chromedp.Click(tokenForm+`//button[contains(@class, "authorize")]`),
		chromedp.WaitVisible(tokenScheme+`/h6[normalize-space()="Authorized"]`),
		chromedp.Click(tokenForm+`//button[contains(@class, "btn-done")]`),
		chromedp.WaitNotPresent(chromedp.CSS(".dialog-ux")),
		chromedp.WaitVisible(chromedp.CSS(".auth-wrapper button.authorize.locked")),
	))
	stage("try GET /organizations/default", 20*time.Second, steps(
		chromedp.Click(chromedp.CSS(op+" .opblock-summary-control")),
		chromedp.Click(chromedp.CSS(op+" .try-out__btn")),
		// The field starts with the parameter's example value; type over it as a person would.
		chromedp.SendKeys(chromedp.CSS(op+` tr[data-param-name="organization"] input`),
			kb.End+strings.Repeat(kb.Backspace, 64)+"default"),
		chromedp.Click(chromedp.CSS(op+" button.execute")),
		chromedp.WaitVisible(chromedp.CSS(op+" .live-responses-table tr.response > td.response-col_status")),
	))

	status := strings.TrimSpace(text("read the status", chromedp.CSS(op+" .live-responses-table tr.response > td.response-col_status")))
	body := text("read the body", chromedp.CSS(op+" .live-responses-table .response-col_description .highlight-code pre"))
	requestURL := text("read the request URL", chromedp.CSS(op+" .request-url"))
	curl := text("read the curl command", chromedp.CSS(op+" .curl-command"))
	if status != "200" || !strings.Contains(body, `"first-organization"`) {
		screenshot(t, tab, "swagger-ui")
		t.Fatalf("Try it out answered %q with body %s", status, body)
	}
	if !strings.Contains(requestURL, inst.URL+server.APIPrefix+"/organizations/default") {
		t.Errorf("Try it out called %q, not this server's API", requestURL)
	}
	if !strings.Contains(curl, server.SessionHeader+": "+token) {
		t.Errorf("Try it out did not send the token in %s: %s", server.SessionHeader, curl)
	}
	if dir := os.Getenv("SCREENSHOT_DIR"); dir != "" {
		png, err := chromedp.Run(testCtx, chromedp.FullScreenshot(100))
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, "swagger-ui.png"), png, 0o644)
		}
		t.Logf("screenshot of the working UI in %s: %v", dir, err)
	}
	checkCSP()

	// persistAuthorization: after a reload the token is still there.
	stage("reload and still be authorized", 30*time.Second, steps(
		chromedp.Reload(),
		chromedp.WaitVisible(chromedp.CSS(op)),
		chromedp.WaitVisible(chromedp.CSS(".auth-wrapper button.authorize.locked")),
	))
	checkCSP()

	for _, m := range messages.all() {
		if m.IsException() || m.Type == chromedp.ConsoleError {
			t.Errorf("console %s: %s", m.Type, m)
		}
	}
}
