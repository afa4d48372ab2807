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

// Grader judges req.Patch against the tests of req.Task (req.Ref and req.Try let a
// backend label what it creates). A patch that does not apply, failing
// tests and a test timeout are verdicts (Resolved=false, nil error); an error means
// the grader itself could not judge (infrastructure) and the engine retries it.
// Grade may be called concurrently.
type Grader interface {
	Grade(ctx context.Context, req messages.GradeRequest) (Verdict, error)
}
