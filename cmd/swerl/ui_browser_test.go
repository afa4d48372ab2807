package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/swerl/swerl/internal/syncbuf"
)

// findBrowser returns Debian's chromium (or another Chrome) from PATH. Without one the
// test is skipped, unless SWERL_REQUIRE_BROWSER=1 (CI), where it fails.
func findBrowser(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "no chromium, chromium-browser or google-chrome on PATH: install Debian's chromium (apt-get install -y chromium) to run the live page's browser test"
	if os.Getenv("SWERL_REQUIRE_BROWSER") == "1" {
		t.Fatal(msg + " (SWERL_REQUIRE_BROWSER=1 makes this a failure)")
	}
	t.Skip(msg)
	return ""
}

// browserErrors collects what the page's console would show in red.
type browserErrors struct {
	mu   sync.Mutex
	errs []string
}

func (b *browserErrors) add(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.errs = append(b.errs, s)
}

func (b *browserErrors) list() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errs...)
}

// poll runs check until it says done, failing the test with what it last saw after
// deadline. No fixed sleeps: a loaded machine only makes it wait longer.
func poll(t *testing.T, what string, deadline time.Duration, check func() (bool, string)) {
	t.Helper()
	end := time.Now().Add(deadline)
	last := ""
	for time.Now().Before(end) {
		var ok bool
		if ok, last = check(); ok {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: not seen within %v; last: %s", what, deadline, last)
}

// The acceptance test of the live page: a short swerl train serves it, a headless
// chromium loads it without a console error, sees the grid change as the run
// advances, opens a finished episode's trajectory, and leaves a screenshot: at
// $SWERL_UI_SCREENSHOT if set (give an absolute path: go test runs in cmd/swerl),
// else in the test's temp dir; the log names it.
func TestLivePageInBrowser(t *testing.T) {
	browser := findBrowser(t)
	if testing.Short() {
		t.Skip("-short: the browser test runs swerl train")
	}

	// A small recipe (engine's smallRecipe) with more held-out episodes and stage-1
	// iterations than it needs, so the run outlasts the test; the test cancels it.
	args := []string{"train", "--out", t.TempDir(), "--ui", "127.0.0.1:0", "--quiet"}
	for _, s := range []string{"world.preset=easy", "world.train_tasks=24", "held_out.tasks=16", "held_out.samples=4",
		"held_out.turn_cap=12", "model.window=24", "model.dim=16", "model.hidden=32", "pretrain.traces=12",
		"pretrain.epochs=1", "pretrain.probe_tasks=4", "pretrain.probe_samples=2", "rft.tasks=4", "rft.samples=2",
		"stage1.iterations=100", "stage1.tasks_per_iteration=4", "stage1.group_size=4", "stage1.turn_cap=12",
		"stage2.iterations=1", "stage2.tasks_per_iteration=3", "stage2.group_size=2", "stage2.turn_cap=16"} {
		args = append(args, "--set", s)
	}
	runCtx, stopRun := context.WithCancel(context.Background())
	var stderr syncbuf.Buffer
	runErr := make(chan error, 1)
	go func() { runErr <- run(runCtx, args, &bytes.Buffer{}, &stderr) }()
	defer func() {
		stopRun()
		if err := <-runErr; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("swerl train: %v\n%s", err, stderr.String())
		}
	}()

	addrRe := regexp.MustCompile(`ui: (http://127\.0\.0\.1:\d+/)`)
	var url string
	poll(t, "the ui address on stderr", 2*time.Minute, func() (bool, string) {
		select {
		case err := <-runErr:
			runErr <- err
			t.Fatalf("swerl train ended before the page was seen: %v\n%s", err, stderr.String())
		default:
		}
		m := addrRe.FindStringSubmatch(stderr.String())
		if m != nil {
			url = m[1]
		}
		return m != nil, stderr.String()
	})

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(browser), chromedp.NoSandbox,
		chromedp.Flag("headless", "new"), chromedp.DisableGPU, chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1500, 1000))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()

	// Console starts the browser and subscribes to console.error calls, uncaught
	// exceptions (runtime.ExceptionThrown) and the browser log's errors (a failed
	// request) before the page loads.
	var errs browserErrors
	consoleDone := make(chan struct{})
	messages := chromedp.Console(bctx)
	go func() {
		defer close(consoleDone)
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				errs.add(fmt.Sprintf("%s (%s:%d)", m, m.URL, m.Line))
			}
		}
	}()
	defer func() { cancelBrowser(); <-consoleDone }()

	// do runs browser actions with a bound, so a wedged browser fails the test.
	do := func(actions ...chromedp.Action[chromedp.Void]) error {
		ctx, cancel := context.WithTimeout(bctx, time.Minute)
		defer cancel()
		return chromedp.Do(ctx, actions...)
	}
	eval := func(js string) (int, error) {
		ctx, cancel := context.WithTimeout(bctx, time.Minute)
		defer cancel()
		return chromedp.Run(ctx, chromedp.Evaluate[int](js))
	}
	attr := func(id, name string) string {
		ctx, cancel := context.WithTimeout(bctx, time.Minute)
		defer cancel()
		a, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.ID(id), name))
		if err != nil {
			t.Fatalf("reading %s of #%s: %v", name, id, err)
		}
		return a.Value
	}
	if err := do(chromedp.Navigate(url), chromedp.WaitVisible(chromedp.ID("grid"))); err != nil {
		t.Fatalf("loading %s in %s: %v", url, browser, err)
	}

	var first string
	poll(t, "a run on the grid", 3*time.Minute, func() (bool, string) {
		first = attr("grid", "data-state")
		return first != "" && !strings.HasPrefix(first, "run=0 "), first
	})
	poll(t, "the grid changing as the run advances", 3*time.Minute, func() (bool, string) {
		s := attr("grid", "data-state")
		return s != first, fmt.Sprintf("still %q", s)
	})

	// The held-out curve grows (the base and RFT evaluations) and stage 1's first
	// iteration reports its training numbers.
	poll(t, "two points on the held-out curve and a stage-1 iteration", 5*time.Minute, func() (bool, string) {
		evals, _ := strconv.Atoi(attr("curve", "data-evals"))
		stages := attr("iters", "data-stages")
		loaded, err := eval(`document.getElementById('curve').complete ? document.getElementById('curve').naturalWidth : 0`)
		return evals >= 2 && loaded > 0 && strings.Contains(stages, "stage1"),
			fmt.Sprintf("%d evaluations, curve image %dpx wide (%v), iterations of %q", evals, loaded, err, stages)
	})

	// Open a finished episode that took turns; the grid redraws as the run goes, so a
	// click that lands on a replaced cell is tried again.
	const finishedCell = `#grid .cell.finished:not([data-turns="0"])`
	// For the screenshot, the first minute waits for a grid caught mid-iteration
	// (finished and running cells side by side); after that any finished cell does.
	var key string
	midUntil := time.Now().Add(time.Minute)
	poll(t, "a finished episode's trajectory opening on a click", 3*time.Minute, func() (bool, string) {
		n, err := eval(`document.querySelectorAll('` + finishedCell + `').length`)
		if err != nil || n == 0 {
			return false, fmt.Sprintf("%d finished cells with turns (%v)", n, err)
		}
		running, err := eval(`document.querySelectorAll('#grid .cell:not(.finished)').length`)
		if err != nil || running == 0 && time.Now().Before(midUntil) {
			return false, fmt.Sprintf("no running cell beside %d finished ones (%v)", n, err)
		}
		ctx, cancel := context.WithTimeout(bctx, 10*time.Second)
		err = chromedp.Do(ctx, chromedp.Click(chromedp.CSS(finishedCell)))
		cancel()
		if err != nil {
			return false, "click: " + err.Error()
		}
		key = attr("trajectory", "data-key")
		turns, err := eval(`document.querySelectorAll('#trajectory .turn').length`)
		return key != "" && turns > 0, fmt.Sprintf("trajectory %q with %d turns (%v)", key, turns, err)
	})
	ctx, cancel := context.WithTimeout(bctx, time.Minute)
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("trajectory")))
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"turn 0", "assistant", "command", "observation", "tokens"} {
		if !strings.Contains(text, want) {
			t.Errorf("the trajectory of %s lacks %q:\n%s", key, want, text)
		}
	}

	ctx, cancel = context.WithTimeout(bctx, time.Minute)
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	cancel()
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	shot := os.Getenv("SWERL_UI_SCREENSHOT")
	if shot == "" {
		shot = filepath.Join(t.TempDir(), "ui.png")
	}
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatalf("writing the screenshot: %v", err)
	}
	t.Logf("screenshot of the live page (%d bytes, trajectory %s open): %s", len(png), key, shot)

	if e := errs.list(); len(e) > 0 {
		t.Errorf("the page logged %d error(s):\n%s", len(e), strings.Join(e, "\n"))
	}
}
