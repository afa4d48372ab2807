package node

import (
	"context"
	"fmt"

	"github.com/swerl/swerl/cluster/wire"
	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/sandbox"
	"github.com/swerl/swerl/swe"
)

// WorldTasks is the wire kind of SWE tasks from a task file: every worker opens the
// same file (`swerl node --tasks`) and finds the task by its ID.
const WorldTasks = "tasks"

// TaskWorld is the head's World for tasks of a task file.
func TaskWorld(taskID string) (*wire.World, error) { return &wire.World{Kind: WorldTasks}, nil }

// TaskWorlds is a worker's opened task file: its scaffolded sandboxes and grader.
type TaskWorlds struct {
	IDs       map[string]bool
	Sandboxes sandbox.Factory
	Grader    swe.Grader
}

// Open implements Worlds.
func (t *TaskWorlds) Open(w *wire.World, ref messages.TaskRef) (sandbox.Factory, error) {
	if !t.IDs[ref.ID] {
		return nil, fmt.Errorf("task %s is not in this worker's task file: start `swerl node` with the head's --tasks", ref.ID)
	}
	return t.Sandboxes, nil
}

// Grade implements swe.Grader.
func (t *TaskWorlds) Grade(ctx context.Context, req messages.GradeRequest) (swe.Verdict, error) {
	return t.Grader.Grade(ctx, req)
}

// MultiWorlds serves SimSWE tasks always and a task file's when one is open.
type MultiWorlds struct {
	Sim   *SimWorlds
	Tasks *TaskWorlds // nil: no task file
}

// Open implements Worlds.
func (m *MultiWorlds) Open(w *wire.World, ref messages.TaskRef) (sandbox.Factory, error) {
	switch w.GetKind() {
	case WorldSim:
		return m.Sim.Open(w, ref)
	case WorldTasks:
		if m.Tasks == nil {
			return nil, fmt.Errorf("task %s comes from a task file, and this worker has none: start `swerl node` with --tasks", ref.ID)
		}
		return m.Tasks.Open(w, ref)
	default:
		return nil, fmt.Errorf("task %s: world kind %q unknown to this worker (run the head's swerl version)", ref.ID, w.GetKind())
	}
}

// Grade implements swe.Grader.
func (m *MultiWorlds) Grade(ctx context.Context, req messages.GradeRequest) (swe.Verdict, error) {
	if m.Tasks != nil && m.Tasks.IDs[req.Task.ID] {
		return m.Tasks.Grade(ctx, req)
	}
	return m.Sim.Grade(ctx, req)
}
