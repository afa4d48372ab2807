package node

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/swerl/swerl/cluster/wire"
	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/sandbox"
	"github.com/swerl/swerl/sim"
	"github.com/swerl/swerl/swe"
)

// WorldSim is the wire kind of SimSWE tasks: the JSON of a sim.Config and an index.
const WorldSim = "sim"

// SimWorld is the head's World for SimSWE tasks drawn from any of cfgs (tasks are
// named sim-<seed>-<index>; each config's seed must differ).
func SimWorld(cfgs ...sim.Config) World {
	return func(id string) (*wire.World, error) {
		seed, index, err := parseSimID(id)
		if err != nil {
			return nil, err
		}
		for _, c := range cfgs {
			if c.Seed == seed {
				b, err := json.Marshal(c)
				if err != nil {
					return nil, err
				}
				return &wire.World{Kind: WorldSim, Config: b, Index: int64(index)}, nil
			}
		}
		return nil, fmt.Errorf("task %s: no SimSWE config of seed %d", id, seed)
	}
}

func parseSimID(id string) (uint64, int, error) {
	parts := strings.Split(id, "-")
	if len(parts) != 3 || parts[0] != "sim" {
		return 0, 0, fmt.Errorf("task %q is not a SimSWE task (sim-<seed>-<index>)", id)
	}
	seed, err1 := strconv.ParseUint(parts[1], 10, 64)
	index, err2 := strconv.Atoi(parts[2])
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("task %q is not a SimSWE task (sim-<seed>-<index>)", id)
	}
	return seed, index, nil
}

// SimWorlds is a worker's Worlds for SimSWE: it rebuilds each task from its config
// and index and keeps it for grading. Latency, when set, is added to every sandbox
// start and command (latency-bound sandboxes, for capacity measurements).
type SimWorlds struct {
	Latency time.Duration

	mu    sync.Mutex
	tasks map[string]sim.Task
	open  atomic.Int64
}

// OpenSandboxes is how many sandboxes are started and not yet closed.
func (s *SimWorlds) OpenSandboxes() int { return int(s.open.Load()) }

// Open implements Worlds.
func (s *SimWorlds) Open(w *wire.World, ref messages.TaskRef) (sandbox.Factory, error) {
	if w.GetKind() != WorldSim {
		return nil, fmt.Errorf("task %s: world kind %q, this worker runs %q", ref.ID, w.GetKind(), WorldSim)
	}
	var cfg sim.Config
	if err := json.Unmarshal(w.Config, &cfg); err != nil {
		return nil, fmt.Errorf("task %s: SimSWE config: %w", ref.ID, err)
	}
	t, err := sim.GenerateOne(cfg, int(w.Index))
	if err != nil {
		return nil, fmt.Errorf("task %s: %w", ref.ID, err)
	}
	if t.ID != ref.ID {
		return nil, fmt.Errorf("task %s: the config and index rebuild %s (head and worker run different swerl versions?)", ref.ID, t.ID)
	}
	s.mu.Lock()
	if s.tasks == nil {
		s.tasks = map[string]sim.Task{}
	}
	s.tasks[t.ID] = t
	s.mu.Unlock()
	return slowFactory{f: sim.NewFactory([]sim.Task{t}), d: s.Latency, open: &s.open}, nil
}

// Grade implements swe.Grader for the tasks opened so far.
func (s *SimWorlds) Grade(ctx context.Context, req messages.GradeRequest) (swe.Verdict, error) {
	s.mu.Lock()
	t, ok := s.tasks[req.Task.ID]
	s.mu.Unlock()
	if !ok {
		return swe.Verdict{}, fmt.Errorf("task %s was never opened on this worker", req.Task.ID)
	}
	return sim.NewGrader([]sim.Task{t}).Grade(ctx, req)
}

// slowFactory counts open sandboxes and adds a latency to every start and command.
type slowFactory struct {
	f    sandbox.Factory
	d    time.Duration
	open *atomic.Int64
}

func (s slowFactory) Start(ctx context.Context, spec sandbox.Spec) (sandbox.Sandbox, error) {
	if err := sleep(ctx, s.d); err != nil {
		return nil, err
	}
	sb, err := s.f.Start(ctx, spec)
	if err != nil {
		return nil, err
	}
	s.open.Add(1)
	return slowSandbox{Sandbox: sb, d: s.d, open: s.open}, nil
}

type slowSandbox struct {
	sandbox.Sandbox
	d    time.Duration
	open *atomic.Int64
}

func (s slowSandbox) Close(ctx context.Context) error {
	s.open.Add(-1)
	return s.Sandbox.Close(ctx)
}

func (s slowSandbox) Exec(ctx context.Context, command string) (sandbox.Output, error) {
	if err := sleep(ctx, s.d); err != nil {
		return sandbox.Output{}, err
	}
	return s.Sandbox.Exec(ctx, command)
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
