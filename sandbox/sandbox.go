package sandbox

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/swerl/swerl/messages"
)

// Spec says which sandbox to start: the task's repository for one attempt of one
// episode. Backends use Ref and Attempt to label what they create; Purpose tells an
// agent's sandbox from a grader's.
type Spec struct {
	Task    messages.TaskRef
	Ref     messages.EpisodeRef
	Attempt int
	Purpose Purpose
}

// Purpose says who uses a sandbox.
type Purpose string

const (
	ForAgent Purpose = ""      // the episode's working copy
	ForGrade Purpose = "grade" // a fresh copy the grader applies patches to
)

// Output is what one command produced. Text is capped by the backend (see Cap) and by
// the scaffold; ExitCode is the shell's status (-1 when it was killed).
type Output struct {
	Text     string
	ExitCode int
	// TimedOut is set by layers that turn an expired deadline into an observation
	// (the scaffold) instead of returning the context's error.
	TimedOut bool
}

// Sandbox runs one episode's commands. Calls are not concurrent: the engine sends one
// command at a time. Every method honours ctx: when the context ends first it returns
// context.DeadlineExceeded or context.Canceled (wrapped or not), and the command is
// gone with all its children. Any other error from Exec or Diff means the sandbox
// itself is broken (see Died); ReadFile and WriteFile report a missing or unreadable
// file as an ordinary error wrapping fs.ErrNotExist or fs.ErrPermission.
type Sandbox interface {
	// Root is the repository's directory inside the sandbox (the starting directory
	// of every command).
	Root() string
	// Exec runs command with bash in Root and returns its combined output.
	Exec(ctx context.Context, command string) (Output, error)
	// ReadFile returns at most limit bytes of the file at path (relative paths are
	// taken from Root) and an error wrapping ErrTooLarge when the file is longer.
	ReadFile(ctx context.Context, path string, limit int64) ([]byte, error)
	// WriteFile replaces (or creates, with its parent directories) the file at path.
	WriteFile(ctx context.Context, path string, data []byte) error
	// Diff returns the patch of the working tree against the task's base commit
	// (`git diff` with new files included), "" when nothing changed.
	Diff(ctx context.Context) (string, error)
	// Close releases everything the sandbox holds. It is called exactly once.
	Close(ctx context.Context) error
}

// Prompter is implemented by sandboxes that end each observation with a prompt line
// (the scaffold); Prompt returns the current one.
type Prompter interface {
	Prompt() string
}

// Factory starts sandboxes. Start may be called concurrently.
type Factory interface {
	Start(ctx context.Context, spec Spec) (Sandbox, error)
}

// ErrDied marks an error after which the sandbox cannot be used again.
var ErrDied = errors.New("sandbox died")

// ErrPermanent marks a Start error that no retry can fix (a task image that is not
// there, a task the backend cannot run): the episode is abandoned at once.
var ErrPermanent = errors.New("permanent")

// ErrTooLarge is returned by ReadFile for a file longer than its limit.
var ErrTooLarge = errors.New("file too large")

// Died wraps cause so that errors.Is(err, ErrDied) holds.
func Died(cause error) error { return fmt.Errorf("%w: %w", ErrDied, cause) }

// ErrNoRepository is returned by Diff when the agent has destroyed the repository
// (deleted it, or its .git): an outcome of the episode, graded as an empty patch, not
// a broken sandbox.
var ErrNoRepository = errors.New("repository gone from the sandbox")

// Workspace is what a backend needs to know to start a task's sandbox.
type Workspace struct {
	// Image is the task's own container image (SWE-rebench docker_image) holding the
	// repository at ImageRoot; "" means the backend's base image plus Checkout.
	Image     string
	ImageRoot string // default /testbed
	// Checkout is a host directory holding the repository (with .git) at BaseCommit.
	// Backends copy it and never write to it.
	Checkout   string
	BaseCommit string
	// Env is the environment the task's repository needs (its repository's entry
	// in the per-repository table, like the SWE-bench harness's specs); the zero
	// value needs nothing. The local backend applies Links and Vars and picks an
	// interpreter that imports PythonModules; the docker backend runs a task
	// without an image of its own in an env image built from Env on top of its
	// base image.
	Env Env
	// Activate is a shell prelude run before every command in Image, as the
	// official SWE-bench / SWE-rebench images need (`source
	// /opt/miniconda3/bin/activate && conda activate testbed`); "" lets the docker
	// backend find out from the image itself.
	Activate string
}

// Env is a repository's environment: what its tests need around the checkout.
// Maps and slices are owned by the Env and never changed after it is made.
type Env struct {
	// Name labels the environment (the repository, "sympy/sympy"); "" for none.
	Name string
	// Packages are Debian packages installed into the docker env image.
	Packages []string
	// Links make commands that the repository's scripts call: name -> command,
	// e.g. "python" -> "python3" for `#!/usr/bin/env python`. The target is looked
	// up on PATH when the sandbox starts.
	Links map[string]string
	// PythonModules must import in the python3 the sandbox uses; the local
	// backend picks the first python3 on PATH (then /usr/bin) that imports them.
	PythonModules []string
	// Vars are set for every command.
	Vars map[string]string
	// Offline says what of the repository's real environment cannot be met here
	// (packages that are not in Debian, versions Debian does not ship).
	Offline string
}

// IsZero reports whether the environment asks for nothing.
func (e Env) IsZero() bool {
	return len(e.Packages) == 0 && len(e.Links) == 0 && len(e.PythonModules) == 0 && len(e.Vars) == 0
}

// Hash identifies what the environment installs and sets (Name and Offline are
// left out): equal environments share one docker env image.
func (e Env) Hash() string {
	h := sha256.New()
	pkgs := slices.Sorted(slices.Values(e.Packages))
	mods := slices.Sorted(slices.Values(e.PythonModules))
	fmt.Fprintf(h, "packages=%q\nmodules=%q\n", pkgs, mods)
	for _, k := range slices.Sorted(maps.Keys(e.Links)) {
		fmt.Fprintf(h, "link %q=%q\n", k, e.Links[k])
	}
	for _, k := range slices.Sorted(maps.Keys(e.Vars)) {
		fmt.Fprintf(h, "var %q=%q\n", k, e.Vars[k])
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// Resolver maps a task to its workspace. Implementations prepare checkouts once per
// task and may be called concurrently.
type Resolver interface {
	Resolve(ctx context.Context, task messages.TaskRef) (Workspace, error)
}
