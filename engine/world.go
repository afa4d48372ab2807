package engine

import (
	"context"
	"errors"
	"fmt"
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
// bad lines returns the good tasks and an error listing every bad one.
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
	return tasks, nil, err
}

// OpenWorld prepares the backend and the grader.
func OpenWorld(ctx context.Context, cfg WorldConfig) (*World, error) {
	if len(cfg.Tasks) == 0 {
		return nil, errors.New("no tasks")
	}
	dir := cfg.CheckoutDir
	if dir == "" {
		dir = checkout.DefaultDir()
	}
	res := checkout.NewResolver(dir, cfg.Tasks, cfg.Snapshots)
	res.Mirror = cfg.Mirror
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
