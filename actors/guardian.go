package actors

import (
	"fmt"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/swerl/swerl/policy"
	"github.com/swerl/swerl/sandbox"
	"github.com/swerl/swerl/swe"
)

// Components are the backends one run is wired to.
type Components struct {
	Policy    policy.Policy
	Trainer   policy.Trainer
	Sandboxes sandbox.Factory
	Grader    swe.Grader
}

// GuardianConfig configures the whole actor tree of one run.
type GuardianConfig struct {
	Coordinator CoordinatorConfig
	// MaxInFlightGenerations caps concurrent policy calls (0: no cap).
	MaxInFlightGenerations int
	// GenerationOrder is the order of requests waiting for a generation slot.
	GenerationOrder GenerationOrder
	// GraderConcurrency caps concurrent gradings (0: no cap).
	GraderConcurrency int
	// Supervision restarts the learner, inference, graders and coordinator on panics.
	Supervision Supervision
}

// NewGuardianProps returns the props of the run's root actor. It spawns the learner,
// inference, graders and coordinator, supervises them with cfg.Supervision, and reports
// through report; if a core actor is stopped after repeated panics the run fails.
// Send it Shutdown to cancel the run.
func NewGuardianProps(rt *Runtime, cfg GuardianConfig, comp Components, report Reporter) *actor.Props {
	return actor.PropsFromProducer(func() actor.Actor {
		return &guardianActor{rt: rt, cfg: cfg, comp: comp, report: report}
	}, actor.WithSupervisor(cfg.Supervision.strategy(rt, cfg.Coordinator.Seed+1)))
}

type guardianActor struct {
	rt     *Runtime
	cfg    GuardianConfig
	comp   Components
	report Reporter

	coordinator *actor.PID
	names       map[string]string
	stopping    bool
}

func (g *guardianActor) Receive(c actor.Context) {
	switch m := c.Message().(type) {
	case *actor.Started:
		cc := g.cfg.Coordinator
		learner := g.spawn(c, "learner", newLearnerProps(g.rt, g.comp.Trainer))
		inference := g.spawn(c, "inference", newInferenceProps(g.rt, g.comp.Policy, g.cfg.MaxInFlightGenerations, g.cfg.GenerationOrder, cc.StartVersion))
		graders := g.spawn(c, "graders", newGradersProps(g.rt, g.comp.Grader, g.cfg.GraderConcurrency))
		g.coordinator = g.spawn(c, "coordinator", newCoordinatorProps(g.rt, cc, learner, inference, graders, g.comp.Sandboxes, g.report))
	case Shutdown:
		g.stopping = true
		c.Send(g.coordinator, m)
	case *actor.Terminated:
		if name, ok := g.names[m.Who.Id]; ok && !g.stopping {
			g.stopping = true
			g.report.Done(fmt.Errorf("%s: %w", name, errCoreStopped))
		}
	case *actor.Stopping:
		g.stopping = true
	case *actor.Stopped, *actor.Restarting:
	default:
		g.rt.Log.Warn("guardian: unknown message", "type", typeName(m))
	}
}

func (g *guardianActor) spawn(c actor.Context, name string, props *actor.Props) *actor.PID {
	pid, err := c.SpawnNamed(props, name)
	if err != nil {
		pid = c.Spawn(props) // a name clash cannot happen in a fresh system; stay alive if it does
	}
	if g.names == nil {
		g.names = map[string]string{}
	}
	g.names[pid.Id] = name
	return pid
}
