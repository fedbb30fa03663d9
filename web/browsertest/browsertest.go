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
