package benchmarks

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/swerl/swerl/engine"
	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/policy/tiny"
	"github.com/swerl/swerl/sim"
)

// LearnerParams is one point of the learner benchmark: Tasks x Group concurrent
// episodes of the embedded recipe's world and model, up to TurnCap turns each.
type LearnerParams struct {
	Tasks, Group, TurnCap int
}

func (p LearnerParams) String() string {
	return fmt.Sprintf("episodes=%d/turn_cap=%d", p.Tasks*p.Group, p.TurnCap)
}

// frozenTrainer moves the version on and learns nothing: the rollout half of an
// iteration, measured on its own.
type frozenTrainer struct{ m *tiny.Model }

func (f frozenTrainer) Version() int { return f.m.Version() }
func (f frozenTrainer) Train(context.Context, messages.TrainBatch) (messages.TrainStats, error) {
	f.m.SetVersion(f.m.Version() + 1)
	return messages.TrainStats{}, nil
}

// Learner measures the two halves of an RL iteration of `swerl train` on the embedded
// recipe's tiny model (freshly initialised: the cost per token does not depend on the
// weights, the window is fixed) in its SimSWE world:
//
//   - rollout tokens/s: assistant tokens sampled per second by the tiny policy, batched
//     across the concurrent episodes, through the actor engine with SimSWE sandboxes
//     and grading;
//   - learner tokens/s: assistant tokens per second of the DAPO update over those
//     rollouts (forward, backward, AdamW; advantages of +-1 so every token counts).
func Learner(b *testing.B, p LearnerParams) {
	r := engine.DefaultRecipe()
	world := sim.Guided()
	world.Seed = r.Seed
	tasks := sim.Generate(world, p.Tasks)
	mc := tiny.Config{Window: r.Model.Window.Ours, Dim: r.Model.Dim.Ours, Heads: r.Model.Heads.Ours,
		Hidden: r.Model.Hidden.Ours, Seed: r.Seed}
	model, err := tiny.New(mc, tiny.NewTokenizer(sim.Vocab()))
	if err != nil {
		b.Fatal(err)
	}
	tc := tiny.DefaultTrainConfig()
	tc.TrajectoriesPerStep, tc.LR = r.Stage1.TrajectoriesPerStep.Ours, r.Stage1.LR.Ours
	trainer, err := tiny.NewTrainer(model, tc)
	if err != nil {
		b.Fatal(err)
	}
	pol := tiny.NewPolicy(model, tiny.PolicyConfig{Seed: r.Seed, MaxBatch: 256})
	var rollSec, trainSec float64
	var rollTok, trainTok int
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cfg := engine.DefaultConfig()
		cfg.Iterations, cfg.TasksPerIteration, cfg.GroupSize, cfg.Seed = 1, len(tasks), p.Group, uint64(i+1)
		for _, t := range tasks {
			cfg.Tasks = append(cfg.Tasks, t.TaskRef())
		}
		cfg.Policy, cfg.Sandboxes, cfg.Grader = pol, sim.NewFactory(tasks), sim.NewGrader(tasks)
		cfg.Trainer, cfg.StartVersion = frozenTrainer{model}, model.Version()
		cfg.Episode.TurnCap = p.TurnCap
		res, err := engine.Run(context.Background(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		it := res.Iterations[0]
		rollSec += it.Rollout.Seconds()
		recs := make([]messages.EpisodeRecord, 0, len(it.Records))
		for k, rec := range it.Records {
			for _, t := range rec.Transcript.Turns() {
				rollTok += t.NumTokens()
			}
			rec.Advantage = float64(1 - 2*(k%2))
			recs = append(recs, rec)
		}
		start := time.Now()
		st, err := trainer.Train(context.Background(), messages.NewTrainBatch(0, model.Version(), recs))
		if err != nil {
			b.Fatal(err)
		}
		trainSec += time.Since(start).Seconds()
		trainTok += st.Tokens
	}
	b.ReportMetric(float64(rollTok)/rollSec, "rollout-tok/s")
	b.ReportMetric(float64(trainTok)/trainSec, "learner-tok/s")
	b.ReportMetric(float64(rollTok)/float64(b.N), "rollout-tok/iter")
}
