package swe

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/sandbox"
)

// TestGrader grades patches the way the SWE-bench harness does, in a fresh sandbox
// of the task: apply the agent's patch, put the test files the test patch touches
// back to the base commit (the test patch wins over any edit of the agent's), apply
// the test patch, run the task's tests, parse the log, apply the resolved rule.
//
// A patch that does not apply, a test run past TestTimeout, a broken repository:
// each is a verdict (not resolved, with the reason in Detail). Only infrastructure
// failures are errors, which the engine retries and never turns into reward 0: a
// sandbox that will not start or dies, and a test runner that does not run at all
// (a *RunnerError). When the runner does not run with a non-empty patch, the grader
// makes a control run in another fresh sandbox without that patch: if the tests
// run there, the patch broke them (a verdict); if not, the environment is at fault
// (a *RunnerError). An empty patch's run is its own control.
//
// Grade may be called concurrently; the fields must not change once it is.
type TestGrader struct {
	Sandboxes sandbox.Factory
	Tasks     map[string]Task
	// TestTimeout bounds the test run (default 15 minutes).
	TestTimeout time.Duration
	// LogLimit is the largest test log read back (default 64 MiB).
	LogLimit int64
	// KeepLogs, when set, is a directory (created when needed) where the test log
	// of every run is written, as <instance_id>.a<attempt>.t<try>.log, with
	// .k<iteration>.g<group>.s<sample> after the instance id when the episode's
	// key is not zero, and .control.log for a control run. A log that cannot be
	// written there fails the grade.
	KeepLogs string
}

// NewTestGrader returns a grader for tasks.
func NewTestGrader(f sandbox.Factory, tasks []Task) *TestGrader {
	m := make(map[string]Task, len(tasks))
	for _, t := range tasks {
		m[t.InstanceID] = t
	}
	return &TestGrader{Sandboxes: f, Tasks: m}
}

// Files the grader writes, next to the repository (not inside it).
const (
	modelPatchFile = "../.swerl-grade/model.patch"
	testPatchFile  = "../.swerl-grade/test.patch"
	testLogFile    = "../.swerl-grade/test.log"
	testRCFile     = "../.swerl-grade/test.rc" // the test command's exit status
)

// Grade implements Grader. Its errors are infrastructure failures; errors.As finds
// a *RunnerError among them when the task's test runner did not run.
func (g *TestGrader) Grade(ctx context.Context, req messages.GradeRequest) (Verdict, error) {
	task, ok := g.Tasks[req.Task.ID]
	if !ok {
		return Verdict{}, fmt.Errorf("grader: task %q is not in the task file", req.Task.ID)
	}
	spec, err := TestSpec(task)
	if err != nil {
		return Verdict{}, fmt.Errorf("grader: task %s: %w", task.InstanceID, err)
	}
	run, err := g.run(ctx, req, task, spec, false)
	switch {
	case err != nil:
		return Verdict{}, err
	case run.verdict != nil:
		return *run.verdict, nil
	case run.notRun == "":
		rep := Evaluate(task, run.statuses)
		return Verdict{Resolved: rep.Resolved, Detail: rep.Summary()}, nil
	case strings.TrimSpace(req.Patch) == "":
		return Verdict{}, run.runnerError(task.InstanceID, false)
	}
	ctl, err := g.run(ctx, req, task, spec, true)
	switch {
	case err != nil:
		return Verdict{}, fmt.Errorf("grader: control run without the patch: %w", err)
	case ctl.verdict != nil && !ctl.timedOut:
		// The test patch does not apply to the base commit: the task is broken.
		return Verdict{}, fmt.Errorf("grader: task %s: control run without the patch: %s", task.InstanceID, ctl.verdict.Detail)
	case ctl.verdict == nil && ctl.notRun != "":
		return Verdict{}, ctl.runnerError(task.InstanceID, true)
	}
	// The tests run without the patch (or run until the timeout): the patch broke them.
	return Verdict{Detail: "tests did not run with this patch (they run without it): " + logTail(run.log)}, nil
}

// testRun is what one run of a task's tests showed.
type testRun struct {
	// verdict is set when the run ended before the resolved rule could apply: a
	// patch that does not apply, tests past the timeout.
	verdict  *Verdict
	timedOut bool // the verdict is a timeout
	statuses map[string]TestStatus
	exit     int    // the test command's status, -1 when not known
	log      string // the tail of the log that was read back
	logPath  string // where the log was kept, "" when not
	notRun   string // why the runner did not run (runnerDidNotRun), "" when it ran
}

func (r testRun) runnerError(task string, control bool) *RunnerError {
	return &RunnerError{Task: task, ExitCode: r.exit, Reason: r.notRun, Tail: logTail(r.log), LogPath: r.logPath, Control: control}
}

// run grades req's patch, or no patch for a control run, in a fresh sandbox.
func (g *TestGrader) run(ctx context.Context, req messages.GradeRequest, task Task, spec Spec, control bool) (testRun, error) {
	sb, err := g.Sandboxes.Start(ctx, sandbox.Spec{Task: req.Task, Ref: req.Ref, Attempt: req.Attempt, Purpose: sandbox.ForGrade})
	if err != nil {
		return testRun{}, fmt.Errorf("grader sandbox: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		sb.Close(cctx)
	}()
	patch := req.Patch
	if control {
		patch = ""
	}
	return g.grade(ctx, sb, task, spec, patch, g.logPath(req, task.InstanceID, control))
}

func (g *TestGrader) testTimeout() time.Duration {
	if g.TestTimeout <= 0 {
		return 15 * time.Minute
	}
	return g.TestTimeout
}

// grade runs the tests over patch in sb; keep is where the log goes ("" for nowhere).
func (g *TestGrader) grade(ctx context.Context, sb sandbox.Sandbox, task Task, spec Spec, patch, keep string) (testRun, error) {
	verdict := func(detail string) (testRun, error) { return testRun{verdict: &Verdict{Detail: detail}}, nil }
	run := func(cmd string) (sandbox.Output, error) {
		out, err := sb.Exec(ctx, cmd)
		if err != nil {
			return out, fmt.Errorf("grader sandbox: %w", err)
		}
		return out, nil
	}
	if strings.TrimSpace(patch) != "" {
		if err := sb.WriteFile(ctx, modelPatchFile, []byte(patch)); err != nil {
			return testRun{}, fmt.Errorf("grader sandbox: writing the patch: %w", err)
		}
		out, err := run(ApplyScript(modelPatchFile))
		if err != nil {
			return testRun{}, err
		}
		if out.ExitCode != 0 {
			return verdict("patch does not apply: " + lastLines(out.Text, 12))
		}
	}
	// The test patch wins: its files go back to the base commit before it applies.
	var restore strings.Builder
	for _, f := range touchedPaths(task.TestPatch) {
		fmt.Fprintf(&restore, "if git cat-file -e %s:%s 2>/dev/null; then git checkout -q %s -- %s; else rm -rf -- %s; fi\n",
			sandbox.Quote(task.BaseCommit), sandbox.Quote(f), sandbox.Quote(task.BaseCommit), sandbox.Quote(f), sandbox.Quote(f))
	}
	if err := sb.WriteFile(ctx, testPatchFile, []byte(task.TestPatch)); err != nil {
		return testRun{}, fmt.Errorf("grader sandbox: writing the test patch: %w", err)
	}
	out, err := run(restore.String() + "git apply --verbose " + sandbox.Quote(testPatchFile))
	if err != nil {
		return testRun{}, err
	}
	if out.ExitCode != 0 {
		return verdict("test patch does not apply over the agent's patch: " + lastLines(out.Text, 12))
	}
	timeout := g.testTimeout()
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	limit := g.LogLimit
	if limit <= 0 {
		limit = 64 << 20
	}
	// The command runs in a subshell whose status goes to testRCFile (a pipeline's
	// status would be tail's); the log keeps its last limit bytes: the runners'
	// summaries come at the end.
	_, err = sb.Exec(tctx, fmt.Sprintf("rm -f %[1]s\n{ (\n%[2]s\n) </dev/null 2>&1; echo $? > %[1]s; } | tail -c %[3]d > %[4]s",
		sandbox.Quote(testRCFile), withInstall(spec), limit, sandbox.Quote(testLogFile)))
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return testRun{}, ctx.Err()
	case errors.Is(err, context.DeadlineExceeded):
		// What the tests printed before the timeout is kept when it can be read.
		if log, rerr := sb.ReadFile(ctx, testLogFile, limit); rerr == nil {
			if _, kerr := g.keepLog(keep, log); kerr != nil {
				return testRun{}, kerr
			}
		}
		return testRun{verdict: &Verdict{Detail: fmt.Sprintf("tests timed out after %s", timeout)}, timedOut: true}, nil
	default:
		return testRun{}, fmt.Errorf("grader sandbox: running tests: %w", err)
	}
	log, err := sb.ReadFile(ctx, testLogFile, limit)
	if err != nil {
		return testRun{}, fmt.Errorf("grader sandbox: reading the test log: %w", err)
	}
	r := testRun{log: string(log), exit: readExitCode(ctx, sb)}
	if r.logPath, err = g.keepLog(keep, log); err != nil {
		return testRun{}, err
	}
	if r.statuses, err = ParseLog(spec.Parser, r.log); err != nil {
		return testRun{}, fmt.Errorf("grader: task %s: %w", task.InstanceID, err)
	}
	r.notRun = runnerDidNotRun(task, r.statuses, r.exit, r.log)
	return r, nil
}

// readExitCode returns the status the test command left in testRCFile, -1 when
// there is none (the shell was killed before writing it).
func readExitCode(ctx context.Context, sb sandbox.Sandbox) int {
	b, err := sb.ReadFile(ctx, testRCFile, 64)
	if err != nil {
		return -1
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return -1
	}
	return n
}

// logPath is where the log of req's run is kept, "" when KeepLogs is not set.
func (g *TestGrader) logPath(req messages.GradeRequest, task string, control bool) string {
	if g.KeepLogs == "" {
		return ""
	}
	name := strings.NewReplacer("/", "_", "\\", "_").Replace(task)
	if k := req.Ref.Key(); k != (messages.EpisodeKey{}) {
		name += fmt.Sprintf(".k%d.g%d.s%d", k.Iteration, k.Group, k.Sample)
	}
	name += fmt.Sprintf(".a%d.t%d", req.Attempt, req.Try)
	if control {
		name += ".control"
	}
	return filepath.Join(g.KeepLogs, name+".log")
}

// keepLog writes log to path (creating its directory) and returns path; it does
// nothing for "".
func (g *TestGrader) keepLog(path string, log []byte) (string, error) {
	if path == "" {
		return "", nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", fmt.Errorf("grader: keeping the test log: %w", err)
	}
	if err := os.WriteFile(path, log, 0o644); err != nil {
		return "", fmt.Errorf("grader: keeping the test log: %w", err)
	}
	return path, nil
}

// touchedPaths lists every path a patch names, on either side (deleted and renamed
// files included), each once.
func touchedPaths(patch string) []string {
	seen := map[string]bool{}
	var out []string
	add := func(p string) {
		if p != "" && p != "/dev/null" && !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, p := range PatchFiles(patch) {
		add(p)
	}
	for _, l := range strings.Split(patch, "\n") {
		if strings.HasPrefix(l, "--- a/") {
			add(strings.TrimSpace(strings.TrimPrefix(l, "--- a/")))
		}
	}
	return out
}

// ApplyScript applies the patch file at path in the repository: git apply, then
// patch(1) with fuzz, as the SWE-bench harness tries them.
func ApplyScript(path string) string {
	p := sandbox.Quote(path)
	return fmt.Sprintf("git apply --verbose %s 2>&1 || patch --batch --fuzz=5 -p1 -i %s 2>&1", p, p)
}

// withInstall runs the task's eval commands and install step (install_config's
// eval_commands and install, as the SWE-bench eval script runs them over the
// patched tree) before its tests.
func withInstall(spec Spec) string {
	var b strings.Builder
	for _, part := range []string{spec.Eval, spec.Install} {
		if strings.TrimSpace(part) != "" {
			b.WriteString(part + "\n")
		}
	}
	return b.String() + spec.Command
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

var _ Grader = (*TestGrader)(nil)
