package swe_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/sandbox"
	"github.com/swerl/swerl/sandbox/local"
	"github.com/swerl/swerl/sandbox/sandboxtest"
	"github.com/swerl/swerl/swe"
	"github.com/swerl/swerl/swe/checkout"
)

// A small Python task: clamp() ignores its upper bound.
var (
	taskRepo = map[string]string{
		"clamp/__init__.py": "def clamp(x, lo, hi):\n    if x < lo:\n        return lo\n    return x\n",
		"tests/test_clamp.py": "from clamp import clamp\n\n\ndef test_low():\n    assert clamp(-5, 0, 10) == 0\n\n\n" +
			"def test_inside():\n    assert clamp(5, 0, 10) == 5\n",
	}
	taskGold = map[string]string{
		"clamp/__init__.py": "def clamp(x, lo, hi):\n    if x < lo:\n        return lo\n    if x > hi:\n        return hi\n    return x\n",
	}
	taskTests = map[string]string{
		"tests/test_clamp.py": taskRepo["tests/test_clamp.py"] + "\n\ndef test_high():\n    assert clamp(50, 0, 10) == 10\n",
	}
)

func bytesOf(m map[string]string) map[string][]byte {
	out := map[string][]byte{}
	for k, v := range m {
		out[k] = []byte(v)
	}
	return out
}

// newGrader makes the task's repository, its patches, and a grader over the local
// backend; edit changes the task before it is used.
func newGrader(t *testing.T, edit func(*swe.Task)) (*swe.TestGrader, swe.Task) {
	t.Helper()
	repo, commit := sandboxtest.Repo(t, taskRepo)
	scratch, _ := sandboxtest.Repo(t, taskRepo)
	ctx := context.Background()
	gold, err := checkout.Diff(ctx, scratch, bytesOf(taskGold))
	if err != nil {
		t.Fatal(err)
	}
	tests, err := checkout.Diff(ctx, scratch, bytesOf(taskTests))
	if err != nil {
		t.Fatal(err)
	}
	meta, _ := json.Marshal(map[string]string{"language": "python"})
	task := swe.Task{InstanceID: "clamp-1", Repo: "swerl/clamp", BaseCommit: commit, Patch: gold, TestPatch: tests,
		ProblemStatement: "clamp ignores hi", FailToPass: swe.TestList{"tests/test_clamp.py::test_high"},
		PassToPass: swe.TestList{"tests/test_clamp.py::test_low", "tests/test_clamp.py::test_inside"}, Meta: meta}
	if edit != nil {
		edit(&task)
	}
	f, err := local.New(local.Config{Resolver: sandboxtest.Resolver{Workspace: sandbox.Workspace{Checkout: repo, BaseCommit: commit, Env: swe.EnvFor(task)}}, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return swe.NewTestGrader(f, []swe.Task{task}), task
}

func grade(t *testing.T, g *swe.TestGrader, task swe.Task, patch string) swe.Verdict {
	t.Helper()
	v, err := g.Grade(context.Background(), messages.GradeRequest{Ref: messages.EpisodeRef{TaskID: task.InstanceID}, Attempt: 1, Try: 1, Task: task.Ref(), Patch: patch})
	if err != nil {
		t.Fatalf("grade: %v", err)
	}
	return v
}

func TestGraderGoldAndEmpty(t *testing.T) {
	g, task := newGrader(t, nil)
	if v := grade(t, g, task, task.Patch); !v.Resolved {
		t.Fatalf("gold patch not resolved: %s", v.Detail)
	}
	if v := grade(t, g, task, ""); v.Resolved || !strings.Contains(v.Detail, "test_high") {
		t.Fatalf("empty patch: %+v", v)
	}
}

func TestGraderBadPatches(t *testing.T) {
	g, task := newGrader(t, nil)
	cases := map[string]string{
		"garbage":      "this is not a diff\n",
		"missing file": strings.ReplaceAll(task.Patch, "clamp/__init__.py", "clamp/nothere.py"),
	}
	for name, patch := range cases {
		if v := grade(t, g, task, patch); v.Resolved || !strings.Contains(v.Detail, "patch does not apply") {
			t.Errorf("%s: %+v", name, v)
		}
	}
}

// An agent that edits the tests so they pass gains nothing: the test patch wins.
func TestGraderTestPatchWins(t *testing.T) {
	g, task := newGrader(t, nil)
	scratch, _ := sandboxtest.Repo(t, taskRepo)
	cheat, err := checkout.Diff(context.Background(), scratch, map[string][]byte{
		"tests/test_clamp.py": []byte("def test_high():\n    assert True\n"),
		"tests/conftest.py":   []byte("# the agent's own\n"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if v := grade(t, g, task, cheat); v.Resolved {
		t.Fatalf("edited tests resolved the task: %s", v.Detail)
	}
	if v := grade(t, g, task, task.Patch+cheat[strings.Index(cheat, "diff --git a/tests/test_clamp.py"):]); !v.Resolved {
		t.Fatalf("the fix plus an edit of the tests should resolve (the test patch replaces the edit): %s", v.Detail)
	}
}

// An agent that deletes the repository's files gets a verdict, not an error.
func TestGraderDeletedRepository(t *testing.T) {
	g, task := newGrader(t, nil)
	scratch, _ := sandboxtest.Repo(t, taskRepo)
	if _, err := checkout.Git(context.Background(), scratch, "rm", "-rq", "."); err != nil {
		t.Fatal(err)
	}
	gone, _ := checkout.Git(context.Background(), scratch, "diff", "--cached", "HEAD")
	if v := grade(t, g, task, gone); v.Resolved {
		t.Fatalf("deleting everything resolved the task: %s", v.Detail)
	}
}

func TestGraderHangingTests(t *testing.T) {
	marker := "swerl-grade-hang-" + local.RandomID()
	g, task := newGrader(t, func(task *swe.Task) {
		task.InstallConfig = &swe.InstallConfig{TestCmd: "sleep 300 # " + marker, LogParser: "pytest"}
	})
	// Met on any machine, since the tests never end; the bound below, on the whole
	// grading (sandbox, patches, tests), is far beyond a slow, loaded machine's time
	// and far below the 300 s of the hanging tests.
	g.TestTimeout = time.Second
	begin := time.Now()
	v := grade(t, g, task, task.Patch)
	if v.Resolved || !strings.Contains(v.Detail, "timed out") {
		t.Fatalf("hanging tests: %+v", v)
	}
	if time.Since(begin) > 2*time.Minute {
		t.Fatalf("grading a hanging test took %s", time.Since(begin))
	}
	if ps := sandboxtest.Processes(t, marker); len(ps) > 0 {
		t.Fatalf("test processes survived: %v", ps)
	}
}

func TestGraderHugeTestOutput(t *testing.T) {
	g, task := newGrader(t, func(task *swe.Task) {
		task.InstallConfig = &swe.InstallConfig{TestCmd: "head -c 100000000 /dev/zero | tr '\\0' x; echo; python3 -m pytest -rA -p no:cacheprovider", LogParser: "pytest"}
	})
	g.LogLimit = 1 << 20
	if v := grade(t, g, task, task.Patch); !v.Resolved {
		t.Fatalf("100 MB of noise before the test summary: %+v", v)
	}
}

// A test patch that deletes a test file the agent edited still applies: the file is
// reset to the base commit first.
func TestGraderTestPatchDeletingAFile(t *testing.T) {
	g, task := newGrader(t, nil)
	scratch, _ := sandboxtest.Repo(t, taskRepo)
	if err := os.Remove(filepath.Join(scratch, "tests/test_clamp.py")); err != nil {
		t.Fatal(err)
	}
	tests, err := checkout.Diff(context.Background(), scratch, map[string][]byte{
		"tests/test_bounds.py": []byte(taskTests["tests/test_clamp.py"]),
	})
	if err != nil {
		t.Fatal(err)
	}
	task.TestPatch = tests
	task.FailToPass = swe.TestList{"tests/test_bounds.py::test_high"}
	task.PassToPass = swe.TestList{"tests/test_bounds.py::test_low"}
	g.Tasks[task.InstanceID] = task
	edit, err := checkout.Diff(context.Background(), scratch, map[string][]byte{"tests/test_clamp.py": []byte("# the agent's edit\n")})
	if err != nil {
		t.Fatal(err)
	}
	if v := grade(t, g, task, task.Patch+edit); !v.Resolved {
		t.Fatalf("%s", v.Detail)
	}
}

// TestGraderRunsEvalCommandsFirst: install_config.eval_commands run before the
// tests in the same shell, as the harness's eval script runs them. Here they narrow
// pytest to the PASS_TO_PASS test, so the gold patch's FAIL_TO_PASS test is missing
// and the gold patch is not resolved: a grade the eval commands decide.
func TestGraderRunsEvalCommandsFirst(t *testing.T) {
	g, task := newGrader(t, func(task *swe.Task) {
		line := `{"eval_commands": ["echo preparing", "export PYTEST_ADDOPTS='-k test_low'"]}`
		task.InstallConfig = new(swe.InstallConfig)
		if err := json.Unmarshal([]byte(line), task.InstallConfig); err != nil {
			t.Fatal(err)
		}
	})
	if got := task.InstallConfig.EvalCommands; got != "echo preparing\nexport PYTEST_ADDOPTS='-k test_low'" {
		t.Fatalf("eval_commands decoded as %q", got)
	}
	if v := grade(t, g, task, task.Patch); v.Resolved || !strings.Contains(v.Detail, "FAIL_TO_PASS 0/1") {
		t.Errorf("gold with eval commands that deselect test_high = %+v, want unresolved with FAIL_TO_PASS 0/1", v)
	}
	task.InstallConfig = nil
	g2, _ := newGrader(t, nil)
	if v := grade(t, g2, task, task.Patch); !v.Resolved {
		t.Errorf("gold without eval commands = %+v, want resolved", v)
	}
}
