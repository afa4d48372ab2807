package messages

// FailureKind classifies infrastructure failures: things that went wrong around the
// agent, never the agent's own mistakes (those are observations and rewards).
type FailureKind string

// The failure kinds the engine reports.
const (
	FailSandboxStart FailureKind = "sandbox_start" // the sandbox could not be created
	FailSandboxDied  FailureKind = "sandbox_died"  // the sandbox stopped answering or crashed
	FailGenerate     FailureKind = "generate"      // the policy endpoint failed
	FailGrade        FailureKind = "grade"         // the grader failed (not: the tests failed)
	FailCrashed      FailureKind = "crashed"       // the episode actor panicked past its restart budget
	FailCancelled    FailureKind = "cancelled"     // the run was stopped before the episode ended
	FailStale        FailureKind = "stale"         // a reply for another policy version or attempt
	FailNodeLost     FailureKind = "node_lost"     // the cluster member running the episode was lost
)

// Failure is an expected infrastructure failure, reported as a message rather than a
// panic. Retryable failures consume the episode's retry budget and are retried; a
// non-retryable one, or one past the budget, abandons the episode.
type Failure struct {
	Kind      FailureKind
	Retryable bool
	Cause     string
}

// Error lets a Failure be used as an error value.
func (f Failure) Error() string {
	r := "fatal"
	if f.Retryable {
		r = "retryable"
	}
	return string(f.Kind) + " (" + r + "): " + f.Cause
}
