package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/examples"
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
// network) and opens on the example tabs, each as its role's demo user; the
// role switcher changes the tab's user; an example tab runs; the explorer
// builds a query by clicks; the live event view shows an event appended by
// a mutation over HTTP while the page listens, and opens its stream's
// history in a tab; a refused socket shows the server's close reason.
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
		c.Seed = true
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
		chromedp.WindowSize(1400, 900),
	)
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(allocCtx, chromedp.WithErrorf(t.Logf))
	defer cancelBrowser()
	// The browser lives as long as the context of its first run: this
	// bounds the whole test, a hung page included.
	ctx, cancel := context.WithTimeout(browser, 120*time.Second)
	defer cancel()

	dir := t.ArtifactDir()
	shot := func(name string) {
		t.Helper()
		b, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		path := filepath.Join(dir, name+".png")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s (kept with go test -artifacts)", path)
	}
	do := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			shot("failed")
			t.Fatalf("%s: %v", what, err)
		}
	}
	// poll evaluates js until it answers something other than false.
	poll := func(what, js string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Poll[string](js, chromedp.WithPollingTimeout(20*time.Second)))
		if err != nil {
			shot("failed")
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}
	// GraphiQL 3 edits with CodeMirror 5: each editor's element carries
	// its instance, whose value a script can read and set.
	const (
		queryJS   = `document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror`
		resultJS  = `(document.querySelector('.result-window .CodeMirror') || {CodeMirror: {getValue: () => ''}}).CodeMirror.getValue()`
		headersJS = `[...document.querySelectorAll('.graphiql-editor-tool .CodeMirror')].map(e => e.CodeMirror.getValue()).find(v => v.includes('Authorization')) || ''`
		roleJS    = `document.querySelector('#pg-role-select').selectedOptions[0].textContent`
	)
	selectRole := func(label string) {
		t.Helper()
		do("select the role "+label, chromedp.Evaluate[chromedp.Void](`(() => {
			const s = document.querySelector('#pg-role-select');
			s.value = `+jsString(label)+`;
			s.dispatchEvent(new Event('change', {bubbles: true}));
		})()`))
	}
	run := func(want string) string {
		t.Helper()
		do("run the tab", chromedp.Click(chromedp.CSS(".graphiql-execute-button")))
		return poll("a result with "+want, `(() => { const v = `+resultJS+`; return v.includes(`+jsString(want)+`) ? v : false })()`)
	}
	var viewer struct {
		Data struct {
			Viewer struct{ Role, TenantID string }
		}
		Errors []gqlError
	}

	// 1. The page opens on the examples, the first as its Role: line's
	// user.
	do("load the playground", chromedp.Navigate(ts.url+"/"), chromedp.WaitVisible(chromedp.CSS("#pg-role-select")))
	all, err := examples.All()
	if err != nil {
		t.Fatal(err)
	}
	tabs := poll("the example tabs", `(() => { const n = document.querySelectorAll('.graphiql-tab').length; return n >= `+fmt.Sprint(len(all))+` ? String(n) : false })()`)
	if q := poll("the first tab's query", queryJS+`.getValue() || false`); q != all[0].Document {
		t.Fatalf("the first tab holds %q, want %s", q, all[0].Name)
	}
	if r := poll("the role", roleJS); r != all[0].Role {
		t.Fatalf("the role switcher shows %q, want %q (the Role: of %s)", r, all[0].Role, all[0].Name)
	}
	if h := poll("a headers editor with a token", headersJS+` || false`); !strings.Contains(h, `"Bearer ey`) {
		t.Fatalf("headers editor holds %q, want a demo bearer token", h)
	}
	t.Logf("%s tabs", tabs)
	shot("1-examples")

	// 2. Switch the role and run the example: the answer is the customer's
	// Global admin.
	selectRole("Fabrikam (customer), Global admin")
	if err := json.Unmarshal([]byte(run(`"viewer"`)), &viewer); err != nil {
		t.Fatal(err)
	}
	if len(viewer.Errors) > 0 || viewer.Data.Viewer.Role != "GLOBAL_ADMIN" || viewer.Data.Viewer.TenantID != app.DemoCustomerID.String() {
		t.Fatalf("after switching to the customer's Global admin the viewer is %+v", viewer)
	}
	shot("2-switched-role")

	// 3. Build a query with the explorer in a new tab, by clicks.
	do("open a tab and the explorer",
		chromedp.Click(chromedp.CSS(".graphiql-tab-add")),
		chromedp.Evaluate[chromedp.Void](queryJS+`.setValue('')`),
		chromedp.Click(chromedp.CSS(`button[aria-label="Show GraphiQL Explorer"]`)),
		chromedp.WaitVisible(chromedp.CSS(".graphiql-explorer-root")),
	)
	clickField := func(name string) {
		t.Helper()
		do("click "+name+" in the explorer",
			chromedp.Click(chromedp.Search(`//div[contains(@class,'graphiql-explorer-root')]//span[contains(@class,'graphiql-explorer-field-view') and text()=`+jsString(name)+`]`)))
	}
	clickField("viewer")
	poll("viewer in the query", `(() => { const v = `+queryJS+`.getValue(); return v.includes('viewer') ? v : false })()`)
	clickField("role")
	built := poll("role in the query", `(() => { const v = `+queryJS+`.getValue(); return /viewer\s*{[^}]*role/.test(v) ? v : false })()`)
	t.Logf("the explorer built:\n%s", built)
	viewer.Data.Viewer.Role = ""
	if err := json.Unmarshal([]byte(run(`"role"`)), &viewer); err != nil || viewer.Data.Viewer.Role == "" {
		t.Fatalf("the explorer's query answered %+v (%v)", viewer, err)
	}
	shot("3-explorer")

	// 4. The live event view listens as the tab's user (a new tab's is
	// Contoso's Global admin); a mutation over HTTP arrives in its list.
	do("open the live event view",
		chromedp.Click(chromedp.CSS(`button[aria-label="Show Live events"]`)),
		chromedp.WaitVisible(chromedp.CSS(".pg-live")),
	)
	poll("the feed listening", `(() => { const s = document.querySelector('.pg-live [role=status]').textContent; return s.startsWith('Listening as') ? s : false })()`)
	var onboarded struct {
		OnboardCustomer struct{ ID string }
	}
	ts.user(app.DemoPartnerID, domain.RoleSalesAgent).ok(&onboarded, `mutation { onboardCustomer(input: {name: "Live Toys", domain: "livetoys.onmicrosoft.com", cloud: PUBLIC}) { id } }`, nil)
	ev := poll("the event in the live view", `(() => {
		const li = [...document.querySelectorAll('.pg-live li')].find(e => e.textContent.includes(`+jsString(onboarded.OnboardCustomer.ID)+`));
		return li ? li.textContent : false })()`)
	if !strings.Contains(ev, "SALES_AGENT") {
		t.Fatalf("the live view's event %q does not name its actor", ev)
	}
	shot("4-live-event")

	// 5. Its "Open history" opens a tab with the stream's history query,
	// which runs.
	do("open the event's history", chromedp.Click(chromedp.Search(`//li[contains(., `+jsString(onboarded.OnboardCustomer.ID)+`)]//button[text()='Open history']`)))
	poll("the history query", `(() => { const v = `+queryJS+`.getValue(); return v.includes('StreamHistory') ? v : false })()`)
	history := run(`"totalCount"`)
	if !strings.Contains(history, "CustomerOnboarded") {
		t.Fatalf("the history tab answered %s", history)
	}
	shot("5-history")

	// 6. A socket the server refuses: the subscription's result and the
	// live view show the close code and reason instead of spinning.
	do("a tab with a subscription and a bad token",
		chromedp.Click(chromedp.CSS(".graphiql-tab-add")),
		chromedp.Evaluate[chromedp.Void](queryJS+`.setValue('subscription { eventAppended { type } }')`),
		chromedp.Evaluate[chromedp.Void](`[...document.querySelectorAll('.graphiql-editor-tool .CodeMirror')].find(e => e.CodeMirror.getValue().includes('Authorization')).CodeMirror.setValue('{"Authorization": "Bearer not-a-token"}')`),
	)
	refused := run("4403")
	if !strings.Contains(refused, "UNAUTHENTICATED") {
		t.Fatalf("the refused subscription shows %s", refused)
	}
	if v, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`!!document.querySelector('.graphiql-execute-button[aria-label*="Stop"], .graphiql-execute-button svg.graphiql-stop-icon')`)); err == nil && v {
		t.Fatal("GraphiQL still runs the refused subscription")
	}
	closed := poll("the live view's close reason", `(() => { const s = document.querySelector('.pg-live [role=status]').textContent; return s.includes('4403') ? s : false })()`)
	if !strings.Contains(closed, "UNAUTHENTICATED") {
		t.Fatalf("the live view says %q", closed)
	}
	shot("6-refused")
}

// jsString quotes s as a JavaScript (JSON) string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
