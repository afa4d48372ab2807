package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/hashicorp/go-hclog"

	"github.com/swerl/swerl/actors"
	"github.com/swerl/swerl/internal/logging"
	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/observe"
)

// Result is what a run did, iteration by iteration.
type Result struct {
	Iterations []actors.IterationReport
}

// Records returns every terminal record of the run, in order.
func (r Result) Records() []messages.EpisodeRecord {
	var out []messages.EpisodeRecord
	for _, it := range r.Iterations {
		out = append(out, it.Records...)
	}
	return out
}

// deadLetterThrottle is Proto.Actor's dead-letter log interval for swerl's systems.
const deadLetterThrottle = 100 * time.Millisecond

// Run trains for cfg.Iterations synchronous iterations. When ctx is cancelled (SIGINT,
// SIGTERM) it stops taking work, stops the in-flight episodes (each is recorded as
// abandoned: cancelled), keeps every finished record, and returns ctx's error with the
// partial result. Like http.Server.Shutdown, Run returns only after every actor, owned
// goroutine, timer and sandbox of the run is gone.
func Run(ctx context.Context, cfg Config) (Result, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	log := cfg.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	// Every line of the run, the actors' included, names it.
	log = log.With(runFields(cfg.Stage)...)
	var system *actor.ActorSystem
	if cfg.Cluster != nil {
		system = cfg.Cluster.System()
	} else {
		system = actor.NewActorSystem(
			actor.WithDeadLetterThrottleInterval(deadLetterThrottle),
			actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
				return slog.New(logging.SlogHandler(log.Named("protoactor"), slog.LevelWarn))
			}))
	}
	rt := actors.NewRuntime(system, log)
	if cfg.Watcher != nil {
		rt.SetObserver(cfg.Watcher)
		cfg.Watcher.RunStarted(observe.Run{Stage: cfg.Stage, Iterations: cfg.Iterations,
			EpisodesPerIteration: cfg.TasksPerIteration * cfg.GroupSize, StartVersion: cfg.StartVersion, Begin: time.Now()})
	}
	log.Debug("run started", "iterations", cfg.Iterations, "tasks_per_iteration", cfg.TasksPerIteration,
		"group_size", cfg.GroupSize, "policy_version", cfg.StartVersion)
	col := &collector{done: make(chan struct{}), cfg: cfg}
	gc := actors.GuardianConfig{
		Coordinator: actors.CoordinatorConfig{
			Iterations: cfg.Iterations, TasksPerIteration: cfg.TasksPerIteration, GroupSize: cfg.GroupSize,
			Seed: cfg.Seed, Tasks: cfg.Tasks, StartVersion: cfg.StartVersion,
			Filter: cfg.Filter, Advantage: cfg.Advantage, MaxConcurrentEpisodes: cfg.MaxConcurrentEpisodes,
			LearnerResend: cfg.LearnerResend, Episode: cfg.Episode, EpisodeSupervision: cfg.EpisodeSupervision,
			EpisodeMiddleware: cfg.EpisodeMiddleware, Overlap: !cfg.NoOverlap,
		},
		MaxInFlightGenerations: cfg.MaxInFlightGenerations,
		GenerationOrder:        cfg.GenerationOrder,
		GraderConcurrency:      cfg.GraderConcurrency,
		Supervision:            cfg.Supervision,
	}
	if cfg.Cluster != nil {
		gc.Coordinator.Launch = cfg.Cluster.Launcher(rt, cfg.Episode, cfg.ClusterSims)
	}
	comp := actors.Components{Policy: cfg.Policy, Trainer: cfg.Trainer, Sandboxes: cfg.Sandboxes, Grader: cfg.Grader}
	guardian := system.Root.Spawn(actors.NewGuardianProps(rt, gc, comp, col))

	select {
	case <-col.done:
	case <-ctx.Done():
		log.Info("run cancelled: stopping in-flight episodes", "cause", context.Cause(ctx))
		system.Root.Send(guardian, actors.Shutdown{})
		<-col.done
	}
	stopTree(system, guardian, log)
	rt.Wait()
	if cfg.Cluster != nil {
		res, err := col.result() // the cluster's system outlives the run
		if cfg.Watcher != nil {
			cfg.Watcher.RunEnded(cfg.Stage, err)
		}
		return res, err
	}
	system.Shutdown()
	// Proto.Actor's dead-letter log throttle keeps a goroutine for one interval after
	// the last dead letter; wait it out so that nothing of the run outlives Run.
	time.Sleep(deadLetterThrottle)

	res, err := col.result()
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		err = ctx.Err()
	}
	if cfg.Watcher != nil {
		cfg.Watcher.RunEnded(cfg.Stage, err)
	}
	return res, err
}

// stopTree stops the guardian and with it every actor, and waits until all are gone.
// Actors stop quickly (their blocking work is in owned goroutines, which Run waits for
// next); the future's timeout only guards against a bug.
func stopTree(system *actor.ActorSystem, guardian *actor.PID, log hclog.Logger) {
	if err := system.Root.StopFuture(guardian).Wait(); err != nil {
		log.Error("actor tree did not stop in time", "error", err)
	}
}

// collector is the coordinator's Reporter: it keeps the reports and wakes Run.
type collector struct {
	cfg  Config
	mu   sync.Mutex
	res  Result
	err  error
	once sync.Once
	done chan struct{}
}

func (c *collector) Record(r messages.EpisodeRecord) {
	if c.cfg.OnRecord != nil {
		c.cfg.OnRecord(r)
	}
	if c.cfg.Watcher != nil {
		c.cfg.Watcher.Record(c.cfg.Stage, r)
	}
}

func (c *collector) Iteration(r actors.IterationReport) {
	c.mu.Lock()
	c.res.Iterations = append(c.res.Iterations, r)
	c.mu.Unlock()
	if c.cfg.OnIteration != nil {
		c.cfg.OnIteration(r)
	}
	if c.cfg.Watcher != nil {
		c.cfg.Watcher.Iteration(c.cfg.Stage, r)
	}
}

func (c *collector) Done(err error) {
	c.once.Do(func() {
		c.mu.Lock()
		c.err = err
		c.mu.Unlock()
		close(c.done)
	})
}

func (c *collector) result() (Result, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.res, c.err
}

// runFields are the log fields of a run: "run", a short random id (8 hex digits) that
// tells apart the runs of one process (a recipe's phases, a restarted rollout), and
// "stage" when the run has one.
func runFields(stage string) []any {
	var b [4]byte
	rand.Read(b[:]) // never fails (crypto/rand, Go 1.24+)
	kv := []any{"run", hex.EncodeToString(b[:])}
	if stage != "" {
		kv = append(kv, "stage", stage)
	}
	return kv
}
