package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/swerl/swerl/actors"
	"github.com/swerl/swerl/internal/atomicfile"
	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/observe"
	"github.com/swerl/swerl/policy/tiny"
	"github.com/swerl/swerl/sim"
)

// TrainOptions runs the embedded recipe (`swerl train`).
type TrainOptions struct {
	Recipe Recipe
	// Out receives metrics.jsonl, checkpoints/, curve.svg and table.txt.
	Out      string
	Progress io.Writer // nil: quiet
	Logger   hclog.Logger
	// Watcher, if set, sees every rollout, record, barrier and evaluation as it
	// happens (metrics, the live page, the progress line).
	Watcher observe.Watcher
	// Resume picks the run up after its last finished phase: the phases whose
	// checkpoints/<stage>.ckpt exist in Out are not run again (each is loaded and
	// evaluated for its table row), and training goes on from the latest.
	Resume bool
	// Cluster, if set, runs every rollout's episodes on the cluster's workers.
	Cluster Cluster
}

// TrainResult is the recipe's outcome: the paper's Table 1 rows and the learning curve.
type TrainResult struct {
	Rows  []TableRow
	Curve []CurvePoint
}

// frozen is the trainer of evaluation runs over the tiny model: it learns nothing and
// moves the version on, so the engine's barrier protocol holds.
type frozen struct{ m *tiny.Model }

func (f frozen) Version() int { return f.m.Version() }
func (f frozen) Train(ctx context.Context, b messages.TrainBatch) (messages.TrainStats, error) {
	f.m.SetVersion(f.m.Version() + 1)
	return messages.TrainStats{Trajectories: b.Len(), SkippedEmpty: b.Len() == 0}, nil
}

type recipeRun struct {
	opts    TrainOptions
	r       Recipe
	model   *tiny.Model
	trainer *tiny.Trainer
	pol     *tiny.Policy
	pool    []sim.Task
	heldOut []sim.Task
	sims    []sim.Config // the configs pool and heldOut are drawn from (for cluster workers)
	metrics *MetricsFile
	step    int
	curve   []CurvePoint
	begin   time.Time

	lastEval  PassRates // the latest held-out evaluation, of lastStage at lastStep
	lastStage string
	lastStep  int

	// collect rolls tasks out g times each with the current model, learning nothing,
	// for the pretraining probes and RFT's data (collectRollouts; tests script it).
	collect func(ctx context.Context, stage string, tasks []sim.Task, g, turnCap int, seed uint64) ([]messages.EpisodeRecord, error)
}

// collectRollouts is collect through the actor engine.
func (rr *recipeRun) collectRollouts(ctx context.Context, stage string, tasks []sim.Task, g, turnCap int, seed uint64) ([]messages.EpisodeRecord, error) {
	it, err := rr.rollouts(ctx, stage, tasks, g, turnCap, 0, seed, false)
	return it.Records, err
}

func (rr *recipeRun) say(format string, args ...any) {
	if rr.opts.Progress != nil {
		fmt.Fprintf(rr.opts.Progress, "[%6.1fs] %s\n", time.Since(rr.begin).Seconds(), fmt.Sprintf(format, args...))
	}
}

// Train runs the embedded recipe: a base model pretrained on noisy expert traces,
// RFT on its own resolved rollouts, then RL stages 1 and 2 (synchronous DAPO), with a
// held-out evaluation after each phase and each RL iteration.
func Train(ctx context.Context, opts TrainOptions) (TrainResult, error) {
	r := opts.Recipe
	if err := r.Validate(); err != nil {
		return TrainResult{}, err
	}
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if err := os.MkdirAll(filepath.Join(opts.Out, "checkpoints"), 0o755); err != nil {
		return TrainResult{}, fmt.Errorf("output directory: %w", err)
	}
	metrics, err := OpenMetrics(filepath.Join(opts.Out, "metrics.jsonl"))
	if err != nil {
		return TrainResult{}, err
	}
	defer metrics.Close()
	rr, err := newRecipeRun(opts, metrics)
	if err != nil {
		return TrainResult{}, err
	}
	rr.say("SimSWE %s: %d training tasks, %d held-out; tiny model %d parameters", r.World.Preset, len(rr.pool), len(rr.heldOut), rr.model.NumParams())

	var res TrainResult
	row := func(name, stage string) error {
		p, err := rr.lastEval, error(nil)
		if rr.lastStage != stage || rr.lastStep != rr.step {
			p, err = rr.evaluate(ctx, stage)
		}
		if err != nil {
			return err
		}
		res.Rows = append(res.Rows, TableRow{Model: name, Rates: p})
		return rr.checkpoint(stage)
	}
	phases := []struct {
		name, stage string
		run         func(context.Context) error
	}{
		{"base (pretrained on noisy expert traces)", "base", rr.pretrain},
		{"+ RFT", "rft", rr.rft},
		{"+ RL stage 1", "stage1", func(ctx context.Context) error { return rr.rl(ctx, "stage1", r.Stage1, rr.pool) }},
		{"+ RL stage 2", "stage2", func(ctx context.Context) error { return rr.rl(ctx, "stage2", r.Stage2, rr.harderPool(ctx)) }},
	}
	done := -1
	if opts.Resume {
		for i, ph := range phases {
			if _, err := os.Stat(rr.ckptPath(ph.stage)); err == nil {
				done = i
			}
		}
	}
	rlSteps := map[string]int{"stage1": r.Stage1.Iterations.Ours, "stage2": r.Stage2.Iterations.Ours}
	for i, ph := range phases {
		if i <= done {
			if err := rr.trainer.Load(rr.ckptPath(ph.stage)); err != nil {
				return res, fmt.Errorf("resume: %w", err)
			}
			rr.step += rlSteps[ph.stage]
			rr.say("%s: resumed from %s", ph.name, rr.ckptPath(ph.stage))
			p, ok := rr.measured(ph.stage)
			if !ok {
				// Measuring again moves the version on, so the rest of the run is
				// not the one the first run would have made.
				rr.say("  no held-out evaluation of %s at version %d in metrics.jsonl: evaluating again", ph.stage, rr.model.Version())
				if p, err = rr.evaluate(ctx, ph.stage); err != nil {
					return res, fmt.Errorf("%s: held-out evaluation: %w", ph.stage, err)
				}
			}
			res.Rows = append(res.Rows, TableRow{Model: ph.name, Rates: p})
			continue
		}
		rr.say("%s ...", ph.name)
		if err := ph.run(ctx); err != nil {
			return res, fmt.Errorf("%s: %w", ph.stage, err)
		}
		if err := row(ph.name, ph.stage); err != nil {
			return res, fmt.Errorf("%s: held-out evaluation: %w", ph.stage, err)
		}
	}
	res.Curve = rr.curve
	marks := map[string]float64{"base": res.Rows[0].Rates.Pass1, "rft": res.Rows[1].Rates.Pass1}
	svg := LearningCurveSVG("SimSWE held-out pass@1 (swerl train)", rr.curve, marks)
	if err := atomicfile.WriteBytes(filepath.Join(opts.Out, "curve.svg"), svg); err != nil {
		return res, err
	}
	table := Table1(res.Rows, r.HeldOut.Samples.Ours)
	if err := atomicfile.WriteBytes(filepath.Join(opts.Out, "table.txt"), []byte(table)); err != nil {
		return res, err
	}
	rr.say("done\n\n%s", table)
	return res, nil
}

// newRecipeRun builds the recipe's world (the training pool and the held-out tasks),
// the tiny model, its trainer and its policy.
func newRecipeRun(opts TrainOptions, metrics *MetricsFile) (*recipeRun, error) {
	r := opts.Recipe
	world, err := simPreset(r.World.Preset)
	if err != nil {
		return nil, err
	}
	world.Seed = r.Seed
	pool := sim.Generate(world, r.World.TrainTasks.Ours)
	held := world
	held.Seed = r.Seed + 1_000_003 // disjoint from the training pool
	tok := tiny.NewTokenizer(sim.Vocab())
	mcfg := tiny.DefaultConfig()
	mcfg.Seed = r.Seed
	if m := r.Model; m.Window.Ours > 0 {
		mcfg.Window, mcfg.Dim, mcfg.Heads, mcfg.Hidden = m.Window.Ours, m.Dim.Ours, m.Heads.Ours, m.Hidden.Ours
	}
	model, err := tiny.New(mcfg, tok)
	if err != nil {
		return nil, err
	}
	tcfg := tiny.DefaultTrainConfig()
	tcfg.Seed = r.Seed
	trainer, err := tiny.NewTrainer(model, tcfg)
	if err != nil {
		return nil, err
	}
	rr := &recipeRun{opts: opts, r: r, model: model, trainer: trainer, pool: pool,
		heldOut: sim.Generate(held, r.HeldOut.Tasks.Ours), sims: []sim.Config{world, held}, metrics: metrics, begin: time.Now(),
		pol: tiny.NewPolicy(model, tiny.PolicyConfig{Seed: r.Seed, MaxBatch: 256})}
	rr.collect = rr.collectRollouts
	return rr, nil
}

func simPreset(name string) (sim.Config, error) {
	switch name {
	case "easy":
		return sim.Easy(), nil
	case "", "default":
		return sim.Default(), nil
	case "hard":
		return sim.Hard(), nil
	case "guided":
		return sim.Guided(), nil
	}
	return sim.Config{}, fmt.Errorf("world.preset %q: want easy, default, guided or hard", name)
}

// rollouts runs every task of tasks g times with the current model through the actor
// engine, with turnCap turns and the turn penalty starting at lthr (0: the engine's
// default, for runs that learn nothing, where the penalty is moot). learn false means
// evaluation or data collection: the frozen trainer only moves the version on.
func (rr *recipeRun) rollouts(ctx context.Context, stage string, tasks []sim.Task, g, turnCap, lthr int, seed uint64, learn bool) (IterationResult, error) {
	cfg := DefaultConfig()
	cfg.Iterations, cfg.TasksPerIteration, cfg.GroupSize, cfg.Seed = 1, len(tasks), g, seed
	for _, t := range tasks {
		cfg.Tasks = append(cfg.Tasks, t.TaskRef())
	}
	cfg.Policy, cfg.Sandboxes, cfg.Grader = rr.pol, sim.NewFactory(tasks), sim.NewGrader(tasks)
	cfg.Trainer = frozen{rr.model}
	if learn {
		cfg.Trainer = rr.trainer
	}
	cfg.StartVersion = rr.model.Version()
	cfg.Episode.TurnCap = turnCap
	if lthr > 0 {
		cfg.Episode.LengthThreshold = lthr
	}
	cfg.Logger = rr.opts.Logger
	cfg.Watcher, cfg.Stage = rr.opts.Watcher, stage
	cfg.Cluster, cfg.ClusterSims = rr.opts.Cluster, rr.sims
	res, err := Run(ctx, cfg)
	if err != nil {
		return IterationResult{}, err
	}
	if len(res.Iterations) != 1 {
		return IterationResult{}, errors.New("the engine ran no iteration")
	}
	return IterationResult{res.Iterations[0]}, nil
}

// measured is the held-out evaluation a finished phase made before its checkpoint,
// read back from metrics.jsonl (the last eval line of stage at the checkpoint's policy
// version), and puts it on the curve. Reading it rather than measuring again keeps a
// resumed run the run it would have been: an evaluation moves the version on, and the
// version seeds the sampling.
func (rr *recipeRun) measured(stage string) (PassRates, bool) {
	data, err := os.ReadFile(filepath.Join(rr.opts.Out, "metrics.jsonl"))
	if err != nil {
		return PassRates{}, false
	}
	var p PassRates
	found := false
	for _, line := range bytes.Split(data, []byte("\n")) {
		var l MetricsLine
		if json.Unmarshal(line, &l) != nil || l.Kind != "eval" || l.Stage != stage || l.Version != rr.model.Version() || l.Pass1 == nil || l.PassG == nil {
			continue // a line cut by a crash is skipped
		}
		p, found = PassRates{Tasks: l.Tasks, Samples: l.Episodes, Pass1: *l.Pass1, PassG: *l.PassG}, true
		if p.Tasks == 0 { // a line from before eval lines held their tasks
			p.Tasks = len(rr.heldOut)
		}
	}
	if found {
		rr.lastEval, rr.lastStage, rr.lastStep = p, stage, rr.step
		rr.curve = append(rr.curve, CurvePoint{Step: rr.step, Stage: stage, Pass1: p.Pass1})
		rr.say("  held-out (%s, step %d): pass@1 %.1f%%, pass@%d %.1f%% (measured before the checkpoint)", stage, rr.step, 100*p.Pass1, rr.r.HeldOut.Samples.Ours, 100*p.PassG)
	}
	return p, found
}

// evaluate measures held-out pass@1 and pass@G and puts a point on the curve.
func (rr *recipeRun) evaluate(ctx context.Context, stage string) (PassRates, error) {
	it, err := rr.rollouts(ctx, "eval", rr.heldOut, rr.r.HeldOut.Samples.Ours, rr.r.HeldOut.TurnCap.Ours, 0, rr.r.Seed+7, false)
	if err != nil {
		return PassRates{}, err
	}
	p := Pass(it.Records)
	rr.lastEval, rr.lastStage, rr.lastStep = p, stage, rr.step
	rr.curve = append(rr.curve, CurvePoint{Step: rr.step, Stage: stage, Pass1: p.Pass1})
	if rr.opts.Watcher != nil {
		rr.opts.Watcher.Eval(observe.Eval{Stage: stage, Step: rr.step, Version: rr.model.Version(), Pass1: p.Pass1, PassG: p.PassG,
			Tasks: len(rr.heldOut), Samples: rr.r.HeldOut.Samples.Ours})
	}
	rr.say("  held-out (%s, step %d): pass@1 %.1f%%, pass@%d %.1f%%", stage, rr.step, 100*p.Pass1, rr.r.HeldOut.Samples.Ours, 100*p.PassG)
	return p, rr.metrics.Write(EvalLine(stage, rr.step, rr.model.Version(), p))
}

// pretrain makes the weak base model (PAPER.md starts from a model that resolves about
// 10%): SFT on noisy expert traces, probe_every traces at a time, until pass@1 on
// training-pool tasks reaches target_pass1 or the traces (times epochs) run out. A
// small screening probe follows each chunk; when it reads the target, a larger
// confirmation probe on other tasks must read it too (confirm_tasks 0: the screening
// probe alone decides), and a confirmed reading above ceiling_pass1 undoes the chunk
// and walks its traces again in smaller chunks. Stopping at a measured rate rather
// than after a fixed budget keeps the base where the recipe wants it whatever the
// seed; confirming it keeps one lucky reading of a noisy probe from stopping too early,
// and the ceiling keeps a leap of the rate within one chunk from overshooting.
func (rr *recipeRun) pretrain(ctx context.Context) error {
	pt := rr.r.Pretrain
	noisy := sim.Noisy{P: pt.Noise.Ours, Seed: rr.r.Seed}
	var recs []messages.EpisodeRecord
	for i := 0; i < pt.Traces.Ours; i++ {
		task := rr.pool[i%len(rr.pool)]
		ref := messages.EpisodeRef{Group: i, TaskID: task.ID}
		ep, err := sim.RunEpisode(ctx, noisy, task, ref, rr.r.HeldOut.TurnCap.Ours)
		if err != nil {
			return err
		}
		recs = append(recs, messages.EpisodeRecord{Ref: ref, Task: task.TaskRef(), Status: messages.Finished,
			Stop: ep.Stop, Transcript: ep.Transcript, Patch: ep.Patch, Resolved: ep.Resolved})
	}
	cfg := rr.trainer.Config()
	cfg.LR, cfg.MaskFormatErrors = pt.LR.Ours, false
	cfg.TrajectoriesPerStep, cfg.PositionsPerStep = 0, pt.Batch.Ours
	if err := rr.trainer.SetConfig(cfg); err != nil {
		return err
	}
	n := len(rr.pool)
	screen := rr.pool[n-min(pt.ProbeTasks.Ours, n):]
	confirm := rr.pool[max(0, n-len(screen)-pt.ConfirmTasks.Ours) : n-len(screen)]
	// Before each chunk the trainer is saved, so that a confirmed reading above the
	// ceiling can go back to it and walk the same traces in smaller chunks: the probe
	// rate can leap within one chunk (the tiny model learns to copy a line at once).
	prev := filepath.Join(rr.opts.Out, "checkpoints", "pretrain-previous.ckpt")
	defer os.Remove(prev)
	// every is the chunk after a probe near the target; size is the next chunk's,
	// which grows up to max_probe_every while probes read far below it (never again
	// once a chunk was undone).
	every, seen, tokens := pt.ProbeEvery.Ours, 0, 0
	size, grow := every, pt.MaxProbeEvery.Ours > every
	total := pt.Epochs.Ours * len(recs)
	for seen < total {
		if err := rr.trainer.Save(prev); err != nil {
			return fmt.Errorf("pretraining checkpoint: %w", err)
		}
		var chunk []messages.EpisodeRecord
		for i := seen; i < min(seen+size, total); i++ {
			chunk = append(chunk, recs[i%len(recs)])
		}
		st, err := rr.trainer.SFT(ctx, chunk)
		if err != nil {
			return err
		}
		seen, tokens = seen+len(chunk), tokens+st.Tokens
		probed, err := rr.collect(ctx, "pretrain_probe", screen, pt.ProbeSamples.Ours, rr.r.HeldOut.TurnCap.Ours, rr.r.Seed+3)
		if err != nil {
			return err
		}
		p := Pass(probed)
		rr.say("  pretrain: %d traces (%d tokens), loss %.3f, probe pass@1 %.1f%%", seen, tokens, st.Loss, 100*p.Pass1)
		if err := rr.metrics.Write(PretrainLine("screen", seen, tokens, st.Loss, p)); err != nil {
			return err
		}
		size = every
		if p.Pass1 < pt.TargetPass1.Ours {
			if grow && p.Pass1 < pt.TargetPass1.Ours/4 {
				size = min(2*len(chunk), pt.MaxProbeEvery.Ours)
			}
			continue
		}
		c := p
		if len(confirm) > 0 {
			probed, err = rr.collect(ctx, "pretrain_probe", confirm, pt.ConfirmSamples.Ours, rr.r.HeldOut.TurnCap.Ours, rr.r.Seed+5)
			if err != nil {
				return err
			}
			c = Pass(probed)
			if err := rr.metrics.Write(PretrainLine("confirm", seen, tokens, st.Loss, c)); err != nil {
				return err
			}
		}
		ceiling := pt.CeilingPass1.Ours
		switch {
		case c.Pass1 < pt.TargetPass1.Ours:
			rr.say("  pretrain: confirmation probe (%d tasks x %d) pass@1 %.1f%%, below the target: pretraining goes on", len(confirm), pt.ConfirmSamples.Ours, 100*c.Pass1)
			continue
		case ceiling > 0 && c.Pass1 > ceiling && len(chunk) > pt.MinProbeEvery.Ours:
			smaller := max(pt.MinProbeEvery.Ours, len(chunk)/4)
			rr.say("  pretrain: probe pass@1 %.1f%% is over the ceiling %.0f%%: back to %d traces, on in chunks of %d", 100*c.Pass1, 100*ceiling, seen-len(chunk), smaller)
			if err := rr.trainer.Load(prev); err != nil {
				return fmt.Errorf("pretraining checkpoint: %w", err)
			}
			seen, tokens, every, size, grow = seen-len(chunk), tokens-st.Tokens, smaller, smaller, false
			if err := rr.metrics.Write(PretrainLine("rollback", seen, tokens, st.Loss, c)); err != nil {
				return err
			}
			continue
		}
		if len(confirm) > 0 {
			rr.say("  pretrain: confirmation probe (%d tasks x %d) pass@1 %.1f%%, confirmed", len(confirm), pt.ConfirmSamples.Ours, 100*c.Pass1)
		}
		if ceiling > 0 && c.Pass1 > ceiling {
			rr.say("  pretrain: over the ceiling at the smallest chunk (%d traces): the base stays here", len(chunk))
		}
		return nil
	}
	rr.say("  pretrain: the traces ran out before a probe confirmed %.0f%%", 100*pt.TargetPass1.Ours)
	return nil
}

// rft samples G rollouts per task, keeps the resolved ones, and fine-tunes on them
// with format-error turns masked (PAPER.md, Phase 1). It collects round by round, on
// new training-pool tasks each round, until it holds min_resolved resolved
// trajectories or has spent max_rollouts: a fixed number of rollouts gives a weak base
// too few to learn from. A pass is one collection and the fine-tuning on it; the next
// pass collects with the fine-tuned model (expert iteration), and runs only while the
// last collection resolved less than target_pass1: a base that one pass lifts too
// little gets another, on its own new successes, and a strong one is not pushed on.
// With accumulate, a pass fine-tunes on every pass's successes so far: the tiny
// model's leap (it learns to copy a line from the trace) needs more steps on more
// data than one pass's collection gives a weak base.
func (rr *recipeRun) rft(ctx context.Context) error {
	f := rr.r.RFT
	cfg := rr.trainer.Config()
	cfg.LR, cfg.WeightDecay, cfg.WarmupSteps = f.LR.Ours, f.WeightDecay.Ours, f.WarmupSteps.Ours
	cfg.TrajectoriesPerStep, cfg.MaskFormatErrors = f.Batch.Ours, f.MaskFormatErrors.Ours
	if err := rr.trainer.SetConfig(cfg); err != nil {
		return err
	}
	round, spent := 0, 0              // collection rounds and rollouts so far, over every pass
	var data []messages.EpisodeRecord // what a pass fine-tunes on
	for pass := 1; pass <= f.Passes.Ours; pass++ {
		keep, rollouts, tokens, err := rr.rftCollect(ctx, &round, &spent)
		if err != nil {
			return err
		}
		rate := float64(len(keep)) / float64(max(1, rollouts))
		if err := rr.metrics.Write(RFTLine(pass, rollouts, len(keep), tokens)); err != nil {
			return err
		}
		if pass > 1 && rate >= f.TargetPass1.Ours {
			rr.say("  RFT pass %d: the model resolves %.1f%% of its collection, at least the target %.0f%%: RFT stops", pass, 100*rate, 100*f.TargetPass1.Ours)
			return nil
		}
		if len(keep) < f.MinResolved.Ours {
			rr.say("  RFT pass %d: %d resolved is fewer than min_resolved (%d) within max_rollouts (%d); fine-tuning on what there is", pass, len(keep), f.MinResolved.Ours, f.MaxRollouts.Ours)
		}
		if len(keep) == 0 {
			rr.say("  RFT pass %d: nothing to fine-tune on (the model resolved no task); the model is unchanged", pass)
			return nil
		}
		if !f.Accumulate.Ours {
			data = data[:0]
		}
		data = append(data, keep...)
		for e := 0; e < f.Epochs.Ours; e++ {
			st, err := rr.trainer.SFT(ctx, data)
			if err != nil {
				return err
			}
			rr.say("  RFT pass %d, epoch %d: %d tokens, loss %.3f", pass, e+1, st.Tokens, st.Loss)
		}
		per := min(f.Tasks.Ours, len(rr.pool))
		switch {
		case pass == f.Passes.Ours:
		case spent+per*f.Samples.Ours > f.MaxRollouts.Ours:
			rr.say("  RFT: max_rollouts (%d) leaves no room for another pass", f.MaxRollouts.Ours)
			return nil
		case round >= len(rr.pool)/per:
			rr.say("  RFT: the training pool has no new tasks left for another pass")
			return nil
		}
	}
	return nil
}

// rftCollect is one RFT pass's collection: rounds of new tasks until min_resolved
// resolved trajectories, max_rollouts (over every pass) or the pool's end. round and
// spent carry over from pass to pass.
func (rr *recipeRun) rftCollect(ctx context.Context, round, spent *int) (keep []messages.EpisodeRecord, rollouts, tokens int, err error) {
	f := rr.r.RFT
	per := min(f.Tasks.Ours, len(rr.pool))
	for ; ; *round++ {
		tasks := make([]sim.Task, per)
		for i := range tasks {
			tasks[i] = rr.pool[(*round*per+i)%len(rr.pool)]
		}
		recs, err := rr.collect(ctx, "rft_collect", tasks, f.Samples.Ours, rr.r.Stage1.TurnCap.Ours, rr.r.Seed+11+7919*uint64(*round))
		if err != nil {
			return nil, 0, 0, err
		}
		rollouts, *spent = rollouts+len(recs), *spent+len(recs)
		for _, rec := range recs {
			if rec.Status == messages.Finished && rec.Resolved {
				keep = append(keep, rec)
				tokens += rec.AssistantTokens()
			}
		}
		rr.say("  RFT data: %d resolved of %d rollouts (%d assistant tokens)", len(keep), rollouts, tokens)
		if len(keep) >= f.MinResolved.Ours || *spent+per*f.Samples.Ours > f.MaxRollouts.Ours || *round+1 >= len(rr.pool)/per {
			*round++
			return keep, rollouts, tokens, nil
		}
	}
}

// rl runs one synchronous-DAPO stage: each iteration samples tasks from pool, rolls
// out G per task at temperature 1, and trains at the barrier.
func (rr *recipeRun) rl(ctx context.Context, stage string, s RLStage, pool []sim.Task) error {
	if len(pool) == 0 {
		return errors.New("empty task pool")
	}
	cfg := rr.trainer.Config()
	cfg.LR, cfg.WeightDecay, cfg.GradClip = s.LR.Ours, s.WeightDecay.Ours, s.GradClip.Ours
	cfg.TrajectoriesPerStep, cfg.MaskFormatErrors = s.TrajectoriesPerStep.Ours, false
	cfg.Loss.EpsLow, cfg.Loss.EpsHigh = s.EpsLow.Ours, s.EpsHigh.Ours
	if err := rr.trainer.SetConfig(cfg); err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(rr.r.Seed, uint64(len(stage))))
	first, err := rr.resumeBarrier(stage)
	if err != nil {
		return err
	}
	for k := 0; k < s.Iterations.Ours; k++ {
		n := min(s.TasksPerIteration.Ours, len(pool))
		perm := rng.Perm(len(pool))
		if k < first {
			continue // done before the restart: replay the draw, keep the task sequence
		}
		tasks := make([]sim.Task, n)
		for i := range tasks {
			tasks[i] = pool[perm[i]]
		}
		it, err := rr.rollouts(ctx, stage, tasks, s.GroupSize.Ours, s.TurnCap.Ours, s.LengthThreshold.Ours, rr.r.Seed+uint64(1000*rr.step+k), true)
		if err != nil {
			return err
		}
		rr.step++
		rep := it.IterationReport
		if err := rr.metrics.Write(IterationLine(stage, rr.step, rep)); err != nil {
			return err
		}
		if err := rr.saveBarrier(stage, k+1); err != nil {
			return err
		}
		rr.say("  %s iteration %d: resolved %d/%d, groups kept %d (dropped %d zero-advantage), batch %d, loss %.4f, clip low/high %.3f/%.3f",
			stage, k+1, rep.Resolved, rep.Requested, rep.GroupsKept, rep.GroupsDroppedZeroAdvantage, rep.BatchSize,
			rep.Train.Loss, rep.Train.ClipFracLow, rep.Train.ClipFracHigh)
		if (k+1)%rr.r.HeldOut.Every.Ours == 0 || k+1 == s.Iterations.Ours {
			if _, err := rr.evaluate(ctx, stage); err != nil {
				return err
			}
		}
	}
	return nil
}

// harderPool is stage 2's pool (PAPER.md): tasks the current model solves at least
// pool_drop_solved_at_least of the time, and those it never solves, are dropped. It
// probes 8 iterations' worth of tasks, 3 samples each, so that the pool left is not so
// small that stage 2 trains on the same few tasks every iteration.
func (rr *recipeRun) harderPool(ctx context.Context) []sim.Task {
	s := rr.r.Stage2
	probe := rr.pool[:min(len(rr.pool), 8*s.TasksPerIteration.Ours)]
	it, err := rr.rollouts(ctx, "stage2_probe", probe, 3, s.TurnCap.Ours, 0, rr.r.Seed+23, false)
	if err != nil {
		return rr.pool
	}
	solved := map[string][2]int{}
	for _, rec := range it.Records {
		c := solved[rec.Task.ID]
		c[1]++
		if rec.Resolved {
			c[0]++
		}
		solved[rec.Task.ID] = c
	}
	var out []sim.Task
	for _, t := range probe {
		c := solved[t.ID]
		frac := float64(c[0]) / float64(max(1, c[1]))
		if (s.PoolDropNeverSolved.Ours && c[0] == 0) || (s.PoolDropSolvedAtLeast.Ours > 0 && frac >= s.PoolDropSolvedAtLeast.Ours) {
			continue
		}
		out = append(out, t)
	}
	rr.say("  stage 2 pool: %d of %d probed tasks are neither always nor never solved", len(out), len(probe))
	if len(out) == 0 {
		return probe
	}
	return out
}

func (rr *recipeRun) ckptPath(stage string) string {
	return filepath.Join(rr.opts.Out, "checkpoints", stage+".ckpt")
}

// barrier is what --resume needs to go on inside an RL stage from its last barrier:
// the trainer's checkpoint after iteration Done of the stage, and the global step.
type barrier struct {
	Stage string `json:"stage"`
	Done  int    `json:"iterations_done"`
	Step  int    `json:"step"`
	Ckpt  string `json:"checkpoint"`
}

func (rr *recipeRun) barrierPath(stage string) string {
	return filepath.Join(rr.opts.Out, "checkpoints", stage+".barrier.json")
}

// saveBarrier checkpoints the trainer after an RL iteration. The checkpoint is
// written under a new name before the pointer to it, so that a crash between the two
// leaves the previous barrier whole.
func (rr *recipeRun) saveBarrier(stage string, done int) error {
	name := fmt.Sprintf("%s.barrier-%d.ckpt", stage, done)
	dir := filepath.Join(rr.opts.Out, "checkpoints")
	if err := rr.trainer.Save(filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("barrier checkpoint: %w", err)
	}
	if err := atomicfile.WriteJSON(rr.barrierPath(stage), barrier{Stage: stage, Done: done, Step: rr.step, Ckpt: name}); err != nil {
		return fmt.Errorf("barrier checkpoint: %w", err)
	}
	if done > 1 {
		_ = os.Remove(filepath.Join(dir, fmt.Sprintf("%s.barrier-%d.ckpt", stage, done-1)))
	}
	return nil
}

// resumeBarrier loads the stage's last barrier when resuming, and returns how many of
// its iterations are done (0 when not resuming or none is).
func (rr *recipeRun) resumeBarrier(stage string) (int, error) {
	if !rr.opts.Resume {
		return 0, nil
	}
	data, err := os.ReadFile(rr.barrierPath(stage))
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("resume: %w", err)
	}
	var b barrier
	if err := json.Unmarshal(data, &b); err != nil || b.Stage != stage || b.Done < 1 || b.Ckpt == "" {
		return 0, fmt.Errorf("resume: %s is not a barrier of %s (%v): remove it to restart the stage", rr.barrierPath(stage), stage, err)
	}
	if err := rr.trainer.Load(filepath.Join(rr.opts.Out, "checkpoints", b.Ckpt)); err != nil {
		return 0, fmt.Errorf("resume: %w", err)
	}
	rr.step = b.Step
	rr.say("  %s: resumed after iteration %d (its barrier's checkpoint %s)", stage, b.Done, b.Ckpt)
	return b.Done, nil
}

func (rr *recipeRun) checkpoint(stage string) error {
	return rr.trainer.Save(rr.ckptPath(stage))
}

// IterationResult wraps one engine iteration's report.
type IterationResult struct{ actors.IterationReport }
