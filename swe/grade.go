package swe

import (
	"context"
	"errors"
	"fmt"
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
// failures (a sandbox that will not start or dies) are errors, which the engine
// retries and never turns into reward 0.
type TestGrader struct {
	Sandboxes sandbox.Factory
	Tasks     map[string]Task
	// TestTimeout bounds the test run (default 15 minutes).
	TestTimeout time.Duration
	// LogLimit is the largest test log read back (default 64 MiB).
	LogLimit int64
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
)

// Grade implements Grader.
func (g *TestGrader) Grade(ctx context.Context, req messages.GradeRequest) (Verdict, error) {
	task, ok := g.Tasks[req.Task.ID]
	if !ok {
		return Verdict{}, fmt.Errorf("grader: task %q is not in the task file", req.Task.ID)
	}
	spec, err := TestSpec(task)
	if err != nil {
		return Verdict{}, fmt.Errorf("grader: task %s: %w", task.InstanceID, err)
	}
	sb, err := g.Sandboxes.Start(ctx, sandbox.Spec{Task: req.Task, Ref: req.Ref, Attempt: req.Attempt, Purpose: sandbox.ForGrade})
	if err != nil {
		return Verdict{}, fmt.Errorf("grader sandbox: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		sb.Close(cctx)
	}()
	return g.grade(ctx, sb, task, spec, req.Patch)
}

func (g *TestGrader) grade(ctx context.Context, sb sandbox.Sandbox, task Task, spec Spec, patch string) (Verdict, error) {
	run := func(cmd string) (sandbox.Output, error) {
		out, err := sb.Exec(ctx, cmd)
		if err != nil {
			return out, fmt.Errorf("grader sandbox: %w", err)
		}
		return out, nil
	}
	if strings.TrimSpace(patch) != "" {
		if err := sb.WriteFile(ctx, modelPatchFile, []byte(patch)); err != nil {
			return Verdict{}, fmt.Errorf("grader sandbox: writing the patch: %w", err)
		}
		out, err := run(ApplyScript(modelPatchFile))
		if err != nil {
			return Verdict{}, err
		}
		if out.ExitCode != 0 {
			return Verdict{Detail: "patch does not apply: " + lastLines(out.Text, 12)}, nil
		}
	}
	// The test patch wins: its files go back to the base commit before it applies.
	var restore strings.Builder
	for _, f := range touchedPaths(task.TestPatch) {
		fmt.Fprintf(&restore, "if git cat-file -e %s:%s 2>/dev/null; then git checkout -q %s -- %s; else rm -rf -- %s; fi\n",
			sandbox.Quote(task.BaseCommit), sandbox.Quote(f), sandbox.Quote(task.BaseCommit), sandbox.Quote(f), sandbox.Quote(f))
	}
	if err := sb.WriteFile(ctx, testPatchFile, []byte(task.TestPatch)); err != nil {
		return Verdict{}, fmt.Errorf("grader sandbox: writing the test patch: %w", err)
	}
	out, err := run(restore.String() + "git apply --verbose " + sandbox.Quote(testPatchFile))
	if err != nil {
		return Verdict{}, err
	}
	if out.ExitCode != 0 {
		return Verdict{Detail: "test patch does not apply over the agent's patch: " + lastLines(out.Text, 12)}, nil
	}
	timeout := g.TestTimeout
	if timeout <= 0 {
		timeout = 15 * time.Minute
	}
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	limit := g.LogLimit
	if limit <= 0 {
		limit = 64 << 20
	}
	// The log keeps its last limit bytes: the runners' summaries come at the end.
	_, err = sb.Exec(tctx, fmt.Sprintf("{\n%s\n} 2>&1 </dev/null | tail -c %d > %s", withInstall(spec), limit, sandbox.Quote(testLogFile)))
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return Verdict{}, ctx.Err()
	case errors.Is(err, context.DeadlineExceeded):
		return Verdict{Detail: fmt.Sprintf("tests timed out after %s", timeout)}, nil
	default:
		return Verdict{}, fmt.Errorf("grader sandbox: running tests: %w", err)
	}
	log, err := sb.ReadFile(ctx, testLogFile, limit)
	if err != nil {
		return Verdict{}, fmt.Errorf("grader sandbox: reading the test log: %w", err)
	}
	statuses, err := ParseLog(spec.Parser, string(log))
	if err != nil {
		return Verdict{}, fmt.Errorf("grader: task %s: %w", task.InstanceID, err)
	}
	rep := Evaluate(task, statuses)
	return Verdict{Resolved: rep.Resolved, Detail: rep.Summary()}, nil
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

// withInstall runs the task's install step (install_config.install, as the SWE-bench
// evaluation script re-runs it over the patched tree) before its tests.
func withInstall(spec Spec) string {
	if strings.TrimSpace(spec.Install) == "" {
		return spec.Command
	}
	return spec.Install + "\n" + spec.Command
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

var _ Grader = (*TestGrader)(nil)
