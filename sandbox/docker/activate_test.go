package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/swerl/swerl/sandbox"
	"github.com/swerl/swerl/sandbox/sandboxtest"
)

// officialTestImage has the layout of the official SWE-bench images (conda at
// /opt/miniconda3, env testbed, repository at /testbed, python only in the env);
// built by scripts/build-official-test-image.sh.
const officialTestImage = "swerl-official-test:latest"

// envPython is the env's interpreter in officialTestImage.
const envPython = condaTestbedEnv + "/bin/python"

// imageFactory returns a factory whose every task runs in ws's image, with probes
// counted in *probes.
func imageFactory(t *testing.T, ws sandbox.Workspace, mut func(*Config)) (*Factory, *atomic.Int64) {
	t.Helper()
	sandboxtest.RequireDocker(t, DefaultBaseImage, officialTestImage)
	f := newFactory(t, func(c *Config) {
		c.Resolver = sandboxtest.Resolver{Workspace: ws}
		if mut != nil {
			mut(c)
		}
	})
	probes := new(atomic.Int64)
	f.activations.probed = func(string) { probes.Add(1) }
	return f, probes
}

func TestActivatedInOfficialImage(t *testing.T) {
	t.Parallel()
	f, probes := imageFactory(t, sandbox.Workspace{Image: officialTestImage, ImageRoot: "/testbed", BaseCommit: "HEAD"}, nil)
	s := start(t, f, "official")
	if got := mustRun(t, s, "command -v python"); got != envPython+"\n" {
		t.Errorf("command -v python = %q, want %s", got, envPython)
	}
	if got := mustRun(t, s, "python -c 'import sys; print(sys.prefix)'"); got != condaTestbedEnv+"\n" {
		t.Errorf("sys.prefix = %q, want %s", got, condaTestbedEnv)
	}
	if got := mustRun(t, s, "pwd; echo $CONDA_DEFAULT_ENV"); got != "/testbed\ntestbed\n" {
		t.Errorf("directory and env: %q", got)
	}
	// The repository's own test command, as the harness runs it.
	if out := mustRun(t, s, "python -m pytest -rA -p no:cacheprovider tests/test_x.py"); !strings.Contains(out, "PASSED tests/test_x.py::test_runs_in_testbed_env") {
		t.Errorf("the repository's tests in the env:\n%s", out)
	}
	// Every Exec is activated, not only the first; Diff (git alone) still works.
	mustRun(t, s, "python -c 'open(\"rangeutil/extra.py\", \"w\").write(\"x = 1\\n\")'")
	d, err := s.Diff(context.Background())
	if err != nil || !strings.Contains(d, "rangeutil/extra.py") {
		t.Errorf("diff after an activated command: %q, %v", d, err)
	}
	if n := probes.Load(); n != 1 {
		t.Errorf("image probed %d times, want 1", n)
	}
}

func TestNotActivatedWithoutTheLayout(t *testing.T) {
	t.Parallel()
	f, probes := imageFactory(t, sandbox.Workspace{Image: DefaultBaseImage, ImageRoot: "/testbed"}, nil)
	s := start(t, f, "base")
	out := run(t, s, "command -v python; echo rc=$?; echo \"${CONDA_DEFAULT_ENV-unset}\"")
	if out.Text != "rc=1\nunset\n" {
		t.Errorf("base image, no layout: %q (python must not be found, nothing activated)", out.Text)
	}
	if n := probes.Load(); n != 1 {
		t.Errorf("image probed %d times, want 1", n)
	}
	if s.activate != "" {
		t.Errorf("prelude %q for an image without the layout", s.activate)
	}
}

// A task without an image of its own runs in the base image with its checkout: no
// probe, no prelude.
func TestNotActivatedForACheckout(t *testing.T) {
	t.Parallel()
	f := newFactory(t, nil)
	probes := new(atomic.Int64)
	f.activations.probed = func(string) { probes.Add(1) }
	s := start(t, f, "checkout")
	if got := mustRun(t, s, "cat a.txt"); got != "one\ntwo\n" {
		t.Errorf("checkout: %q", got)
	}
	if n := probes.Load(); n != 0 || s.activate != "" {
		t.Errorf("checkout sandbox: %d probes, prelude %q", n, s.activate)
	}
}

// Workspace.Activate wins over the image's layout and needs no probe.
func TestActivateFromTheWorkspace(t *testing.T) {
	t.Parallel()
	f, probes := imageFactory(t, sandbox.Workspace{Image: DefaultBaseImage, Activate: "export SWERL_ACTIVATED=yes"}, nil)
	s := start(t, f, "ws")
	if got := mustRun(t, s, "echo $SWERL_ACTIVATED"); got != "yes\n" {
		t.Errorf("workspace prelude not run: %q", got)
	}
	if n := probes.Load(); n != 0 {
		t.Errorf("image probed %d times though the workspace gave its prelude", n)
	}
}

// A prelude that fails stops the command with exit 126 and says why.
func TestActivateFailureExits126(t *testing.T) {
	t.Parallel()
	check := func(t *testing.T, s *Sandbox, why string) {
		t.Helper()
		out := run(t, s, "echo command-ran")
		if out.ExitCode != ActivateFailedExit || !strings.Contains(out.Text, activateFailedMessage) ||
			strings.Contains(out.Text, "command-ran") || !strings.Contains(out.Text, why) {
			t.Errorf("failed activation: exit %d, output %q (want exit %d, %q and %q, and no command output)",
				out.ExitCode, out.Text, ActivateFailedExit, why, activateFailedMessage)
		}
	}
	t.Run("workspace", func(t *testing.T) {
		t.Parallel()
		f, _ := imageFactory(t, sandbox.Workspace{Image: DefaultBaseImage, Activate: "echo no-env >&2; false"}, nil)
		check(t, start(t, f, "ws"), "no-env")
	})
	t.Run("image", func(t *testing.T) {
		t.Parallel()
		sandboxtest.RequireDocker(t, officialTestImage)
		// The official layout with an activate script that fails when sourced.
		img := derivedImage(t, officialTestImage, condaActivateFile,
			"echo 'activate: broken on purpose' >&2\nreturn 3\n")
		f, _ := imageFactory(t, sandbox.Workspace{Image: img, ImageRoot: "/testbed"}, nil)
		s := start(t, f, "broken")
		if s.activate != CondaActivate {
			t.Fatalf("prelude %q, want the conda one (the layout is there)", s.activate)
		}
		check(t, s, "broken on purpose")
	})
}

// Concurrent Starts of one image probe it once, and the warm pool's sandboxes
// are activated too.
func TestActivateProbesOncePerImage(t *testing.T) {
	t.Parallel()
	f, probes := imageFactory(t, sandbox.Workspace{Image: officialTestImage, ImageRoot: "/testbed"},
		func(c *Config) { c.WarmPool = 1 })
	const n = 3
	var wg sync.WaitGroup
	sbs := make([]sandbox.Sandbox, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { sbs[i], errs[i] = f.Start(context.Background(), sandboxtest.Spec("once")) })
	}
	wg.Wait()
	for i, s := range sbs {
		if s != nil {
			t.Cleanup(func() { s.Close(context.Background()) })
		}
		if errs[i] != nil {
			t.Fatalf("start %d: %v", i, errs[i])
		}
	}
	for i, s := range sbs {
		if got := mustRun(t, s.(*Sandbox), "command -v python"); got != envPython+"\n" {
			t.Errorf("sandbox %d: command -v python = %q", i, got)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := f.pool.waitReady(ctx, poolKey{image: officialTestImage, task: "once"}, 1); err != nil {
		t.Fatalf("pool never filled: %v", err)
	}
	warm := start(t, f, "once")
	if got := mustRun(t, warm, "command -v python"); got != envPython+"\n" {
		t.Errorf("warm sandbox: command -v python = %q", got)
	}
	if got := probes.Load(); got != 1 {
		t.Errorf("image probed %d times by %d Starts, want 1", got, n+1)
	}
}

// derivedImage commits from an image a new one with one file replaced, removed at
// the test's end, and returns its name.
func derivedImage(t *testing.T, from, file, content string) string {
	t.Helper()
	cli := testClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{Config: &container.Config{Image: from, Cmd: []string{"true"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.ContainerRemove(context.Background(), r.ID, client.ContainerRemoveOptions{Force: true})
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: strings.TrimPrefix(file, "/"), Size: int64(len(content)), Mode: 0o644})
	tw.Write([]byte(content))
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.CopyToContainer(ctx, r.ID, client.CopyToContainerOptions{DestinationPath: "/", Content: &buf}); err != nil {
		t.Fatal(err)
	}
	name := "swerl-test-derived:" + randomID()
	if _, err := cli.ContainerCommit(ctx, r.ID, client.ContainerCommitOptions{Reference: name}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cli.ImageRemove(context.Background(), name, client.ImageRemoveOptions{Force: true, PruneChildren: true})
	})
	return name
}
