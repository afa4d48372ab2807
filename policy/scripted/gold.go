// Package scripted has policies that follow a script instead of a model: Gold types
// each task's gold patch through the scaffold's own tools, then submits. It proves
// the real path end to end (engine, scaffold, sandbox, grader) without a model.
package scripted

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/swerl/swerl/policy"
	"github.com/swerl/swerl/swe"
)

// Gold replays gold patches. Its position in the script is read from the transcript,
// so it is stateless across turns and survives episode restarts.
type Gold struct {
	patches map[string]string
	mu      sync.Mutex
	steps   map[string][]swe.TypedStep
}

// NewGold returns a policy typing each task's gold patch.
func NewGold(tasks []swe.Task) *Gold {
	m := make(map[string]string, len(tasks))
	for _, t := range tasks {
		m[t.InstanceID] = t.Patch
	}
	return &Gold{patches: m, steps: map[string][]swe.TypedStep{}}
}

func (g *Gold) script(task string) ([]swe.TypedStep, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if s, ok := g.steps[task]; ok {
		return s, nil
	}
	patch, ok := g.patches[task]
	if !ok {
		return nil, fmt.Errorf("no gold patch for task %q", task)
	}
	s, err := swe.TypePatch(patch)
	if err != nil {
		return nil, fmt.Errorf("task %s: %w", task, err)
	}
	g.steps[task] = s
	return s, nil
}

// Generate implements policy.Policy.
func (g *Gold) Generate(ctx context.Context, req policy.Request) (policy.Reply, error) {
	steps, err := g.script(req.Task.ID)
	if err != nil {
		return policy.Reply{}, &policy.Error{Err: err}
	}
	next, fallback := 0, false
	for _, t := range req.Transcript.Turns() {
		if next >= len(steps) {
			break
		}
		st, cmd := steps[next], strings.TrimSpace(t.Command)
		switch {
		case t.FormatError != "" || cmd == "":
			// A garbled turn (not ours) moves nothing.
		case cmd == strings.TrimSpace(st.Command):
			if failed(t.Observation) && st.Fallback != "" && !fallback {
				fallback = true
			} else {
				next, fallback = next+1, false
			}
		case st.Fallback != "" && cmd == strings.TrimSpace(st.Fallback):
			next, fallback = next+1, false
		}
	}
	cmd := swe.SubmitCommand
	if next < len(steps) {
		cmd = steps[next].Command
		if fallback {
			cmd = steps[next].Fallback
		}
	}
	return policy.Reply{Text: fmt.Sprintf("Step %d of the fix.\n\n```command\n%s\n```\n", next+1, cmd)}, nil
}

func failed(observation string) bool {
	return strings.HasPrefix(observation, "Error") || strings.HasPrefix(observation, "Usage")
}

var _ policy.Policy = (*Gold)(nil)
