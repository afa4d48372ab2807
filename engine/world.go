package engine

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/sandbox"
	"github.com/swerl/swerl/sandbox/local"
	"github.com/swerl/swerl/swe"
	"github.com/swerl/swerl/swe/builtin"
	"github.com/swerl/swerl/swe/checkout"
)

// Sandbox backends.
const (
	SandboxLocal  = "local"
	SandboxDocker = "docker"
)

// WorldConfig describes the real world of DESIGN.md: SWE tasks, the sandboxes they
// run in, and the grader.
type WorldConfig struct {
	Tasks []swe.Task
	// Snapshots hold the base files of built-in tasks (see LoadTaskFile).
	Snapshots map[string]map[string][]byte
	// Sandbox is the backend: "local" (default) or "docker".
	Sandbox string
	// CheckoutDir holds prepared task repositories (default: the user's cache).
	CheckoutDir string
	// Mirror is a directory of local clones for tasks that are not built in.
	Mirror      string
	Scaffold    swe.ScaffoldConfig
	TestTimeout time.Duration // per test run in the grader (default 15m)
	Local       local.Config  // Resolver is filled in
	Docker      DockerConfig
}

// World is an opened WorldConfig: close it to remove what it made.
type World struct {
	Tasks []swe.Task
	Refs  []messages.TaskRef
	// Backend starts plain sandboxes; Sandboxes wraps the agent's in the scaffold.
	Backend   sandbox.Factory
	Sandboxes sandbox.Factory
	Grader    *swe.TestGrader
	close     func(context.Context) error
}

// LoadTaskFile reads a task file, or the built-in suite for "builtin". A file with
// bad lines returns the good tasks and an error listing every bad one. A task of a
// file that is a built-in one (same instance_id and base_commit, as in a copy of
// the suite's own tasks.jsonl) gets the built-in snapshot, so that it resolves
// without a mirror.
func LoadTaskFile(name string) ([]swe.Task, map[string]map[string][]byte, error) {
	if name == builtin.Name {
		tasks, err := builtin.Tasks()
		if err != nil {
			return nil, nil, err
		}
		snaps, err := builtin.Snapshots()
		return tasks, snaps, err
	}
	tasks, err := swe.LoadTasks(name)
	snaps, berr := builtinSnapshotsOf(tasks)
	return tasks, snaps, errors.Join(err, berr)
}

// builtinSnapshotsOf returns the built-in snapshots of the tasks that are built-in
// ones, nil when none is.
func builtinSnapshotsOf(tasks []swe.Task) (map[string]map[string][]byte, error) {
	suite, err := builtin.Tasks()
	if err != nil {
		return nil, fmt.Errorf("built-in suite: %w", err)
	}
	base := make(map[string]string, len(suite))
	for _, t := range suite {
		base[t.InstanceID] = t.BaseCommit
	}
	var ids []string
	for _, t := range tasks {
		if b, ok := base[t.InstanceID]; ok && b == t.BaseCommit {
			ids = append(ids, t.InstanceID)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	all, err := builtin.Snapshots()
	if err != nil {
		return nil, fmt.Errorf("built-in suite: %w", err)
	}
	out := make(map[string]map[string][]byte, len(ids))
	for _, id := range ids {
		out[id] = all[id]
	}
	return out, nil
}

// OpenWorld prepares the backend and the grader. CheckoutDir and Mirror may be
// relative to the working directory.
func OpenWorld(ctx context.Context, cfg WorldConfig) (*World, error) {
	if len(cfg.Tasks) == 0 {
		return nil, errors.New("no tasks")
	}
	dir := cfg.CheckoutDir
	if dir == "" {
		dir = checkout.DefaultDir()
	}
	// git runs in other directories: relative paths would name the wrong ones.
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("checkout directory: %w", err)
	}
	mirror := cfg.Mirror
	if mirror != "" {
		if mirror, err = filepath.Abs(mirror); err != nil {
			return nil, fmt.Errorf("mirror directory: %w", err)
		}
	}
	res := checkout.NewResolver(dir, cfg.Tasks, cfg.Snapshots)
	res.Mirror = mirror
	w := &World{Tasks: cfg.Tasks, close: func(context.Context) error { return nil }}
	for _, t := range cfg.Tasks {
		w.Refs = append(w.Refs, t.Ref())
	}
	switch cfg.Sandbox {
	case "", SandboxLocal:
		res.PreferCheckout = true
		lc := cfg.Local
		lc.Resolver = res
		f, err := local.New(lc)
		if err != nil {
			return nil, err
		}
		w.Backend = f
	case SandboxDocker:
		f, closeFn, err := openDocker(ctx, cfg.Docker, res)
		if err != nil {
			return nil, err
		}
		w.Backend, w.close = f, closeFn
	default:
		return nil, fmt.Errorf("sandbox %q: want local or docker", cfg.Sandbox)
	}
	w.Sandboxes = swe.ScaffoldFactory{Inner: w.Backend, Config: cfg.Scaffold}
	w.Grader = swe.NewTestGrader(w.Backend, cfg.Tasks)
	w.Grader.TestTimeout = cfg.TestTimeout
	return w, nil
}

// Close releases the backend (warm pools, in-flight removals).
func (w *World) Close(ctx context.Context) error { return w.close(ctx) }
