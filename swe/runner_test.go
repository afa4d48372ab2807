package swe_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
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

// Backends the runner tests run on.
const (
	onLocal  = "local"
	onDocker = "docker"
)

// runnerGrader is newGrader on either backend, with the repository's extra files
// (executable ones listed in exec) and KeepLogs set to a temporary directory.
func runnerGrader(t *testing.T, backend string, extra map[string]string, exec []string, edit func(*swe.Task)) (*swe.TestGrader, swe.Task) {
	t.Helper()
	ctx := context.Background()
	files := map[string]string{}
	for k, v := range taskRepo {
		files[k] = v
	}
	for k, v := range extra {
		files[k] = v
	}
	repo := t.TempDir()
	if err := checkout.WriteFiles(repo, bytesOf(files)); err != nil {
		t.Fatal(err)
	}
	for _, p := range exec {
		if err := os.Chmod(filepath.Join(repo, p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	commit, err := checkout.Commit(ctx, repo, nil)
	if err != nil {
		t.Fatal(err)
	}
	scratch, _ := sandboxtest.Repo(t, files)
	gold, err := checkout.Diff(ctx, scratch, bytesOf(taskGold))
	if err != nil {
		t.Fatal(err)
	}
	tests, err := checkout.Diff(ctx, scratch, bytesOf(taskTests))
	if err != nil {
		t.Fatal(err)
	}
	task := swe.Task{InstanceID: "clamp-1", Repo: "swerl/clamp", BaseCommit: commit, Patch: gold, TestPatch: tests,
		ProblemStatement: "clamp ignores hi", FailToPass: swe.TestList{"tests/test_clamp.py::test_high"},
		PassToPass: swe.TestList{"tests/test_clamp.py::test_low", "tests/test_clamp.py::test_inside"},
		Meta:       []byte(`{"language":"python"}`)}
	if edit != nil {
		edit(&task)
	}
	res := sandboxtest.Resolver{Workspace: sandbox.Workspace{Checkout: repo, BaseCommit: commit, Env: swe.EnvFor(task)}}
	var f sandbox.Factory
	switch backend {
	case onLocal:
		lf, err := local.New(local.Config{Resolver: res, Dir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		f = lf
	case onDocker:
		sandboxtest.RequireDocker(t, docker.DefaultBaseImage)
		df, err := docker.New(ctx, docker.Config{Resolver: res, RunID: "swetest-" + local.RandomID()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := df.Close(cctx); err != nil {
				t.Errorf("docker factory close: %v", err)
			}
		})
		f = df
	default:
		t.Fatalf("backend %q", backend)
	}
	g := swe.NewTestGrader(f, []swe.Task{task})
	g.KeepLogs = filepath.Join(t.TempDir(), "logs", "nested")
	return g, task
}

// gradeErr grades patch and returns the verdict and error as they come.
func gradeErr(g *swe.TestGrader, task swe.Task, patch string, attempt int) (swe.Verdict, error) {
	return g.Grade(context.Background(), messages.GradeRequest{Ref: messages.EpisodeRef{TaskID: task.InstanceID},
		Attempt: attempt, Try: 1, Task: task.Ref(), Patch: patch})
}

// wantRunnerError checks that err is a *RunnerError (wrapped or not) with reason and
// a log tail holding inTail, and that the log it names is on disk.
func wantRunnerError(t *testing.T, err error, control bool, reason, inTail string) *swe.RunnerError {
	t.Helper()
	var re *swe.RunnerError
	if !errors.As(wrapped(err), &re) {
		t.Fatalf("err = %v, want a *swe.RunnerError", err)
	}
	if re.Control != control || !strings.Contains(re.Reason, reason) || !strings.Contains(re.Tail, inTail) {
		t.Fatalf("RunnerError %+v: want control %v, reason %q, %q in the tail", re, control, reason, inTail)
	}
	msg := re.Error()
	for _, want := range []string{re.Task, re.Reason, inTail, re.LogPath, "fix: "} {
		if !strings.Contains(msg, want) {
			t.Errorf("Error() lacks %q:\n%s", want, msg)
		}
	}
	if re.LogPath == "" {
		t.Fatalf("no kept log named: %+v", re)
	}
	log, rerr := os.ReadFile(re.LogPath)
	if rerr != nil || !strings.Contains(string(log), inTail) {
		t.Fatalf("kept log %s: %v\n%s", re.LogPath, rerr, log)
	}
	return re
}

// wrapped wraps err as a caller up the stack would, so errors.As is what finds it.
func wrapped(err error) error {
	if err == nil {
		return nil
	}
	return errors.Join(errors.New("grading"), err)
}

// A runner that is not installed: an infrastructure failure for the empty patch
// and for the gold patch (whose control run fails the same way), never a verdict.
func testRunnerNotFound(t *testing.T, backend string) {
	g, task := runnerGrader(t, backend, nil, nil, func(task *swe.Task) {
		task.InstallConfig = &swe.InstallConfig{TestCmd: "no-such-runner -rA", LogParser: "pytest"}
	})
	v, err := gradeErr(g, task, "", 2)
	re := wantRunnerError(t, err, false, "exit 127", "no-such-runner")
	if v.Resolved || re.ExitCode != 127 || filepath.Base(re.LogPath) != "clamp-1.a2.t1.log" {
		t.Errorf("empty patch: verdict %+v, error %+v", v, re)
	}
	_, err = gradeErr(g, task, task.Patch, 1)
	re = wantRunnerError(t, err, true, "exit 127", "no-such-runner")
	if filepath.Base(re.LogPath) != "clamp-1.a1.t1.control.log" {
		t.Errorf("control log at %s", re.LogPath)
	}
	if _, err := os.Stat(filepath.Join(g.KeepLogs, "clamp-1.a1.t1.log")); err != nil {
		t.Errorf("the patched run's log was not kept: %v", err)
	}
}

func TestGraderRunnerNotFoundLocal(t *testing.T)  { testRunnerNotFound(t, onLocal) }
func TestGraderRunnerNotFoundDocker(t *testing.T) { testRunnerNotFound(t, onDocker) }

// sympy's case: bin/test starts with `#!/usr/bin/env python`, and there is no such
// interpreter.
func TestGraderRunnerScriptInterpreterMissing(t *testing.T) {
	g, task := runnerGrader(t, onLocal, map[string]string{"bin/test": "#!/usr/bin/env no-such-python\nprint('never')\n"},
		[]string{"bin/test"}, func(task *swe.Task) {
			task.InstallConfig = &swe.InstallConfig{TestCmd: "bin/test -C --verbose", LogParser: "pytest"}
		})
	for _, patch := range []string{"", task.Patch} {
		_, err := gradeErr(g, task, patch, 1)
		wantRunnerError(t, err, patch != "", "exit 127", "no-such-python")
	}
}

// A runner that starts and dies on a missing module before collecting a test.
func TestGraderRunnerImportError(t *testing.T) {
	g, task := runnerGrader(t, onLocal, nil, nil, func(task *swe.Task) {
		task.InstallConfig = &swe.InstallConfig{TestCmd: "python3 -c 'import swerl_no_such_dependency' && python3 -m pytest -rA", LogParser: "pytest"}
	})
	_, err := gradeErr(g, task, "", 2)
	re := wantRunnerError(t, err, false, "import error before collection", "swerl_no_such_dependency")
	if re.ExitCode != 1 {
		t.Errorf("exit code %d, want 1", re.ExitCode)
	}
}

// A patch that breaks the package's import while the runner works is the patch's
// fault: a verdict, with both runs' logs kept.
func testPatchBreaksImport(t *testing.T, backend string) {
	g, task := runnerGrader(t, backend, nil, nil, nil)
	scratch, _ := sandboxtest.Repo(t, taskRepo)
	broken, err := checkout.Diff(context.Background(), scratch, map[string][]byte{
		"clamp/__init__.py": []byte("import swerl_no_such_module\n")})
	if err != nil {
		t.Fatal(err)
	}
	v, err := gradeErr(g, task, broken, 1)
	if err != nil {
		t.Fatalf("a patch that breaks the import is an error, want a verdict: %v", err)
	}
	if v.Resolved || !strings.HasPrefix(v.Detail, "tests did not run with this patch (they run without it): ") ||
		!strings.Contains(v.Detail, "swerl_no_such_module") {
		t.Fatalf("verdict %+v", v)
	}
	for _, name := range []string{"clamp-1.a1.t1.log", "clamp-1.a1.t1.control.log"} {
		if _, err := os.Stat(filepath.Join(g.KeepLogs, name)); err != nil {
			t.Errorf("log %s not kept: %v", name, err)
		}
	}
	// The tests run and find the bug: the ordinary verdict, its log kept too.
	if v, err := gradeErr(g, task, "", 2); err != nil || v.Resolved || !strings.Contains(v.Detail, "FAIL_TO_PASS 0/1") {
		t.Fatalf("empty patch: %+v, %v", v, err)
	}
	if log, err := os.ReadFile(filepath.Join(g.KeepLogs, "clamp-1.a2.t1.log")); err != nil || !strings.Contains(string(log), "test_high") {
		t.Errorf("empty patch's log: %v\n%s", err, log)
	}
}

func TestGraderPatchBreaksImportLocal(t *testing.T)  { testPatchBreaksImport(t, onLocal) }
func TestGraderPatchBreaksImportDocker(t *testing.T) { testPatchBreaksImport(t, onDocker) }

// Logs of episodes in a run carry the episode's key, so a group's samples do not
// overwrite each other's.
func TestGraderKeepLogsNamesEpisodes(t *testing.T) {
	g, task := runnerGrader(t, onLocal, nil, nil, nil)
	v, err := g.Grade(context.Background(), messages.GradeRequest{Ref: messages.EpisodeRef{Iteration: 3, Group: 1, Sample: 4, TaskID: task.InstanceID},
		Attempt: 2, Try: 3, Task: task.Ref(), Patch: task.Patch})
	if err != nil || !v.Resolved {
		t.Fatalf("gold: %+v %v", v, err)
	}
	if _, err := os.Stat(filepath.Join(g.KeepLogs, "clamp-1.k3.g1.s4.a2.t3.log")); err != nil {
		t.Error(err)
	}
}
