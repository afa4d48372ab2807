package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/swerl/swerl/actors"
	"github.com/swerl/swerl/internal/atomicfile"
	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/observe"
	"github.com/swerl/swerl/policy"
	"github.com/swerl/swerl/records"
)

// RolloutOptions is one `swerl rollout`: G samples of every task of the world, graded,
// written as trajectory records as they finish, and summarised. With an external
// Trainer and Iterations > 1 it is synchronous DAPO against an outside learner: each
// iteration's batch goes to the trainer and the next iteration samples the policy
// version the trainer reports served.
type RolloutOptions struct {
	World  *World
	Policy policy.Policy
	// Trainer is the learner; nil means evaluation: policy.Frozen (nothing learnt).
	Trainer    policy.Trainer
	Iterations int // default 1
	GroupSize  int // G, default 10 (PAPER.md)
	// TasksPerIteration defaults to every task of the world.
	TasksPerIteration int
	Seed              uint64
	// Out receives records.jsonl, parquet/ and summary.json.
	Out     string
	Episode actors.EpisodeConfig // zero: actors.DefaultEpisodeConfig()
	// Caps: live episodes, in-flight generate calls, grading runs (0: none).
	MaxConcurrentEpisodes  int
	MaxInFlightGenerations int
	GraderConcurrency      int
	// GenerationOrder orders requests waiting for a generation slot ("": most turns left).
	GenerationOrder actors.GenerationOrder
	Progress        io.Writer // one line per finished episode; nil: quiet
	Logger          hclog.Logger
	Watcher         observe.Watcher // sees the run as it happens (metrics, live page)
	// Cluster, if set, runs the episodes on its workers, which open the same task
	// file themselves (`swerl node --tasks`).
	Cluster Cluster
}

// RolloutResult is the summary and where the records are.
type RolloutResult struct {
	Summary Summary
	Records string // the JSONL file
	Parquet string // the directory of Parquet parts
	Result  Result
}

// Rollout runs opts. Every terminal record is handed to the records writer the moment
// it arrives, so an interrupted rollout keeps everything that finished; on ctx's
// cancellation Rollout stops the episodes in flight (recorded as abandoned), writes
// the summary of what it has and returns ctx's error. A run in which every episode was
// abandoned returns an *ErrNothingFinished naming the commonest cause and its fix.
func Rollout(ctx context.Context, o RolloutOptions) (RolloutResult, error) {
	if o.World == nil || len(o.World.Refs) == 0 {
		return RolloutResult{}, errors.New("rollout: no tasks")
	}
	if o.Policy == nil {
		return RolloutResult{}, errors.New("rollout: no policy")
	}
	if o.Out == "" {
		return RolloutResult{}, errors.New("rollout: no output directory")
	}
	if o.Iterations == 0 {
		o.Iterations = 1
	}
	if o.GroupSize == 0 {
		o.GroupSize = 10
	}
	if o.TasksPerIteration == 0 {
		o.TasksPerIteration = len(o.World.Refs)
	}
	if o.Trainer == nil {
		o.Trainer = policy.NewFrozen(0)
	}
	w, err := records.NewWriter(o.Out, records.WriterOptions{})
	if err != nil {
		return RolloutResult{}, fmt.Errorf("rollout: %w", err)
	}
	res := RolloutResult{Records: filepath.Join(o.Out, "records.jsonl"), Parquet: filepath.Join(o.Out, "parquet")}
	begin, requested := time.Now(), o.Iterations*o.TasksPerIteration*o.GroupSize
	var mu sync.Mutex
	done := 0
	cfg := DefaultConfig()
	cfg.Iterations, cfg.TasksPerIteration, cfg.GroupSize, cfg.Seed = o.Iterations, o.TasksPerIteration, o.GroupSize, o.Seed
	cfg.Tasks, cfg.StartVersion = o.World.Refs, o.Trainer.Version()
	cfg.Policy, cfg.Trainer, cfg.Sandboxes, cfg.Grader = o.Policy, o.Trainer, o.World.Sandboxes, o.World.Grader
	if o.Episode != (actors.EpisodeConfig{}) {
		cfg.Episode = o.Episode
	}
	cfg.MaxConcurrentEpisodes, cfg.MaxInFlightGenerations, cfg.GraderConcurrency =
		o.MaxConcurrentEpisodes, o.MaxInFlightGenerations, o.GraderConcurrency
	cfg.GenerationOrder = o.GenerationOrder
	cfg.Logger = o.Logger
	cfg.Watcher, cfg.Stage = o.Watcher, "rollout"
	cfg.Cluster = o.Cluster
	cfg.OnRecord = func(r messages.EpisodeRecord) {
		w.Write(records.FromEpisode(r, false))
		if o.Progress == nil {
			return
		}
		mu.Lock()
		done++
		n := done
		mu.Unlock()
		outcome := "not resolved"
		switch {
		case r.Status != messages.Finished:
			outcome = "abandoned: " + r.Failure.Error()
		case r.Resolved:
			outcome = "resolved"
		}
		fmt.Fprintf(o.Progress, "[%6.1fs] %d/%d %s: %s, %d turns, stop %s\n",
			time.Since(begin).Seconds(), n, requested, r.Ref, outcome, r.Turns(), r.Stop)
	}
	cfg.OnIteration = func(r actors.IterationReport) {
		if o.Progress != nil && o.Iterations > 1 {
			fmt.Fprintf(o.Progress, "[%6.1fs] iteration %d: %d finished, %d abandoned, %d resolved; batch %d; policy %d -> %d\n",
				time.Since(begin).Seconds(), r.Iteration, r.Finished, r.Abandoned, r.Resolved, r.BatchSize,
				r.PolicyVersion, r.PolicyVersion+1)
		}
	}
	run, runErr := Run(ctx, cfg)
	res.Result = run
	closeErr := w.Close()
	res.Summary = Summarize(run.Records(), o.GroupSize)
	sumErr := atomicfile.WriteJSON(filepath.Join(o.Out, "summary.json"), res.Summary)
	var noneErr error
	if runErr == nil {
		noneErr = nothingFinished(run.Records())
	}
	return res, errors.Join(runErr, closeErr, sumErr, noneErr)
}
