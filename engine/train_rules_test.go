package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/sim"
)

// scriptedRollouts replaces a recipe run's rollouts for the pretraining probes and RFT's data:
// each call resolves the next fraction of its script (the first ones of its records),
// and the calls are kept, so a test reads what the stages decided from given readings.
type scriptedRollouts struct {
	t     *testing.T
	fracs map[string][]float64 // by kind: "screen", "confirm", "rft_collect"
	calls []scriptedCall

	progress *strings.Builder // the run's progress lines
}

type scriptedCall struct {
	kind  string
	tasks []string
	g     int
}

func (s *scriptedRollouts) collect(ctx context.Context, stage string, tasks []sim.Task, g, turnCap int, seed uint64) ([]messages.EpisodeRecord, error) {
	kind := stage
	if stage == "pretrain_probe" {
		kind = "screen"
		if len(tasks) == scriptedConfirmTasks {
			kind = "confirm"
		}
	}
	if len(s.fracs[kind]) == 0 {
		s.t.Fatalf("%s call %d: the script has no reading left", kind, len(s.calls)+1)
	}
	frac := s.fracs[kind][0]
	s.fracs[kind] = s.fracs[kind][1:]
	c := scriptedCall{kind: kind, g: g}
	var recs []messages.EpisodeRecord
	k := int(frac*float64(len(tasks)*g) + 0.5)
	for i, task := range tasks {
		c.tasks = append(c.tasks, task.ID)
		for j := 0; j < g; j++ {
			ref := messages.EpisodeRef{Group: i, Sample: j, TaskID: task.ID}
			rec := messages.EpisodeRecord{Ref: ref, Task: task.TaskRef(), Status: messages.Finished}
			if len(recs) < k {
				ep, err := sim.RunEpisode(ctx, sim.Noisy{}, task, ref, turnCap)
				if err != nil {
					return nil, err
				}
				rec.Transcript, rec.Patch, rec.Resolved = ep.Transcript, ep.Patch, true
			}
			recs = append(recs, rec)
		}
	}
	s.calls = append(s.calls, c)
	return recs, nil
}

// checkNewTasks fails the test if a task was collected in two calls.
func (s *scriptedRollouts) checkNewTasks() {
	seen := map[string]bool{}
	for _, call := range s.calls {
		for _, id := range call.tasks {
			if seen[id] {
				s.t.Errorf("task %s collected twice", id)
			}
			seen[id] = true
		}
	}
}

func (s *scriptedRollouts) kinds() []string {
	var ks []string
	for _, c := range s.calls {
		ks = append(ks, c.kind)
	}
	return ks
}

const scriptedConfirmTasks = 8

// probeLines lists the run's pretraining probes from its metrics, as kind@traces.
func probeLines(t *testing.T, out string) []string {
	t.Helper()
	var probes []string
	for _, l := range metricLines(t, out) {
		if l.Kind == "pretrain_probe" {
			probes = append(probes, fmt.Sprintf("%s@%d", l.Probe, l.Traces))
		}
	}
	return probes
}

// rulesRun is a recipe run over smallRecipe whose rollouts follow fracs.
func rulesRun(t *testing.T, r Recipe, fracs map[string][]float64) (*recipeRun, *scriptedRollouts, string) {
	t.Helper()
	var progress strings.Builder
	out := t.TempDir()
	if err := os.Mkdir(filepath.Join(out, "checkpoints"), 0o755); err != nil {
		t.Fatal(err)
	}
	m, err := OpenMetrics(filepath.Join(out, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	rr, err := newRecipeRun(TrainOptions{Recipe: r, Out: out, Progress: &progress}, m)
	if err != nil {
		t.Fatal(err)
	}
	s := &scriptedRollouts{t: t, fracs: fracs}
	rr.collect = s.collect
	s.progress = &progress
	return rr, s, out
}

func rulesRecipe() Recipe {
	r := smallRecipe()
	r.Pretrain.Traces.Ours, r.Pretrain.ProbeEvery.Ours, r.Pretrain.TargetPass1.Ours = 60, 10, 0.5
	r.Pretrain.ConfirmTasks.Ours, r.Pretrain.ConfirmSamples.Ours = scriptedConfirmTasks, 2
	r.Pretrain.CeilingPass1.Ours, r.Pretrain.MaxProbeEvery.Ours = 0, 0
	return r
}

// Pretraining stops only when a confirmation probe on other tasks reads the target
// too: a screening probe's lucky reading alone does not stop it. With confirm_tasks 0
// (the old rule) the first screening probe at the target stops it.
func TestPretrainStopsOnAConfirmedTarget(t *testing.T) {
	fracs := func() map[string][]float64 {
		return map[string][]float64{"screen": {0, 0.5, 0.25, 0.75, 0.5, 0}, "confirm": {0.25, 0.5}}
	}
	rr, s, out := rulesRun(t, rulesRecipe(), fracs())
	if err := rr.pretrain(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []string{"screen", "screen", "confirm", "screen", "screen", "confirm"}
	if got := s.kinds(); !slices.Equal(got, want) {
		t.Fatalf("probes: %v, want %v (stop at the second confirmation)", got, want)
	}
	if probes, want := probeLines(t, out), []string{"screen@10", "screen@20", "confirm@20", "screen@30", "screen@40", "confirm@40"}; !slices.Equal(probes, want) {
		t.Errorf("metrics probes: %v, want %v", probes, want)
	}
	for _, id := range s.calls[2].tasks {
		if slices.Contains(s.calls[0].tasks, id) {
			t.Errorf("task %s is in both the screening and the confirmation probe", id)
		}
	}

	old := rulesRecipe()
	old.Pretrain.ConfirmTasks.Ours = 0
	rr, s, _ = rulesRun(t, old, fracs())
	if err := rr.pretrain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := s.kinds(); !slices.Equal(got, []string{"screen", "screen"}) {
		t.Errorf("old rule: probes %v, want it to stop at the first screening probe at the target", got)
	}
}

// A confirmed reading over the ceiling undoes the chunk that leapt and walks its
// traces again in smaller chunks, stopping where a probe confirms a rate in the band.
func TestPretrainUndoesALeapOverTheCeiling(t *testing.T) {
	r := rulesRecipe()
	r.Pretrain.CeilingPass1.Ours, r.Pretrain.MinProbeEvery.Ours = 0.75, 2
	rr, s, out := rulesRun(t, r, map[string][]float64{"screen": {0, 0.75, 0.5}, "confirm": {1, 0.625}})
	if err := rr.pretrain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if probes, want := probeLines(t, out), []string{"screen@10", "screen@20", "confirm@20", "rollback@10", "screen@12", "confirm@12"}; !slices.Equal(probes, want) {
		t.Errorf("metrics probes: %v, want %v", probes, want)
	}
	if len(s.fracs["screen"])+len(s.fracs["confirm"]) != 0 {
		t.Errorf("readings left over: %v", s.fracs)
	}
}

// While screening probes read under a quarter of the target, chunks double up to
// max_probe_every; a reading nearer the target brings them back to probe_every. Once
// a grown chunk is undone (it leapt over the ceiling), chunks never grow again.
func TestPretrainGrowsChunksFarBelowTheTarget(t *testing.T) {
	for _, c := range []struct {
		name           string
		screen, confir []float64
		want           []string
	}{
		{"grow, then back near the target", []float64{0, 0, 0.25, 0, 0.5}, []float64{0.5},
			[]string{"screen@10", "screen@30", "screen@70", "screen@80", "screen@100", "confirm@100"}},
		{"a grown chunk leaps over the ceiling", []float64{0, 0, 1, 0, 0.5}, []float64{1, 0.5},
			[]string{"screen@10", "screen@30", "screen@70", "confirm@70", "rollback@30", "screen@40", "screen@50", "confirm@50"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := rulesRecipe()
			r.Pretrain.Traces.Ours, r.Pretrain.MaxProbeEvery.Ours = 200, 40
			r.Pretrain.CeilingPass1.Ours, r.Pretrain.MinProbeEvery.Ours = 0.75, 2
			rr, s, out := rulesRun(t, r, map[string][]float64{"screen": c.screen, "confirm": c.confir})
			if err := rr.pretrain(context.Background()); err != nil {
				t.Fatal(err)
			}
			if probes := probeLines(t, out); !slices.Equal(probes, c.want) {
				t.Errorf("metrics probes: %v, want %v", probes, c.want)
			}
			if len(s.fracs["screen"])+len(s.fracs["confirm"]) != 0 {
				t.Errorf("readings left over: %v", s.fracs)
			}
		})
	}
}

// RFT collects round after round, on new tasks, until it holds min_resolved resolved
// trajectories; max_rollouts caps it; min_resolved 0 is one round.
func TestRFTCollectsUntilEnoughResolved(t *testing.T) {
	for _, c := range []struct {
		name                 string
		minResolved, maxRoll int
		frac                 float64
		rounds, resolved     int
	}{
		{"enough after three rounds", 5, 40, 0.25, 3, 6},
		{"capped", 5, 16, 0.125, 2, 2},
		{"one round", 0, 8, 0.25, 1, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := rulesRecipe()
			r.RFT.Tasks.Ours, r.RFT.Samples.Ours, r.RFT.Epochs.Ours, r.RFT.Passes.Ours = 4, 2, 1, 1
			r.RFT.MinResolved.Ours, r.RFT.MaxRollouts.Ours = c.minResolved, c.maxRoll
			rr, s, out := rulesRun(t, r, map[string][]float64{"rft_collect": {c.frac, c.frac, c.frac, c.frac, c.frac}})
			if err := rr.rft(context.Background()); err != nil {
				t.Fatal(err)
			}
			if len(s.calls) != c.rounds {
				t.Fatalf("%d rounds, want %d", len(s.calls), c.rounds)
			}
			s.checkNewTasks()
			var data []MetricsLine
			for _, l := range metricLines(t, out) {
				if l.Kind == "rft_data" {
					data = append(data, l)
				}
			}
			if len(data) != 1 || data[0].Resolved != c.resolved || data[0].Episodes != 8*c.rounds {
				t.Errorf("rft_data lines: %+v, want one with %d resolved of %d", data, c.resolved, 8*c.rounds)
			}
			if !strings.Contains(s.progress.String(), "RFT pass 1, epoch 1:") {
				t.Errorf("RFT did not fine-tune on what it collected:\n%s", s.progress)
			}
		})
	}
}

// Each RFT pass collects with the model the last pass fine-tuned, on new tasks; the
// passes end when a collection resolves target_pass1 (that collection is not trained
// on), when they run out, or when max_rollouts leaves no room for another.
func TestRFTPassesUntilTheTarget(t *testing.T) {
	for _, c := range []struct {
		name          string
		fracs         []float64
		maxRoll, pool int      // pool: training tasks (0: rulesRecipe's)
		rates         []string // resolved/rollouts of each pass's rft_data line
		trained       int      // passes fine-tuned on
	}{
		{"the second pass reads the target", []float64{0.25, 0.25, 0.5}, 100, 0, []string{"4/16", "4/8"}, 1},
		{"the passes run out", []float64{0.25, 0.25, 0.25, 0.25, 0.25, 0.25}, 100, 0, []string{"4/16", "4/16", "4/16"}, 3},
		{"max_rollouts ends them", []float64{0.25, 0.25, 0.25}, 20, 0, []string{"4/16"}, 1},
		{"the pool has no new tasks left", []float64{0.5, 0.25, 0.25, 0.25}, 100, 12, []string{"4/8", "4/16"}, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := rulesRecipe()
			r.RFT.Tasks.Ours, r.RFT.Samples.Ours, r.RFT.Epochs.Ours = 4, 2, 1
			r.RFT.Passes.Ours, r.RFT.TargetPass1.Ours = 3, 0.5
			r.RFT.MinResolved.Ours, r.RFT.MaxRollouts.Ours = 4, c.maxRoll
			if c.pool > 0 {
				r.World.TrainTasks.Ours = c.pool
			}
			rr, s, out := rulesRun(t, r, map[string][]float64{"rft_collect": c.fracs})
			if err := rr.rft(context.Background()); err != nil {
				t.Fatal(err)
			}
			var rates []string
			for _, l := range metricLines(t, out) {
				if l.Kind == "rft_data" {
					if l.Iteration != len(rates)+1 {
						t.Errorf("rft_data line %d is for pass %d", len(rates)+1, l.Iteration)
					}
					rates = append(rates, fmt.Sprintf("%d/%d", l.Resolved, l.Episodes))
				}
			}
			if !slices.Equal(rates, c.rates) {
				t.Errorf("passes collected %v, want %v", rates, c.rates)
			}
			s.checkNewTasks()
			p := s.progress.String()
			for pass := 1; pass <= 3; pass++ {
				if got, want := strings.Contains(p, fmt.Sprintf("RFT pass %d, epoch 1:", pass)), pass <= c.trained; got != want {
					t.Errorf("pass %d fine-tuned: %v, want %v\n%s", pass, got, want, p)
				}
			}
		})
	}
}

// With rft.accumulate a pass fine-tunes on every pass's resolved trajectories so far:
// its tokens are the sum of what each pass alone fine-tunes on (the scripted
// collections do not depend on the model, so both runs collect the same records).
func TestRFTAccumulatesPasses(t *testing.T) {
	tokens := func(accumulate bool) []int {
		r := rulesRecipe()
		r.RFT.Tasks.Ours, r.RFT.Samples.Ours, r.RFT.Epochs.Ours = 4, 2, 1
		r.RFT.Passes.Ours, r.RFT.TargetPass1.Ours = 3, 0.5
		r.RFT.MinResolved.Ours, r.RFT.MaxRollouts.Ours = 4, 100
		r.RFT.Accumulate.Ours = accumulate
		rr, s, _ := rulesRun(t, r, map[string][]float64{"rft_collect": {0.25, 0.25, 0.25, 0.25, 0.25, 0.25}})
		if err := rr.rft(context.Background()); err != nil {
			t.Fatal(err)
		}
		var n []int
		for _, m := range regexp.MustCompile(`RFT pass (\d+), epoch 1: (\d+) tokens`).FindAllStringSubmatch(s.progress.String(), -1) {
			v, _ := strconv.Atoi(m[2])
			n = append(n, v)
		}
		if len(n) != 3 {
			t.Fatalf("accumulate %v: %d passes fine-tuned, want 3\n%s", accumulate, len(n), s.progress.String())
		}
		return n
	}
	own, acc := tokens(false), tokens(true)
	want := []int{own[0], own[0] + own[1], own[0] + own[1] + own[2]}
	if !slices.Equal(acc, want) {
		t.Errorf("accumulated passes fine-tuned on %v tokens, want %v (each pass alone: %v)", acc, want, own)
	}
}
