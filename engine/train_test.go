package engine

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// smallRecipe scales the embedded recipe down to seconds.
func smallRecipe() Recipe {
	r := DefaultRecipe()
	r.World.Preset = "easy"
	r.World.TrainTasks.Ours, r.HeldOut.Tasks.Ours, r.HeldOut.Samples.Ours, r.HeldOut.TurnCap.Ours = 24, 4, 2, 12
	r.Model.Window.Ours, r.Model.Dim.Ours, r.Model.Hidden.Ours = 24, 16, 32
	r.Pretrain.Traces.Ours, r.Pretrain.Epochs.Ours = 12, 1
	r.Pretrain.ProbeTasks.Ours, r.Pretrain.ProbeSamples.Ours = 4, 2
	r.Pretrain.ConfirmTasks.Ours, r.Pretrain.ConfirmSamples.Ours = 8, 2
	r.RFT.Tasks.Ours, r.RFT.Samples.Ours, r.RFT.MinResolved.Ours, r.RFT.MaxRollouts.Ours = 4, 2, 4, 24
	for _, s := range []*RLStage{&r.Stage1, &r.Stage2} {
		s.Iterations.Ours, s.TasksPerIteration.Ours, s.GroupSize.Ours, s.TurnCap.Ours = 1, 3, 2, 12
	}
	r.Stage2.TurnCap.Ours = 16
	return r
}

// The recipe runs end to end through the engine and leaves its outputs: metrics
// lines for every evaluation and iteration, a checkpoint per stage, the curve and
// the table. (Whether it learns is issue 4's test, once the recipe is tuned.)
func TestTrainWritesItsOutputs(t *testing.T) {
	out := t.TempDir()
	res, err := Train(context.Background(), TrainOptions{Recipe: smallRecipe(), Out: out})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != 4 || res.Rows[0].Model == "" || res.Rows[3].Rates.Tasks != 4 {
		t.Fatalf("rows: %+v", res.Rows)
	}
	for _, stage := range []string{"base", "rft", "stage1", "stage2"} {
		if _, err := os.Stat(filepath.Join(out, "checkpoints", stage+".ckpt")); err != nil {
			t.Errorf("checkpoint of %s: %v", stage, err)
		}
	}
	svg, err := os.ReadFile(filepath.Join(out, "curve.svg"))
	if err != nil || !strings.Contains(string(svg), "<svg") || strings.Count(string(svg), "<circle") != len(res.Curve) {
		t.Errorf("curve.svg: %v", err)
	}
	table, _ := os.ReadFile(filepath.Join(out, "table.txt"))
	if !strings.Contains(string(table), "+ RL stage 2") || !strings.Contains(string(table), "pass@2") {
		t.Errorf("table.txt:\n%s", table)
	}
	kinds := metricKinds(t, out)
	// base, rft, one per RL iteration (2); the stage rows reuse the last evaluation.
	if kinds["iteration"] != 2 || kinds["eval"] != 4 {
		t.Errorf("metrics lines by kind: %v", kinds)
	}
}

// --resume skips the phases whose checkpoints exist and trains only the rest.
func TestTrainResumesAfterTheLastPhase(t *testing.T) {
	out := t.TempDir()
	first, err := Train(context.Background(), TrainOptions{Recipe: smallRecipe(), Out: out})
	if err != nil {
		t.Fatal(err)
	}
	// As if the run stopped in stage 2 before its first barrier.
	for _, f := range []string{"stage2.ckpt", "stage2.barrier.json"} {
		if err := os.Remove(filepath.Join(out, "checkpoints", f)); err != nil {
			t.Fatal(err)
		}
	}
	before := metricKinds(t, out)
	res, err := Train(context.Background(), TrainOptions{Recipe: smallRecipe(), Out: out, Resume: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != 4 {
		t.Fatalf("rows: %+v", res.Rows)
	}
	// The finished phases' rows are the ones they measured, and stage 2, run again
	// from stage 1's checkpoint, is the run the first one made: the same table.
	for i := range res.Rows {
		if res.Rows[i] != first.Rows[i] {
			t.Errorf("row %d: resumed %+v, first run %+v", i, res.Rows[i], first.Rows[i])
		}
	}
	if _, err := os.Stat(filepath.Join(out, "checkpoints", "stage2.ckpt")); err != nil {
		t.Errorf("stage 2 not rerun: %v", err)
	}
	after := metricKinds(t, out)
	// Only stage 2's one iteration ran again; base, rft and stage1 were read from
	// metrics.jsonl, not evaluated again; no pretraining probe ran.
	if got := after["iteration"] - before["iteration"]; got != 1 {
		t.Errorf("resumed run trained %d iterations, want 1 (stage 2 only)", got)
	}
	if got := after["eval"] - before["eval"]; got != 1 {
		t.Errorf("resumed run made %d held-out evaluations, want 1 (stage 2's)", got)
	}
	if after["pretrain_probe"] != before["pretrain_probe"] {
		t.Errorf("resumed run pretrained again: %v -> %v", before, after)
	}
}

func metricKinds(t *testing.T, out string) map[string]int {
	t.Helper()
	f, err := os.Open(filepath.Join(out, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	kinds := map[string]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l MetricsLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("metrics line %q: %v", sc.Text(), err)
		}
		kinds[l.Kind]++
	}
	return kinds
}

// cancelOn cancels a context once the progress text holds a marker.
type cancelOn struct {
	marker string
	cancel context.CancelFunc
	seen   strings.Builder
}

func (c *cancelOn) Write(p []byte) (int, error) {
	c.seen.Write(p)
	if strings.Contains(c.seen.String(), c.marker) {
		c.cancel()
	}
	return len(p), nil
}

// A run stopped inside an RL stage (a head lost mid-stage) resumes from its last
// barrier: the iterations done are not trained again, the rest are.
func TestTrainResumesFromTheLastBarrier(t *testing.T) {
	r := smallRecipe()
	r.Stage1.Iterations.Ours = 3
	out := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := &cancelOn{marker: "stage1 iteration 2:", cancel: cancel}
	if _, err := Train(ctx, TrainOptions{Recipe: r, Out: out, Progress: stop}); err == nil {
		t.Fatal("the cancelled run returned no error")
	}
	stage1 := func() int {
		n := 0
		for _, l := range metricLines(t, out) {
			if l.Kind == "iteration" && l.Stage == "stage1" {
				n++
			}
		}
		return n
	}
	if got := stage1(); got != 2 {
		t.Fatalf("before the resume: %d stage 1 iterations in metrics.jsonl, want 2", got)
	}
	var progress strings.Builder
	if _, err := Train(context.Background(), TrainOptions{Recipe: r, Out: out, Resume: true, Progress: &progress}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(progress.String(), "stage1: resumed after iteration 2") {
		t.Errorf("the resumed run did not start from the barrier:\n%s", progress.String())
	}
	if got := stage1(); got != 3 {
		t.Errorf("after the resume: %d stage 1 iterations, want 3 (2 before, 1 after)", got)
	}
}

func metricLines(t *testing.T, out string) []MetricsLine {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(out, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var ls []MetricsLine
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var l MetricsLine
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
	}
	return ls
}
