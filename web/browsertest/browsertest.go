// Package browsertest gives tests a real headless Chromium: Debian's
// chromium, installed on first use when it is missing (never a browser
// download), and a chromedp context driving it.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Path is Debian's chromium.
const Path = "/usr/bin/chromium"

// Chromium returns the browser's path, installing Debian's package when it
// is missing. Test packages run at once, so the install holds a lock:
// one apt-get at a time, and the others find the browser there.
func Chromium(t testing.TB) string {
	t.Helper()
	if _, err := os.Stat(Path); err == nil {
		return Path
	}
	install := exec.Command("flock", filepath.Join(os.TempDir(), "backcare-chromium.lock"), "sh", "-c",
		"test -x "+Path+" || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium)")
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("installing chromium for the browser tests: %v\n%s", err, out)
	}
	return Path
}

// Flags are what the browser starts with here: headless, and without the
// background connections that a machine with a closed network refuses.
func Flags(userDataDir string) []string {
	return []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--user-data-dir=" + userDataDir}
}

// New starts the browser and returns a chromedp context for one tab, which
// ends with the test, or after timeout.
func New(t *testing.T, timeout time.Duration) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(Chromium(t)), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-component-update", true), chromedp.WindowSize(1280, 800))
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(alloc)
	ctx, cancelTimeout := context.WithTimeout(ctx, timeout)
	t.Cleanup(func() {
		cancelTimeout()
		cancelTab()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return ctx
}

// Artifacts is the folder screenshots are saved in, test-artifacts at the
// repository's root, made when missing.
func Artifacts(t testing.TB, root string) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join(root, "test-artifacts"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Tab is a test's browser tab with the steps every browser test takes:
// steps under a deadline of their own, text read off the page, and
// screenshots saved for people to look at.
type Tab struct {
	t *testing.T
	// Ctx drives the tab (see New).
	Ctx         context.Context
	dir, prefix string
	// OnFail, when set, runs before a failed step fails the test: to log
	// what the server did, say.
	OnFail func()
}

// Size is a screenshot's viewport and the suffix of its file's name.
type Size struct {
	Suffix        string
	Width, Height int64
}

// The sizes the pages are looked at in.
var (
	Desktop = Size{"", 1280, 800}
	Tablet  = Size{"-tablet", 768, 1024}
	Phone   = Size{"-phone", 390, 844}
)

// stepTimeout bounds one step: a page that never shows fails the test
// then, not at the whole test's deadline.
const stepTimeout = 20 * time.Second

// Open starts the browser (New) and returns its tab, whose screenshots go
// to root's test-artifacts (Artifacts) as <prefix>-<name><suffix>.png.
func Open(t *testing.T, timeout time.Duration, root, prefix string) *Tab {
	t.Helper()
	return &Tab{t: t, Ctx: New(t, timeout), dir: Artifacts(t, root), prefix: prefix}
}

// Do runs steps, within stepTimeout, or fails the test naming what.
func (b *Tab) Do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	step, cancel := context.WithTimeout(b.Ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(step, steps...); err != nil {
		if b.OnFail != nil {
			b.OnFail()
		}
		b.t.Fatalf("%s: %v", what, err)
	}
}

// Text is the text of the first element sel selects.
func (b *Tab) Text(sel string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.Ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return v
}

// Shot saves a full-page screenshot at each size, then goes back to the
// desktop size.
func (b *Tab) Shot(name string, sizes ...Size) {
	b.t.Helper()
	for _, size := range sizes {
		// The page settles at the new width before it is photographed.
		if err := chromedp.Do(b.Ctx, chromedp.EmulateViewport(size.Width, size.Height), chromedp.Sleep(200*time.Millisecond)); err != nil {
			b.t.Fatal(err)
		}
		png, err := chromedp.Run(b.Ctx, chromedp.FullScreenshot(100))
		if err != nil {
			b.t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(b.dir, b.prefix+"-"+name+size.Suffix+".png"), png, 0o644); err != nil {
			b.t.Fatal(err)
		}
	}
	if err := chromedp.Do(b.Ctx, chromedp.EmulateViewport(Desktop.Width, Desktop.Height)); err != nil {
		b.t.Fatal(err)
	}
}
