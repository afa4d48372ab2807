package sandbox

import (
	"context"
	"errors"
	"fmt"

	"github.com/swerl/swerl/messages"
)

// Spec says which sandbox to start: the task's repository for one attempt of one
// episode. Backends use Ref and Attempt to label what they create.
type Spec struct {
	Task    messages.TaskRef
	Ref     messages.EpisodeRef
	Attempt int
}

// Output is what one command produced.
type Output struct {
	Text     string
	ExitCode int
}

// Sandbox runs one episode's commands. Calls are not concurrent: the engine sends one
// command at a time. Exec honours ctx: when the context ends first it returns
// context.DeadlineExceeded or context.Canceled (wrapped or not), and the command is
// gone. Any other error means the sandbox itself is broken (see Died).
type Sandbox interface {
	Exec(ctx context.Context, command string) (Output, error)
	// Diff returns the patch of the working tree against the task's base commit.
	Diff(ctx context.Context) (string, error)
	// Close releases everything the sandbox holds. It is called exactly once.
	Close(ctx context.Context) error
}

// Factory starts sandboxes. Start may be called concurrently.
type Factory interface {
	Start(ctx context.Context, spec Spec) (Sandbox, error)
}

// ErrDied marks an error after which the sandbox cannot be used again.
var ErrDied = errors.New("sandbox died")

// Died wraps cause so that errors.Is(err, ErrDied) holds.
func Died(cause error) error { return fmt.Errorf("%w: %w", ErrDied, cause) }
