package tiny

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/policy/dapo"
)

func sftConfig() TrainConfig {
	c := DefaultTrainConfig()
	c.LR, c.WarmupSteps, c.WeightDecay = 1e-2, 2, 0
	c.PositionsPerStep, c.MicroBatch = 64, 64
	return c
}

func TestSFTLearnsToyLanguage(t *testing.T) {
	m := toyModel(t)
	tr, err := NewTrainer(m, sftConfig())
	if err != nil {
		t.Fatal(err)
	}
	p := NewPolicy(m, PolicyConfig{Seed: 9, MaxReplyTokens: 10})
	before := toyAccuracy(t, p, 2)
	traces := toyTraces(96)
	var first, last messages.TrainStats
	for epoch := 0; epoch < 12; epoch++ {
		st, err := tr.SFT(context.Background(), traces)
		if err != nil {
			t.Fatal(err)
		}
		if epoch == 0 {
			first = st
		}
		last = st
	}
	after := toyAccuracy(t, p, 2)
	t.Logf("NLL %.3f -> %.3f, exact replies %.2f -> %.2f, %d steps", first.Loss, last.Loss, before, after, tr.Steps())
	if first.Tokens != 96*7 || first.Trajectories != 96 {
		t.Errorf("first epoch: %d tokens from %d trajectories, want %d from 96", first.Tokens, first.Trajectories, 96*7)
	}
	if !(last.Loss < first.Loss/4) {
		t.Errorf("NLL went from %v to %v: not down by 4x", first.Loss, last.Loss)
	}
	if !(after >= 0.6) {
		t.Errorf("exact-reply accuracy %v after SFT, want >= 0.6 (chance is 1/%d at best)", after, toyNumbers)
	}
	if m.Version() != 0 {
		t.Errorf("SFT moved the version to %d", m.Version())
	}
}

// sampledRecord generates one reply from p for toy number n and wraps it as a record
// with advantage adv.
func sampledRecord(t *testing.T, p *Policy, n int, adv float64) messages.EpisodeRecord {
	t.Helper()
	req := toyRequest(n, 0)
	r, err := p.Generate(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	var tr messages.Transcript
	tr = tr.Append(messages.NewTurn(messages.Turn{Assistant: r.Text, Observation: "ok"}, r.Tokens, r.Logprobs))
	return messages.EpisodeRecord{Ref: req.Ref, Task: req.Task, Transcript: tr, Advantage: adv}
}

// seqLogprob is the current log-prob of the record's assistant tokens.
func seqLogprob(t *testing.T, m *Model, rec messages.EpisodeRecord) float64 {
	t.Helper()
	seqs, pos, err := m.tok.positions([]messages.EpisodeRecord{rec}, false, true)
	if err != nil {
		t.Fatal(err)
	}
	w := m.cfg.Window
	wins := make([]int32, len(pos)*w)
	targets := make([]int32, len(pos))
	for k, p := range pos {
		fillWindow(wins[k*w:(k+1)*w], seqs[p.seq].ctx, int(p.i))
		targets[k] = seqs[p.seq].ctx[p.i]
	}
	lp, _, err := m.Forward(wins, targets)
	if err != nil {
		t.Fatal(err)
	}
	var s float64
	for _, l := range lp {
		s += float64(l)
	}
	return s
}

func TestDAPOStepFollowsAdvantageSign(t *testing.T) {
	for _, adv := range []float64{1, -1} {
		m := toyModel(t)
		p := NewPolicy(m, PolicyConfig{Seed: 3, MaxReplyTokens: 8})
		cfg := DefaultTrainConfig()
		cfg.LR, cfg.WarmupSteps, cfg.MicroBatch = 1e-3, 0, 16
		tr, err := NewTrainer(m, cfg)
		if err != nil {
			t.Fatal(err)
		}
		var recs []messages.EpisodeRecord
		for n := 0; n < 3; n++ {
			recs = append(recs, sampledRecord(t, p, n, adv))
		}
		before := make([]float64, len(recs))
		for i, r := range recs {
			before[i] = seqLogprob(t, m, r)
		}
		st, err := tr.Train(context.Background(), messages.NewTrainBatch(0, 0, recs))
		if err != nil {
			t.Fatal(err)
		}
		if tr.Version() != 1 || st.Steps < 1 || st.Tokens == 0 || st.Trajectories != 3 {
			t.Fatalf("A=%v: version %d, stats %+v", adv, tr.Version(), st)
		}
		// On-policy first step: every ratio is 1, so the surrogate is -A.
		if math.Abs(st.Loss+adv) > 1e-4 || st.ClipFracLow != 0 || st.ClipFracHigh != 0 {
			t.Errorf("A=%v: loss %v (want %v), clip fractions %v/%v", adv, st.Loss, -adv, st.ClipFracLow, st.ClipFracHigh)
		}
		for i, r := range recs {
			after := seqLogprob(t, m, r)
			if (after-before[i])*adv <= 0 {
				t.Errorf("A=%v: record %d log-prob %v -> %v", adv, i, before[i], after)
			}
		}
	}
}

// TestDAPOLossMatchesReference builds the graph's surrogate in float64 and compares
// its value and its gradient with policy/dapo's float64 reference.
func TestDAPOLossMatchesReference(t *testing.T) {
	logRatios := []float64{-30, -25, -1.5, -0.4, -0.25, -0.2231, -0.1, 0, 0.05, 0.2, 0.27, 0.29, 0.4, 1, 2.5, 25, 30}
	advs := []float64{-1.3, -0.5, 0, 0.7, 2}
	configs := map[string]dapo.LossConfig{
		"stage1":    dapo.Stage1Loss(),
		"no clamp":  {EpsLow: 0.2, EpsHigh: 0.28},
		"dual clip": {EpsLow: 0.2, EpsHigh: 0.26, DualClip: 3, LogRatioClamp: 20},
		"tight":     {EpsLow: 0.05, EpsHigh: 0.1, LogRatioClamp: 2},
	}
	for name, cfg := range configs {
		var newLP, oldLP, adv []float64
		for i, lr := range logRatios {
			for j, a := range advs {
				if cfg.LogRatioClamp == 0 && math.Abs(lr) > 20 {
					continue // exp overflows to +Inf in the reference: nothing to compare
				}
				old := -0.1 - 0.37*float64(i+j)
				newLP, oldLP, adv = append(newLP, old+lr), append(oldLP, old), append(adv, a)
			}
		}
		got, grads := graphDAPOLoss64(t, newLP, oldLP, adv, cfg)
		var seqs []dapo.Sequence
		for i := range newLP {
			seqs = append(seqs, dapo.Sequence{LogpNew: newLP[i : i+1], LogpOld: oldLP[i : i+1], Mask: []float64{1}, Adv: adv[i]})
		}
		want := dapo.Loss(seqs, cfg)
		if math.Abs(got-want.Loss) > 1e-6 {
			t.Errorf("%s: loss %.12g, reference %.12g", name, got, want.Loss)
		}
		for i := range grads {
			if math.Abs(grads[i]-want.Grads[i][0]) > 1e-6 {
				t.Errorf("%s: token %d (log ratio %v, A %v): gradient %v, reference %v",
					name, i, newLP[i]-oldLP[i], adv[i], grads[i], want.Grads[i][0])
			}
		}
	}
}

func TestTrainRefusesTurnsWithoutLogprobs(t *testing.T) {
	m := toyModel(t)
	tr, err := NewTrainer(m, DefaultTrainConfig())
	if err != nil {
		t.Fatal(err)
	}
	_, err = tr.Train(context.Background(), messages.NewTrainBatch(0, 0, toyTraces(2)))
	if err == nil || m.Version() != 0 {
		t.Fatalf("Train on text-only turns: err %v, version %d", err, m.Version())
	}
}

func TestTrainEmptyBatchAdvancesVersion(t *testing.T) {
	m := toyModel(t)
	tr, err := NewTrainer(m, DefaultTrainConfig())
	if err != nil {
		t.Fatal(err)
	}
	st, err := tr.Train(context.Background(), messages.NewTrainBatch(0, 0, nil))
	if err != nil || !st.SkippedEmpty || tr.Version() != 1 || tr.Steps() != 0 {
		t.Fatalf("empty batch: %+v, %v, version %d, steps %d", st, err, tr.Version(), tr.Steps())
	}
}

func TestCancelledTrainChangesNothing(t *testing.T) {
	m := toyModel(t)
	p := NewPolicy(m, PolicyConfig{Seed: 1, MaxReplyTokens: 8})
	rec := sampledRecord(t, p, 1, 1)
	tr, err := NewTrainer(m, DefaultTrainConfig())
	if err != nil {
		t.Fatal(err)
	}
	before := append([]float32(nil), m.p.data...)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := tr.Train(ctx, messages.NewTrainBatch(0, 0, []messages.EpisodeRecord{rec})); !errors.Is(err, context.Canceled) {
		t.Fatalf("Train with a cancelled context: %v", err)
	}
	if m.Version() != 0 || tr.Steps() != 0 {
		t.Fatalf("version %d, steps %d after a cancelled Train", m.Version(), tr.Steps())
	}
	for i := range before {
		if before[i] != m.p.data[i] {
			t.Fatalf("parameter %s changed", m.p.nameAt(i))
		}
	}
}

func TestWeightDecayAlone(t *testing.T) {
	// A = 0 everywhere: zero loss and gradient, so AdamW only decays.
	m := toyModel(t)
	p := NewPolicy(m, PolicyConfig{Seed: 1, MaxReplyTokens: 8})
	rec := sampledRecord(t, p, 2, 0)
	cfg := DefaultTrainConfig()
	cfg.LR, cfg.WarmupSteps, cfg.WeightDecay, cfg.MicroBatch = 0.01, 0, 0.5, 16
	tr, err := NewTrainer(m, cfg)
	if err != nil {
		t.Fatal(err)
	}
	m.p.view(pB1)[0] = 0.25 // a bias: never decayed
	before := append([]float32(nil), m.p.data...)
	st, err := tr.Train(context.Background(), messages.NewTrainBatch(0, 0, []messages.EpisodeRecord{rec}))
	if err != nil {
		t.Fatal(err)
	}
	if st.Steps != 1 || st.GradNorm != 0 {
		t.Fatalf("stats %+v", st)
	}
	for i, s := range m.p.specs {
		want := float32(1)
		if s.decay {
			want = float32(1 - 0.01*0.5)
		}
		b, a := m.p.viewOf(before, i), m.p.view(i)
		for j := range a {
			if math.Abs(float64(a[j]-b[j]*want)) > 1e-7+1e-6*math.Abs(float64(b[j])) {
				t.Fatalf("%s[%d]: %v -> %v, want x%v", s.name, j, b[j], a[j], want)
			}
		}
	}
}

func TestGradClip(t *testing.T) {
	m := toyModel(t)
	cfg := sftConfig()
	cfg.GradClip = 0.05
	tr, err := NewTrainer(m, cfg)
	if err != nil {
		t.Fatal(err)
	}
	st, err := tr.SFT(context.Background(), toyTraces(4))
	if err != nil {
		t.Fatal(err)
	}
	if st.Steps != 1 || !(st.GradNorm > cfg.GradClip) {
		t.Fatalf("want one step with a gradient norm above the clip: %+v", st)
	}
	// After one step the first moment is (1 - beta1) * the clipped gradient.
	var norm float64
	for _, x := range tr.mom {
		norm += float64(x) * float64(x)
	}
	norm = math.Sqrt(norm) / (1 - cfg.Beta1)
	if math.Abs(norm-cfg.GradClip) > 1e-4 {
		t.Errorf("clipped gradient norm %v, want %v (raw %v)", norm, cfg.GradClip, st.GradNorm)
	}
	// Without the clip, the moment holds the raw gradient.
	m2 := toyModel(t)
	cfg.GradClip = 0
	tr2, _ := NewTrainer(m2, cfg)
	st2, err := tr2.SFT(context.Background(), toyTraces(4))
	if err != nil {
		t.Fatal(err)
	}
	norm = 0
	for _, x := range tr2.mom {
		norm += float64(x) * float64(x)
	}
	norm = math.Sqrt(norm) / (1 - cfg.Beta1)
	if math.Abs(norm-st2.GradNorm) > 1e-4*st2.GradNorm || math.Abs(st2.GradNorm-st.GradNorm) > 1e-6 {
		t.Errorf("unclipped: moment norm %v, reported %v (clipped run reported %v)", norm, st2.GradNorm, st.GradNorm)
	}
}

func TestSchedule(t *testing.T) {
	c := TrainConfig{LR: 1, WarmupSteps: 4, DecaySteps: 10, MinLR: 0.1}
	want := map[int64]float64{0: 0.25, 3: 1, 4: 1, 9: 0.1 + 0.9*0.5*(1+math.Cos(math.Pi*0.5)), 14: 0.1, 100: 0.1}
	for s, w := range want {
		if got := c.lr(s); math.Abs(got-w) > 1e-12 {
			t.Errorf("lr(%d) = %v, want %v", s, got, w)
		}
	}
	c.DecaySteps = 0
	if got := c.lr(50); got != 1 {
		t.Errorf("no decay: lr(50) = %v", got)
	}
}

func TestNonFiniteLossRollsBack(t *testing.T) {
	m := toyModel(t)
	p := NewPolicy(m, PolicyConfig{Seed: 1, MaxReplyTokens: 8})
	rec := sampledRecord(t, p, 1, -1)
	turn := rec.Transcript.Turns()[0]
	ids := turn.AppendTokens(nil)
	fake := make([]float32, len(ids))
	for i := range fake {
		fake[i] = -1000 // ratio e^1000: +Inf in float32
	}
	var tr messages.Transcript
	rec.Transcript = tr.Append(messages.NewTurn(turn, ids, fake))
	cfg := DefaultTrainConfig()
	cfg.Loss.LogRatioClamp = 0
	trn, err := NewTrainer(m, cfg)
	if err != nil {
		t.Fatal(err)
	}
	before := append([]float32(nil), m.p.data...)
	if _, err := trn.Train(context.Background(), messages.NewTrainBatch(0, 0, []messages.EpisodeRecord{rec})); err == nil {
		t.Fatal("Train with an infinite loss succeeded")
	}
	if m.Version() != 0 || trn.Steps() != 0 {
		t.Fatalf("version %d, steps %d after a failed Train", m.Version(), trn.Steps())
	}
	for i := range before {
		if before[i] != m.p.data[i] {
			t.Fatalf("parameter %s changed", m.p.nameAt(i))
		}
	}
	// With the default clamp, the same batch trains.
	cfg.Loss.LogRatioClamp = dapo.DefaultLogRatioClamp
	if err := trn.SetConfig(cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := trn.Train(context.Background(), messages.NewTrainBatch(0, 0, []messages.EpisodeRecord{rec})); err != nil {
		t.Fatal(err)
	}
}

// TestLanesGiveTheSameStep trains one model with one lane and a copy with three, on
// micro-batches small enough that a step takes several waves: the parameters, the
// optimizer moments and the reported statistics are equal to the bit, for SFT and for
// DAPO (clip fractions included).
func TestLanesGiveTheSameStep(t *testing.T) {
	train := func(par int) (*Trainer, []messages.TrainStats) {
		m := toyModel(t)
		cfg := sftConfig()
		cfg.MicroBatch = 8 // a 64-position step is 8 micro-batches: three waves of three lanes
		tr, err := NewTrainer(m, cfg)
		if err != nil {
			t.Fatal(err)
		}
		tr.par = par
		var stats []messages.TrainStats
		st, err := tr.SFT(context.Background(), toyTraces(40))
		if err != nil {
			t.Fatal(err)
		}
		stats = append(stats, st)
		p := NewPolicy(m, PolicyConfig{Seed: 3, MaxReplyTokens: 8})
		var recs []messages.EpisodeRecord
		for n := 0; n < 12; n++ {
			recs = append(recs, sampledRecord(t, p, n%toyNumbers, float64(n%3-1)))
		}
		dc := tr.Config()
		dc.PositionsPerStep, dc.TrajectoriesPerStep = 0, 4
		if err := tr.SetConfig(dc); err != nil {
			t.Fatal(err)
		}
		for range 2 { // the second epoch is off-policy: ratios move and some clip
			st, err = tr.Train(context.Background(), messages.NewTrainBatch(0, 0, recs))
			if err != nil {
				t.Fatal(err)
			}
			stats = append(stats, st)
		}
		return tr, stats
	}
	one, oneStats := train(1)
	three, threeStats := train(3)
	if got := len(three.lanes[modeSFT]); got != 3 {
		t.Fatalf("%d SFT lanes, want 3", got)
	}
	for _, c := range []struct {
		name string
		a, b []float32
	}{{"parameters", one.m.p.data, three.m.p.data}, {"first moments", one.mom, three.mom}, {"second moments", one.vel, three.vel}} {
		for i := range c.a {
			if math.Float32bits(c.a[i]) != math.Float32bits(c.b[i]) {
				t.Fatalf("%s differ at %d: %v with one lane, %v with three", c.name, i, c.a[i], c.b[i])
			}
		}
	}
	for i := range oneStats {
		if oneStats[i] != threeStats[i] {
			t.Errorf("epoch %d: one lane %+v, three %+v", i, oneStats[i], threeStats[i])
		}
	}
}
