package tiny

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"runtime/debug"
	"sync"

	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/policy"
	"github.com/swerl/swerl/policy/dapo"
)

// TrainConfig sets the optimizer, the schedule, how a batch is cut into optimizer steps
// and the DAPO surrogate. Start from DefaultTrainConfig: several zero values (no weight
// decay, no clip) are meaningful.
type TrainConfig struct {
	// LR is the peak learning rate. It rises linearly over WarmupSteps (lr*(s+1)/warmup at
	// step s), then follows a cosine from LR down to MinLR over DecaySteps and stays at
	// MinLR; DecaySteps 0 keeps LR after the warmup. Steps count over the trainer's whole
	// life (they are saved in checkpoints).
	LR          float64 `json:"lr"`
	WarmupSteps int     `json:"warmup_steps"`
	DecaySteps  int     `json:"decay_steps"`
	MinLR       float64 `json:"min_lr"`
	// AdamW: moments Beta1, Beta2, Eps; decoupled WeightDecay (p -= lr*wd*p) on the
	// weight matrices and embeddings, not on the biases.
	Beta1       float64 `json:"beta1"`
	Beta2       float64 `json:"beta2"`
	Eps         float64 `json:"eps"`
	WeightDecay float64 `json:"weight_decay"`
	// GradClip scales the whole gradient down to this global L2 norm when it is larger;
	// 0 turns clipping off.
	GradClip float64 `json:"grad_clip"`
	// An optimizer step covers TrajectoriesPerStep trajectories (the paper's batching,
	// in shuffled order); with 0 it covers PositionsPerStep shuffled positions instead.
	TrajectoriesPerStep int `json:"trajectories_per_step"`
	PositionsPerStep    int `json:"positions_per_step"`
	// MicroBatch is the number of positions per forward/backward pass; a step's
	// gradient is accumulated over its micro-batches.
	MicroBatch int `json:"micro_batch"`
	// Loss is the DAPO surrogate (Train). The aggregation applies within each
	// optimizer step.
	Loss dapo.LossConfig `json:"loss"`
	// MaskFormatErrors leaves the turns whose reply was a format error out of the loss
	// (they stay in the context), as RFT does (PAPER.md, Phase 1).
	MaskFormatErrors bool `json:"mask_format_errors"`
	// Seed orders the shuffles (with the model version, so each epoch differs).
	Seed uint64 `json:"seed"`
}

// DefaultTrainConfig: AdamW (0.9, 0.999, 1e-8), weight decay 0.1 and grad clip 1.0
// (PAPER.md), lr 5e-4 (the tiny model's scale, not the paper's 1e-6), 10 warmup steps,
// no decay, 256 positions per step and per micro-batch, the stage-1 DAPO loss
// (eps 0.2 / 0.3, token mean).
func DefaultTrainConfig() TrainConfig {
	return TrainConfig{
		LR: 5e-4, WarmupSteps: 10, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.1,
		GradClip: 1, PositionsPerStep: 256, MicroBatch: 256, Loss: dapo.Stage1Loss(), Seed: 1,
	}
}

// Validate reports a configuration NewTrainer refuses.
func (c TrainConfig) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if !(c.LR > 0) || math.IsInf(c.LR, 0) {
		bad("lr %v must be a positive number", c.LR)
	}
	if !(c.MinLR >= 0 && c.MinLR <= c.LR) {
		bad("min_lr %v must lie in [0, lr]", c.MinLR)
	}
	if c.WarmupSteps < 0 || c.DecaySteps < 0 {
		bad("warmup_steps %d and decay_steps %d must be >= 0", c.WarmupSteps, c.DecaySteps)
	}
	if !(c.Beta1 >= 0 && c.Beta1 < 1) || !(c.Beta2 >= 0 && c.Beta2 < 1) || !(c.Eps > 0) {
		bad("beta1 %v and beta2 %v must lie in [0, 1), eps %v must be positive", c.Beta1, c.Beta2, c.Eps)
	}
	if !(c.WeightDecay >= 0) || !(c.GradClip >= 0) {
		bad("weight_decay %v and grad_clip %v must be >= 0", c.WeightDecay, c.GradClip)
	}
	if c.TrajectoriesPerStep < 0 || c.PositionsPerStep < 0 || (c.TrajectoriesPerStep == 0 && c.PositionsPerStep == 0) {
		bad("one of trajectories_per_step (%d) and positions_per_step (%d) must be positive", c.TrajectoriesPerStep, c.PositionsPerStep)
	}
	if c.MicroBatch < 1 || c.MicroBatch > 1<<16 {
		bad("micro_batch %d outside [1, 65536]", c.MicroBatch)
	}
	if err := c.Loss.Validate(); err != nil {
		bad("loss: %v", err)
	}
	return errors.Join(errs...)
}

// lr is the learning rate of optimizer step s (0-based).
func (c TrainConfig) lr(s int64) float64 {
	if s < int64(c.WarmupSteps) {
		return c.LR * float64(s+1) / float64(c.WarmupSteps)
	}
	if c.DecaySteps == 0 {
		return c.LR
	}
	prog := math.Min(1, float64(s-int64(c.WarmupSteps))/float64(c.DecaySteps))
	return c.MinLR + (c.LR-c.MinLR)*0.5*(1+math.Cos(math.Pi*prog))
}

// Trainer owns the optimizer state of a Model and updates its parameters: Train (one
// DAPO epoch per TrainBatch, implements policy.Trainer) and SFT (one epoch of
// negative log-likelihood: pretraining on expert traces, RFT). Its methods serialise on
// a mutex; an update write-locks the model, so a Policy serving the same Model serves
// the new parameters as soon as the update returns. An update that fails (cancelled
// context, a non-finite loss or gradient) restores the parameters and optimizer state
// it started from.
type Trainer struct {
	m *Model

	mu       sync.Mutex
	cfg      TrainConfig
	step     int64     // optimizer steps taken
	mom, vel []float32 // AdamW moments, laid out like the parameters
	grad     []float32
	lanes    map[graphMode][]*trainLane // graphs that run a step's micro-batches at once
	par      int                        // lanes per mode: GOMAXPROCS at NewTrainer
}

// trainLane is one graph of a mode and the inputs and outputs of the micro-batch it
// runs: the step's rows lo to hi.
type trainLane struct {
	g                *graph
	windows, targets []int32
	out              stepOut
	lo, hi           int
	err              error
}

// NewTrainer returns a trainer of m with fresh optimizer state.
func NewTrainer(m *Model, cfg TrainConfig) (*Trainer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("tiny: train config: %w", err)
	}
	n := len(m.p.data)
	return &Trainer{m: m, cfg: cfg, mom: make([]float32, n), vel: make([]float32, n),
		grad: make([]float32, n), lanes: map[graphMode][]*trainLane{}, par: runtime.GOMAXPROCS(0)}, nil
}

// Model returns the trained model.
func (t *Trainer) Model() *Model { return t.m }

// Version implements policy.Trainer: the model's version.
func (t *Trainer) Version() int { return t.m.Version() }

// Steps is the number of optimizer steps taken.
func (t *Trainer) Steps() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return int(t.step)
}

// Config returns the training configuration.
func (t *Trainer) Config() TrainConfig {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.cfg
}

// SetConfig replaces the configuration (between phases: pretraining, RFT, RL), keeping
// the optimizer state and the step count.
func (t *Trainer) SetConfig(cfg TrainConfig) error {
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("tiny: train config: %w", err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if cfg.MicroBatch != t.cfg.MicroBatch {
		t.lanes = map[graphMode][]*trainLane{}
	}
	t.cfg = cfg
	return nil
}

// Train implements policy.Trainer: one DAPO epoch over the batch's records (PAPER.md,
// Phase 2), then the model's version advances by one. Every trained turn must carry its
// sampled token ids and log-probs. A batch with no trained token takes no step, reports
// SkippedEmpty and still advances the version.
func (t *Trainer) Train(ctx context.Context, b messages.TrainBatch) (messages.TrainStats, error) {
	return t.epoch(ctx, b.Records(), modeDAPO, true)
}

// SFT runs one epoch of next-token negative log-likelihood over the assistant tokens
// of records (expert traces, or RFT's successful rollouts); text-only turns are
// encoded from their text. The version does not change: versions count DAPO updates,
// which the engine numbers with its iterations (see Model.SetVersion).
func (t *Trainer) SFT(ctx context.Context, records []messages.EpisodeRecord) (messages.TrainStats, error) {
	return t.epoch(ctx, records, modeSFT, false)
}

func (t *Trainer) epoch(ctx context.Context, records []messages.EpisodeRecord, mode graphMode, bump bool) (messages.TrainStats, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	stats := messages.TrainStats{Trajectories: len(records)}
	seqs, pos, err := t.m.tok.positions(records, t.cfg.MaskFormatErrors, mode == modeDAPO)
	if err != nil {
		return stats, err
	}
	t.m.mu.Lock()
	defer t.m.mu.Unlock()
	if len(pos) == 0 {
		stats.SkippedEmpty = true
		if bump {
			t.m.version++
		}
		return stats, nil
	}
	steps := t.plan(seqs, pos, uint64(t.m.version))
	saved := t.snapshot()
	run := epochRun{mode: mode, seqs: seqs, pos: pos}
	for _, st := range steps {
		if err := ctx.Err(); err != nil {
			t.restore(saved)
			return stats, fmt.Errorf("tiny: training cancelled after %d of %d steps: %w", run.steps, len(steps), err)
		}
		if err := t.optimStep(&run, st); err != nil {
			t.restore(saved)
			return stats, err
		}
	}
	n := float64(run.tokens)
	stats.Loss = run.lossSum / n
	stats.Tokens = run.tokens
	stats.Steps = run.steps
	stats.ClipFracLow, stats.ClipFracHigh = float64(run.low)/n, float64(run.high)/n
	stats.GradNorm = run.normSum / float64(run.steps)
	stats.Entropy = run.entSum / n
	if bump {
		t.m.version++
	}
	return stats, nil
}

// plan cuts the positions into optimizer steps: groups of TrajectoriesPerStep shuffled
// trajectories, or PositionsPerStep shuffled positions. Each step lists indices into pos.
func (t *Trainer) plan(seqs []sequence, pos []position, version uint64) [][]int32 {
	rng := rand.New(rand.NewPCG(t.cfg.Seed, version^0x5eed_5eed))
	var steps [][]int32
	if k := t.cfg.TrajectoriesPerStep; k > 0 {
		order := rng.Perm(len(seqs))
		var cur []int32
		taken := 0
		for _, s := range order {
			sq := seqs[s]
			if sq.n == 0 {
				continue
			}
			for j := 0; j < sq.n; j++ {
				cur = append(cur, int32(sq.first+j))
			}
			if taken++; taken == k {
				steps, cur, taken = append(steps, cur), nil, 0
			}
		}
		if len(cur) > 0 {
			steps = append(steps, cur)
		}
		return steps
	}
	all := make([]int32, len(pos))
	for i := range all {
		all[i] = int32(i)
	}
	rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	for k := t.cfg.PositionsPerStep; len(all) > 0; {
		n := min(k, len(all))
		steps = append(steps, all[:n:n])
		all = all[n:]
	}
	return steps
}

// epochRun accumulates an epoch's statistics.
type epochRun struct {
	mode      graphMode
	seqs      []sequence
	pos       []position
	steps     int
	tokens    int
	lossSum   float64 // sum over steps of step loss * step tokens
	entSum    float64
	normSum   float64
	low, high int
}

// weights returns each position's aggregation weight within the step.
func (t *Trainer) weights(run *epochRun, step []int32) []float32 {
	w := make([]float32, len(step))
	agg := t.cfg.Loss.Agg
	if run.mode == modeSFT {
		agg = dapo.TokenMean
	}
	switch agg {
	case dapo.SeqMeanTokenMean, dapo.SeqMeanTokenSum:
		count := map[int32]int{}
		for _, pi := range step {
			count[run.pos[pi].seq]++
		}
		s := float64(len(count))
		for k, pi := range step {
			if agg == dapo.SeqMeanTokenMean {
				w[k] = float32(1 / (s * float64(count[run.pos[pi].seq])))
			} else {
				w[k] = float32(1 / s)
			}
		}
	default:
		for k := range w {
			w[k] = float32(1 / float64(len(step)))
		}
	}
	return w
}

// modeLanes returns the lanes of mode, t.par of them.
func (t *Trainer) modeLanes(mode graphMode) ([]*trainLane, error) {
	if ls := t.lanes[mode]; ls != nil {
		return ls, nil
	}
	mb, win := t.cfg.MicroBatch, t.m.cfg.Window
	ls := make([]*trainLane, t.par)
	for i := range ls {
		g, err := newGraph(t.m, mb, mode)
		if err != nil {
			return nil, err
		}
		ls[i] = &trainLane{g: g, windows: make([]int32, mb*win), targets: make([]int32, mb)}
	}
	t.lanes[mode] = ls
	return ls, nil
}

// optimStep accumulates the gradient of one step over its micro-batches and applies
// AdamW. The lanes run their micro-batches at once, a wave at a time; their gradients
// are added in the step's order, so the step is the same whatever the number of
// lanes. The caller holds t.mu and the model's write lock.
func (t *Trainer) optimStep(run *epochRun, step []int32) error {
	lanes, err := t.modeLanes(run.mode)
	if err != nil {
		return err
	}
	mb := t.cfg.MicroBatch
	weights := t.weights(run, step)
	clear(t.grad)
	var stepLoss float64
	lc := t.cfg.Loss
	for lo := 0; lo < len(step); lo += mb * len(lanes) {
		wave := lanes[:0:0]
		for k, ln := range lanes {
			l := lo + k*mb
			if l >= len(step) {
				break
			}
			ln.lo, ln.hi = l, min(l+mb, len(step))
			t.fillLane(run, ln, step, weights)
			wave = append(wave, ln)
		}
		runLanes(wave)
		for _, ln := range wave {
			if ln.err != nil {
				return ln.err
			}
			ln.g.scatter(t.grad)
			stepLoss += ln.out.loss
			for r := 0; r < ln.hi-ln.lo; r++ {
				run.entSum += ln.out.ent[r]
				if run.mode == modeDAPO {
					p := run.pos[step[ln.lo+r]]
					term := dapo.TokenTerm(float64(ln.out.tlp[r]), float64(p.old), float64(run.seqs[p.seq].adv), lc)
					if term.ClippedLow {
						run.low++
					}
					if term.ClippedHigh {
						run.high++
					}
				}
			}
		}
	}
	norm := l2(t.grad)
	if math.IsNaN(stepLoss) || math.IsInf(stepLoss, 0) || math.IsNaN(norm) || math.IsInf(norm, 0) {
		return fmt.Errorf("tiny: non-finite loss %v or gradient norm %v at optimizer step %d", stepLoss, norm, t.step)
	}
	t.adamW(norm)
	if err := t.m.p.check(); err != nil {
		return fmt.Errorf("tiny: after optimizer step %d: %w", t.step, err)
	}
	run.steps++
	run.tokens += len(step)
	run.lossSum += stepLoss * float64(len(step))
	run.normSum += norm
	return nil
}

// fillLane fills ln's windows, targets and row inputs with the step's rows ln.lo to
// ln.hi; the rows past hi (the last micro-batch's padding) copy row lo with weight 0.
func (t *Trainer) fillLane(run *epochRun, ln *trainLane, step []int32, weights []float32) {
	win, lc := t.m.cfg.Window, t.cfg.Loss
	ri := &ln.g.rows
	for r := range ln.targets {
		k, w := ln.lo+r, float32(0)
		if k < ln.hi {
			w = weights[k]
		} else {
			k = ln.lo
		}
		p := run.pos[step[k]]
		sq := run.seqs[p.seq]
		fillWindow(ln.windows[r*win:(r+1)*win], sq.ctx, int(p.i))
		ln.targets[r] = sq.ctx[p.i]
		ri.w[r] = w
		if run.mode == modeDAPO {
			fillDAPORow(ri, r, p.old, sq.adv, lc)
		}
	}
}

// runLanes runs the forward and backward pass of each lane at once; a panic in one
// becomes its error.
func runLanes(wave []*trainLane) {
	one := func(ln *trainLane) {
		defer func() {
			if v := recover(); v != nil {
				ln.err = fmt.Errorf("tiny: training pass panicked: %v\n%s", v, debug.Stack())
			}
		}()
		ln.err = ln.g.forwardBackward(ln.windows, ln.targets, &ln.out)
	}
	var wg sync.WaitGroup
	for _, ln := range wave[1:] {
		wg.Go(func() { one(ln) })
	}
	one(wave[0])
	wg.Wait()
}

// noBound stands for "no clamp" and "no dual clip" in the float32 graph.
const noBound = 3e38

func fillDAPORow(ri *rowInputs, r int, old, adv float32, c dapo.LossConfig) {
	ri.old[r], ri.adv[r] = old, adv
	ri.lrLo[r], ri.lrHi[r] = -noBound, noBound
	if c.LogRatioClamp > 0 {
		ri.lrLo[r], ri.lrHi[r] = float32(-c.LogRatioClamp), float32(c.LogRatioClamp)
	}
	ri.rLo[r], ri.rHi[r] = float32(1-c.EpsLow), float32(1+c.EpsHigh)
	ri.dual[r] = -noBound
	if c.DualClip > 0 && adv < 0 {
		ri.dual[r] = float32(c.DualClip) * adv
	}
}

func l2(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s)
}

// adamW applies one AdamW step with the accumulated gradient, clipped to GradClip
// (global norm) first.
func (t *Trainer) adamW(norm float64) {
	c := t.cfg
	scale := 1.0
	if c.GradClip > 0 && norm > c.GradClip {
		scale = c.GradClip / norm
	}
	lr := c.lr(t.step)
	t.step++
	bc1 := 1 - math.Pow(c.Beta1, float64(t.step))
	bc2 := 1 - math.Pow(c.Beta2, float64(t.step))
	b1, b2 := float32(c.Beta1), float32(c.Beta2)
	p := t.m.p
	for i, s := range p.specs {
		decay := 0.0
		if s.decay {
			decay = lr * c.WeightDecay
		}
		w, g, m, v := p.view(i), p.viewOf(t.grad, i), p.viewOf(t.mom, i), p.viewOf(t.vel, i)
		for j := range w {
			gj := g[j] * float32(scale)
			m[j] = b1*m[j] + (1-b1)*gj
			v[j] = b2*v[j] + (1-b2)*gj*gj
			mh := float64(m[j]) / bc1
			vh := float64(v[j]) / bc2
			w[j] = float32(float64(w[j]) - lr*mh/(math.Sqrt(vh)+c.Eps) - decay*float64(w[j]))
		}
	}
}

type trainerState struct {
	data, mom, vel []float32
	step           int64
}

func (t *Trainer) snapshot() trainerState {
	return trainerState{data: append([]float32(nil), t.m.p.data...), mom: append([]float32(nil), t.mom...),
		vel: append([]float32(nil), t.vel...), step: t.step}
}

func (t *Trainer) restore(s trainerState) {
	copy(t.m.p.data, s.data)
	copy(t.mom, s.mom)
	copy(t.vel, s.vel)
	t.step = s.step
}

var _ policy.Trainer = (*Trainer)(nil)
