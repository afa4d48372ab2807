package engine

import (
	"errors"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/hashicorp/go-hclog"

	"github.com/swerl/swerl/actors"
	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/observe"
	"github.com/swerl/swerl/policy"
	"github.com/swerl/swerl/policy/dapo"
	"github.com/swerl/swerl/sandbox"
	"github.com/swerl/swerl/sim"
	"github.com/swerl/swerl/swe"
)

// Config is one run. Zero fields take the defaults of DefaultConfig.
type Config struct {
	Iterations        int    // K
	TasksPerIteration int    // N (PAPER.md: 300 in stage 1, 100 in stage 2)
	GroupSize         int    // G (PAPER.md: 10)
	Seed              uint64 // task sampling and retry jitter
	Tasks             []messages.TaskRef
	StartVersion      int // policy version the run starts from (resume)

	Policy    policy.Policy
	Trainer   policy.Trainer
	Sandboxes sandbox.Factory
	Grader    swe.Grader

	Episode                actors.EpisodeConfig
	Filter                 dapo.GroupFilter
	Advantage              dapo.AdvantageConfig
	MaxConcurrentEpisodes  int // 0: all N x G at once
	MaxInFlightGenerations int // 0: no cap
	// GenerationOrder picks which waiting generation goes first once
	// MaxInFlightGenerations are in flight ("": actors.OrderMostTurnsLeft).
	GenerationOrder actors.GenerationOrder
	// NoOverlap starts an iteration's sandboxes only after its policy version is
	// loaded. By default they are prepared while the learner trains the previous
	// iteration; no episode generates before PolicyUpdated either way.
	NoOverlap          bool
	GraderConcurrency  int // 0: no cap
	LearnerResend      time.Duration
	Supervision        actors.Supervision // core actors
	EpisodeSupervision actors.Supervision // episode actors

	// Logger receives swerl's and Proto.Actor's logs; nil discards them.
	Logger hclog.Logger
	// OnRecord, if set, sees every terminal record as it arrives (from the coordinator:
	// it must not block).
	OnRecord func(messages.EpisodeRecord)
	// OnIteration, if set, sees each iteration's report at its barrier (same rule).
	OnIteration func(actors.IterationReport)
	// Watcher, if set, sees the run as it happens: the actors' events, every record,
	// each barrier (metrics, the live page, the progress line). Stage names the run
	// to it ("" : "rollout").
	Watcher observe.Watcher
	Stage   string
	// EpisodeMiddleware wraps each episode actor (tracing, fault injection).
	EpisodeMiddleware []actor.ReceiverMiddleware

	// Cluster, if set, runs the episodes on its workers (`swerl train --cluster`):
	// Run spawns its actors in the cluster's actor system and leaves it running.
	Cluster Cluster
	// ClusterSims are the SimSWE configs the tasks are drawn from, for the workers to
	// rebuild them.
	ClusterSims []sim.Config
}

// Cluster is the head's cluster layer as Run needs it (cluster/node.Head).
type Cluster interface {
	// System is the remote-enabled actor system of the head node.
	System() *actor.ActorSystem
	// Launcher makes the coordinator's Launch hook for one run.
	Launcher(rt *actors.Runtime, ep actors.EpisodeConfig, sims []sim.Config) func(actors.EpisodeSpec) *actor.Props
}

// DefaultConfig returns the defaults: the paper's G=10, delta 1e-6 with Bessel's
// correction, zero-advantage groups dropped on the binary outcome.
func DefaultConfig() Config {
	return Config{
		Iterations:         1,
		TasksPerIteration:  8,
		GroupSize:          10,
		Seed:               1,
		Episode:            actors.DefaultEpisodeConfig(),
		Filter:             dapo.GroupFilter{On: dapo.FilterOutcome},
		Advantage:          dapo.DefaultAdvantage(),
		LearnerResend:      30 * time.Second,
		Supervision:        coreSupervision(),
		EpisodeSupervision: actors.DefaultSupervision(),
	}
}

// coreSupervision restarts the learner, inference, graders and coordinator at most 3
// times in 10 minutes: long enough that a learner panicking on every resent batch
// (every LearnerResend) is stopped, and the run fails, instead of looping.
func coreSupervision() actors.Supervision {
	s := actors.DefaultSupervision()
	s.Window = 10 * time.Minute
	return s
}

// withDefaults fills zero fields from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Iterations == 0 {
		c.Iterations = d.Iterations
	}
	if c.TasksPerIteration == 0 {
		c.TasksPerIteration = d.TasksPerIteration
	}
	if c.GroupSize == 0 {
		c.GroupSize = d.GroupSize
	}
	if c.Episode == (actors.EpisodeConfig{}) {
		c.Episode = d.Episode
	}
	if c.Filter.On == "" {
		c.Filter.On = d.Filter.On
	}
	if c.Advantage == (dapo.AdvantageConfig{}) {
		c.Advantage = d.Advantage
	}
	if c.LearnerResend == 0 {
		c.LearnerResend = d.LearnerResend
	}
	if c.Stage == "" {
		c.Stage = "rollout"
	}
	if c.GenerationOrder == "" {
		c.GenerationOrder = actors.OrderMostTurnsLeft
	}
	if c.Supervision == (actors.Supervision{}) {
		c.Supervision = d.Supervision
	}
	if c.EpisodeSupervision == (actors.Supervision{}) {
		c.EpisodeSupervision = d.EpisodeSupervision
	}
	return c
}

// Validate reports every problem with c at once.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Iterations < 1 {
		bad("iterations = %d: need at least 1", c.Iterations)
	}
	if _, err := actors.ParseGenerationOrder(string(c.GenerationOrder)); err != nil {
		bad("%v", err)
	}
	if c.TasksPerIteration < 1 {
		bad("tasks per iteration = %d: need at least 1", c.TasksPerIteration)
	}
	if c.GroupSize < 2 {
		bad("group size = %d: group-normalised advantages need at least 2 rollouts per task", c.GroupSize)
	}
	if len(c.Tasks) == 0 {
		bad("no tasks: give a task pool")
	}
	seen := map[string]bool{}
	for i, t := range c.Tasks {
		if t.ID == "" {
			bad("task %d has an empty id", i)
		} else if seen[t.ID] {
			bad("task id %q appears twice in the pool", t.ID)
		}
		seen[t.ID] = true
	}
	if c.Policy == nil {
		bad("no policy")
	}
	if c.Trainer == nil {
		bad("no trainer (learner)")
	}
	if c.Sandboxes == nil {
		bad("no sandbox factory")
	}
	if c.Grader == nil {
		bad("no grader")
	}
	e := c.Episode
	if e.TurnCap < 1 {
		bad("turn cap = %d: need at least 1", e.TurnCap)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"episode timeout", e.EpisodeTimeout}, {"turn timeout", e.TurnTimeout}, {"command timeout", e.CommandTimeout},
		{"diff timeout", e.DiffTimeout}, {"grade timeout", e.GradeTimeout}, {"sandbox start timeout", e.Sandbox.StartTimeout},
		{"sandbox close timeout", e.Sandbox.CloseTimeout}} {
		if d.v <= 0 {
			bad("%s = %s: must be positive", d.name, d.v)
		}
	}
	if e.CommandTimeout > e.TurnTimeout || e.TurnTimeout > e.EpisodeTimeout {
		bad("deadlines must nest: command (%s) <= turn (%s) <= episode (%s)", e.CommandTimeout, e.TurnTimeout, e.EpisodeTimeout)
	}
	if e.RetryBudget < 0 {
		bad("retry budget = %d: must be >= 0", e.RetryBudget)
	}
	if len(errs) > 0 {
		return fmt.Errorf("engine: invalid config: %w", errors.Join(errs...))
	}
	return nil
}
