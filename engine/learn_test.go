//go:build !race

// The learning test trains for real (about a minute on two cores); the race detector
// slows the tiny model's arithmetic about 8.5 times (BenchmarkTrainStep with and
// without -race), so this file is left out of -race builds and README's test command
// runs it in a second, plain `go test`.

package engine

import (
	"context"
	"fmt"
	"testing"
)

// shortRecipe is the embedded recipe with every phase shortened: the same world,
// model and knobs, fewer tasks, samples and iterations.
func shortRecipe() Recipe {
	r := DefaultRecipe()
	r.World.TrainTasks.Ours = 600
	r.HeldOut.Tasks.Ours, r.HeldOut.Samples.Ours, r.HeldOut.Every.Ours = 30, 4, 2
	r.Pretrain.ProbeEvery.Ours, r.Pretrain.ProbeTasks.Ours, r.Pretrain.MaxProbeEvery.Ours = 250, 20, 0
	r.Pretrain.ConfirmTasks.Ours, r.Pretrain.ConfirmSamples.Ours = 60, 4
	r.RFT.Tasks.Ours, r.RFT.Samples.Ours, r.RFT.MinResolved.Ours, r.RFT.MaxRollouts.Ours = 100, 5, 60, 2000
	r.RFT.Passes.Ours = 2
	r.Stage1.Iterations.Ours, r.Stage1.TasksPerIteration.Ours, r.Stage1.GroupSize.Ours = 6, 16, 8
	r.Stage2.Iterations.Ours, r.Stage2.TasksPerIteration.Ours, r.Stage2.GroupSize.Ours = 2, 8, 8
	return r
}

// A shortened `swerl train` learns on two seeds: held-out pass@1 after RFT and RL is
// above the base model's.
func TestTrainLearns(t *testing.T) {
	if testing.Short() {
		t.Skip("trains for about a minute")
	}
	for _, seed := range []uint64{1, 3} {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			t.Parallel()
			r := shortRecipe()
			r.Seed = seed
			res, err := Train(context.Background(), TrainOptions{Recipe: r, Out: t.TempDir(), Progress: testWriter{t}})
			if err != nil {
				t.Fatal(err)
			}
			base, final := res.Rows[0].Rates.Pass1, res.Rows[len(res.Rows)-1].Rates.Pass1
			t.Logf("\n%s", Table1(res.Rows, r.HeldOut.Samples.Ours))
			if final <= base {
				t.Fatalf("held-out pass@1 went from %.1f%% (base) to %.1f%% (after RFT and RL): nothing learnt", 100*base, 100*final)
			}
		})
	}
}

// testWriter sends progress lines to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p))
	return len(p), nil
}
