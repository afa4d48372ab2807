package swe

import (
	"context"

	"github.com/swerl/swerl/messages"
)

// Verdict is a grader's judgement of one patch.
type Verdict struct {
	Resolved bool
	Detail   string // a short human-readable summary (failing tests, "patch does not apply")
}

// Grader judges a patch against a task's tests. A patch that does not apply, failing
// tests and a test timeout are verdicts (Resolved=false, nil error); an error means
// the grader itself could not judge (infrastructure) and the engine retries it.
// Grade may be called concurrently.
type Grader interface {
	Grade(ctx context.Context, task messages.TaskRef, patch string) (Verdict, error)
}
