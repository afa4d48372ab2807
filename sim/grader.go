package sim

import (
	"context"
	"fmt"
	"strings"

	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/swe"
)

// Grader judges patches of sim tasks: it applies the patch to a fresh copy of the
// task's repository and runs every test of the task with the interpreter. Resolved
// iff the patch applies and every test passes (the bug fixed, nothing else broken).
// Grade may be called concurrently.
type Grader struct {
	tasks map[string]Task
}

// NewGrader returns a grader for tasks (by ID).
func NewGrader(tasks []Task) *Grader {
	m := make(map[string]Task, len(tasks))
	for _, t := range tasks {
		m[t.ID] = t
	}
	return &Grader{tasks: m}
}

// Grade implements swe.Grader. An unknown task is an error (the grader cannot
// judge); everything about the patch is a verdict.
func (g *Grader) Grade(ctx context.Context, req messages.GradeRequest) (swe.Verdict, error) {
	if err := ctx.Err(); err != nil {
		return swe.Verdict{}, err
	}
	t, ok := g.tasks[req.Task.ID]
	if !ok {
		return swe.Verdict{}, fmt.Errorf("sim: grader has no task %q", req.Task.ID)
	}
	return t.Grade(req.Patch), nil
}

// Grade judges a patch against the task (see Grader).
func (t Task) Grade(patch string) swe.Verdict {
	files, err := applyPatch(t.files, patch)
	if err != nil {
		return swe.Verdict{Detail: err.Error()}
	}
	_, failed := runTests(parseProgram(files), t.tests)
	if len(failed) > 0 {
		return swe.Verdict{Detail: fmt.Sprintf("%d of %d tests fail: %s", len(failed), len(t.tests), strings.Join(failed, " "))}
	}
	return swe.Verdict{Resolved: true, Detail: fmt.Sprintf("all %d tests pass", len(t.tests))}
}

// GoldPatch returns the patch that undoes the bug.
func (t Task) GoldPatch() string {
	files := t.Files()
	lines := splitLines(files[t.Bug.File])
	lines[t.Bug.Line-1] = t.Bug.Fix
	files[t.Bug.File] = strings.Join(lines, "\n") + "\n"
	return unifiedDiff(t.files, files)
}

var _ swe.Grader = (*Grader)(nil)
