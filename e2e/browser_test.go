package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/partnercenter/multichannel/internal/app"
)

// findChromium returns a Chromium or Chrome binary: $CHROME_PATH, else the
// first of the usual names on PATH. Outside CI a missing browser skips the
// test, visibly; with CI=true it fails it, so that CI cannot pass without
// having run it.
func findChromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROME_PATH"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("CI=true but no Chromium found (install it: apt-get install -y chromium, or set CHROME_PATH)")
	}
	t.Skip("SKIP: no Chromium found on PATH (or CHROME_PATH): the playground's browser test did not run")
	return ""
}

// The playground, in a real browser: the page loads from the binary (no
// network), GraphiQL shows the demo token in its headers editor, and a
// query typed into the editor runs against the API and shows its answer.
func TestPlaygroundInBrowser(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("-short: the browser test starts Chromium")
	}
	chromium := findChromium(t)
	ts := startServer(t, func(c *setup) {
		c.Env = "development"
		c.Playground = true
		c.Introspection = true
	})

	// Chromium's helper processes may still write into the profile for a
	// moment after the browser stops, so the directory is removed with
	// retries rather than by t.TempDir's cleanup.
	profile, err := os.MkdirTemp("", "playground-browser-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for range 50 {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox, // as root in CI containers
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 900),
	)
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(allocCtx, chromedp.WithErrorf(t.Logf))
	defer cancelBrowser()
	// The browser lives as long as the context of its first run: this
	// bounds the whole test, a hung page included.
	ctx, cancel := context.WithTimeout(browser, 90*time.Second)
	defer cancel()

	// GraphiQL 3 edits with CodeMirror 5: each editor's element carries
	// its instance, whose value a script can read and set.
	const editorsJS = `[...document.querySelectorAll('.CodeMirror')].map(e => e.CodeMirror.getValue())`
	if err := chromedp.Do(ctx,
		chromedp.Navigate(ts.url+"/"),
		chromedp.WaitVisible(chromedp.CSS(".graphiql-execute-button")),
	); err != nil {
		t.Fatalf("load the playground: %v", err)
	}
	headers, err := chromedp.Run(ctx, chromedp.Poll[string](editorsJS+`.find(v => v.includes('Authorization')) || false`,
		chromedp.WithPollingTimeout(20*time.Second)))
	if err != nil {
		t.Fatalf("no headers editor with a token: %v", err)
	}
	if err := chromedp.Do(ctx,
		chromedp.Evaluate[chromedp.Void](`document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.setValue('{ viewer { role tenantId } }')`),
		chromedp.Click(chromedp.CSS(".graphiql-execute-button")),
	); err != nil {
		t.Fatalf("run the query: %v", err)
	}
	result, err := chromedp.Run(ctx, chromedp.Poll[string](`(() => {
		const e = document.querySelector('.result-window .CodeMirror');
		const v = e && e.CodeMirror.getValue();
		return v && v.includes('"viewer"') ? v : false })()`,
		chromedp.WithPollingTimeout(20*time.Second)))
	if err != nil {
		t.Fatalf("no result shown: %v", err)
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(90))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}

	var h map[string]string
	if err := json.Unmarshal([]byte(headers), &h); err != nil || !strings.HasPrefix(h["Authorization"], "Bearer ey") {
		t.Fatalf("headers editor holds %q (%v), want a demo bearer token", headers, err)
	}
	var r struct {
		Data struct {
			Viewer struct{ Role, TenantID string }
		}
		Errors []gqlError
	}
	if err := json.Unmarshal([]byte(result), &r); err != nil {
		t.Fatalf("result pane holds %q: %v", result, err)
	}
	if len(r.Errors) > 0 || r.Data.Viewer.Role != "GLOBAL_ADMIN" || r.Data.Viewer.TenantID != app.DemoPartnerID.String() {
		t.Fatalf("result pane: %s, want the demo partner's Global admin", result)
	}

	path := filepath.Join(t.ArtifactDir(), "playground.jpg")
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot (%d bytes): %s (kept with go test -artifacts)", len(shot), path)
}
