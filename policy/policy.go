package policy

import (
	"context"
	"errors"
	"fmt"

	"github.com/swerl/swerl/messages"
)

// Request is what a policy sees: the task, the episode so far, and the version it must
// sample from.
type Request struct {
	Ref        messages.EpisodeRef
	Attempt    int
	Turn       int
	Task       messages.TaskRef
	Transcript messages.Transcript
	Version    int
}

// Reply is one assistant message. Tokens and Logprobs are the produced token ids and
// their sampling log-probs; a text-only policy leaves them empty. Prompt is, for a
// token-in policy, the context tokens it appended before generating (system prompt
// and issue on turn 0, the last observation in the chat template after), so that the
// concatenation of every turn's Prompt and Tokens is exactly the context the model
// saw. Overflow reports that the context budget ran out: Tokens hold what was produced
// before it (possibly nothing) and the episode ends with stop reason
// context_overflow. The slices belong to the caller once returned.
type Reply struct {
	Text     string
	Prompt   []int32
	Tokens   []int32
	Logprobs []float32
	Overflow bool
}

// Policy writes the next assistant reply. Generate may be called concurrently and must
// honour ctx. Errors are classified with Error: a retryable one (overloaded endpoint,
// broken connection) is retried within the episode's budget; any other error is fatal
// for the episode.
type Policy interface {
	Generate(ctx context.Context, req Request) (Reply, error)
}

// Loader is implemented by policies that must be told which version to serve (an
// external endpoint reloading weights). Load is called at the barrier, with no
// Generate in flight.
type Loader interface {
	Load(ctx context.Context, version int) error
}

// Error classifies a policy failure.
type Error struct {
	Retryable bool
	Err       error
}

func (e *Error) Error() string {
	if e.Retryable {
		return fmt.Sprintf("policy (retryable): %v", e.Err)
	}
	return fmt.Sprintf("policy: %v", e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// IsRetryable reports whether err should be retried: a *Error marked retryable, or a
// deadline that ran out (a slow endpoint).
func IsRetryable(err error) bool {
	var pe *Error
	if errors.As(err, &pe) {
		return pe.Retryable
	}
	return errors.Is(err, context.DeadlineExceeded)
}

// Trainer owns the parameters and performs the update at the barrier. Version is the
// number of committed updates (policy version); Train applies one batch and, only if it
// returns nil, advances Version by one. Train is never called concurrently.
type Trainer interface {
	Version() int
	Train(ctx context.Context, batch messages.TrainBatch) (messages.TrainStats, error)
}
