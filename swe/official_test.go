package swe_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/sandbox"
	"github.com/swerl/swerl/sandbox/docker"
	"github.com/swerl/swerl/sandbox/local"
	"github.com/swerl/swerl/sandbox/sandboxtest"
	"github.com/swerl/swerl/swe"
	"github.com/swerl/swerl/swe/checkout"
)

// officialImage stands in for an official SWE-bench evaluation image: the
// repository at /testbed, its environment in the conda env testbed, and `python`
// only there (scripts/build-official-test-image.sh).
const officialImage = "swerl-official-test:latest"

// dockerFactory returns a docker sandbox factory over res, closed at the test's end.
func dockerFactory(t *testing.T, res sandbox.Resolver) *docker.Factory {
	t.Helper()
	f, err := docker.New(context.Background(), docker.Config{Resolver: res, RunID: "swetest-" + local.RandomID()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := f.Close(ctx); err != nil {
			t.Errorf("factory close: %v", err)
		}
	})
	return f
}

// officialPatches makes, in a sandbox of the image itself, the task's patches: the
// fix of clamp (gold) and a test of the upper bound (test patch). It returns them
// with the image's base commit.
func officialPatches(t *testing.T) (base, gold, tests string) {
	t.Helper()
	ctx := context.Background()
	f := dockerFactory(t, sandboxtest.Resolver{Workspace: sandbox.Workspace{Image: officialImage, ImageRoot: "/testbed", BaseCommit: "HEAD"}})
	sb, err := f.Start(ctx, sandboxtest.Spec("official-prep"))
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close(ctx)
	exec := func(cmd string) string {
		t.Helper()
		out, err := sb.Exec(ctx, cmd)
		if err != nil || out.ExitCode != 0 {
			t.Fatalf("exec %q: exit %d, %v: %s", cmd, out.ExitCode, err, out.Text)
		}
		return out.Text
	}
	diff := func() string {
		t.Helper()
		d, err := sb.Diff(ctx)
		if err != nil || d == "" {
			t.Fatalf("diff: %q, %v", d, err)
		}
		return d
	}
	base = strings.TrimSpace(exec("git rev-parse HEAD"))
	fixed := "\"\"\"Small range helpers.\"\"\"\n\n\ndef clamp(x, lo, hi):\n    \"\"\"Returns x limited to [lo, hi].\"\"\"\n" +
		"    if x < lo:\n        return lo\n    if x > hi:\n        return hi\n    return x\n"
	if err := sb.WriteFile(ctx, "rangeutil/__init__.py", []byte(fixed)); err != nil {
		t.Fatal(err)
	}
	gold = diff()
	exec("git reset -q --hard HEAD && printf '\\n\\ndef test_high():\\n    assert clamp(50, 0, 10) == 10\\n' >> tests/test_x.py")
	tests = diff()
	return base, gold, tests
}

// A task whose docker_image is an official evaluation image is graded as the
// harness grades it: the tests run with the image's env activated. The test command
// calls `python`, which exists only in the env, and one pass-to-pass test asserts
// that sys.prefix is the env's.
func TestOfficialImageGradedActivated(t *testing.T) {
	sandboxtest.RequireDocker(t, docker.DefaultBaseImage, officialImage)
	base, gold, tests := officialPatches(t)
	task := swe.Task{
		InstanceID: "rangeutil-1", Repo: "swerl/rangeutil", BaseCommit: base, DockerImage: officialImage,
		Patch: gold, TestPatch: tests, ProblemStatement: "clamp ignores hi",
		FailToPass:    swe.TestList{"tests/test_x.py::test_high"},
		PassToPass:    swe.TestList{"tests/test_x.py::test_runs_in_testbed_env", "tests/test_x.py::test_low", "tests/test_x.py::test_inside"},
		InstallConfig: &swe.InstallConfig{TestCmd: "python -m pytest -rA"},
	}
	spec, err := swe.TestSpec(task)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(spec.Command, "python -m pytest -rA ") {
		t.Fatalf("test command %q does not call python", spec.Command)
	}
	res := checkout.NewResolver(t.TempDir(), []swe.Task{task}, nil)
	g := swe.NewTestGrader(dockerFactory(t, res), []swe.Task{task})
	grade := func(patch string) swe.Verdict {
		t.Helper()
		v, err := g.Grade(context.Background(), messages.GradeRequest{Ref: messages.EpisodeRef{TaskID: task.InstanceID},
			Attempt: 1, Try: 1, Task: task.Ref(), Patch: patch})
		if err != nil {
			t.Fatalf("grade: %v", err)
		}
		return v
	}
	if v := grade(task.Patch); !v.Resolved {
		t.Errorf("gold patch not resolved: %s", v.Detail)
	}
	if v := grade(""); v.Resolved || !strings.Contains(v.Detail, "test_high") {
		t.Errorf("empty patch: %+v", v)
	}
}
