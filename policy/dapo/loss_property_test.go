package dapo

import (
	"math"
	"math/rand/v2"
	"testing"
	"testing/quick"
)

// randomBatch draws a batch whose ratios land on every branch: inside the band, on both
// sides of it, past the dual clip and past the log-ratio clamp.
func randomBatch(rng *rand.Rand) ([]Sequence, LossConfig) {
	cfg := LossConfig{
		EpsLow:  0.1 + 0.2*rng.Float64(),
		EpsHigh: 0.1 + 0.3*rng.Float64(),
		Agg:     []Aggregation{TokenMean, SeqMeanTokenMean, SeqMeanTokenSum}[rng.IntN(3)],
	}
	if rng.IntN(2) == 0 {
		cfg.DualClip = 1.5 + 2*rng.Float64()
	}
	cfg.LogRatioClamp = []float64{0, 0.6, 20}[rng.IntN(3)]
	seqs := make([]Sequence, rng.IntN(6))
	for i := range seqs {
		n := rng.IntN(12)
		s := Sequence{LogpNew: make([]float64, n), LogpOld: make([]float64, n), Mask: make([]float64, n)}
		switch rng.IntN(4) {
		case 0:
			s.Adv = 0
		default:
			s.Adv = rng.NormFloat64()
		}
		for t := range n {
			s.LogpOld[t] = -5 * rng.Float64()
			s.LogpNew[t] = s.LogpOld[t] + 0.6*rng.NormFloat64()
			if rng.Float64() < 0.7 {
				s.Mask[t] = 1
			}
		}
		seqs[i] = s
	}
	return seqs, cfg
}

// naiveLoss is PAPER.md's formula taken literally, min(rho*A, clip(rho)*A), with verl's
// dual clip max(., c*A) for A < 0, and loops that gather the losses first and aggregate
// after. It also counts clipped tokens by comparing the two terms.
func naiveLoss(seqs []Sequence, cfg LossConfig) (loss float64, tokens int, low, high, dual int) {
	clip := func(x, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, x)) }
	var perSeq [][]float64
	for _, s := range seqs {
		var ls []float64
		for t := range s.Mask {
			if s.Mask[t] != 1 {
				continue
			}
			lr := s.LogpNew[t] - s.LogpOld[t]
			if cfg.LogRatioClamp != 0 {
				lr = clip(lr, -cfg.LogRatioClamp, cfg.LogRatioClamp)
			}
			rho := math.Exp(lr)
			unclipped, clipped := rho*s.Adv, clip(rho, 1-cfg.EpsLow, 1+cfg.EpsHigh)*s.Adv
			obj := math.Min(unclipped, clipped)
			if clipped < unclipped && rho < 1 {
				low++
			}
			if clipped < unclipped && rho > 1 {
				high++
			}
			if cfg.DualClip != 0 && s.Adv < 0 {
				if cfg.DualClip*s.Adv > obj {
					dual++
				}
				obj = math.Max(obj, cfg.DualClip*s.Adv)
			}
			ls = append(ls, -obj)
		}
		if len(ls) > 0 {
			perSeq = append(perSeq, ls)
		}
		tokens += len(ls)
	}
	if tokens == 0 {
		return 0, 0, 0, 0, 0
	}
	sum := func(xs []float64) float64 {
		var s float64
		for _, x := range xs {
			s += x
		}
		return s
	}
	switch cfg.Agg {
	case SeqMeanTokenMean:
		var means []float64
		for _, ls := range perSeq {
			means = append(means, sum(ls)/float64(len(ls)))
		}
		loss = sum(means) / float64(len(means))
	case SeqMeanTokenSum:
		var sums []float64
		for _, ls := range perSeq {
			sums = append(sums, sum(ls))
		}
		loss = sum(sums) / float64(len(sums))
	default:
		var all []float64
		for _, ls := range perSeq {
			all = append(all, ls...)
		}
		loss = sum(all) / float64(len(all))
	}
	return loss, tokens, low, high, dual
}

func TestLossMatchesNaive(t *testing.T) {
	f := func(seed uint64) bool {
		rng := rand.New(rand.NewPCG(seed, 2))
		seqs, cfg := randomBatch(rng)
		got := Loss(seqs, cfg)
		loss, tokens, low, high, dual := naiveLoss(seqs, cfg)
		n := math.Max(1, float64(tokens))
		if !near(got.Loss, loss, 1e-9) || got.Tokens != tokens ||
			got.ClipFracLow != float64(low)/n || got.ClipFracHigh != float64(high)/n || got.ClipFracDual != float64(dual)/n {
			t.Logf("seed %d, cfg %+v: got loss %v tokens %d clip %v/%v/%v; naive %v %d %d/%d/%d",
				seed, cfg, got.Loss, got.Tokens, got.ClipFracLow, got.ClipFracHigh, got.ClipFracDual, loss, tokens, low, high, dual)
			return false
		}
		return true
	}
	if err := quick.Check(f, &quick.Config{MaxCount: 2000}); err != nil {
		t.Fatal(err)
	}
}

// onKink reports whether a token sits within margin of a point where the loss is not
// differentiable in logpNew: the log-ratio clamp, the band's edges, the dual clip.
func onKink(logpNew, logpOld float64, cfg LossConfig, margin float64) bool {
	lr := logpNew - logpOld
	if x := cfg.LogRatioClamp; x > 0 {
		if math.Abs(math.Abs(lr)-x) < margin {
			return true
		}
		lr = math.Max(-x, math.Min(x, lr))
	}
	rho := math.Exp(lr)
	kinks := []float64{1 - cfg.EpsLow, 1 + cfg.EpsHigh}
	if cfg.DualClip > 0 {
		kinks = append(kinks, cfg.DualClip)
	}
	for _, k := range kinks {
		if math.Abs(rho-k) < margin {
			return true
		}
	}
	return false
}

func TestLossGradsMatchFiniteDifferences(t *testing.T) {
	const h = 1e-6
	for seed := range uint64(300) {
		rng := rand.New(rand.NewPCG(seed, 3))
		seqs, cfg := randomBatch(rng)
		res := Loss(seqs, cfg)
		for i, s := range seqs {
			for j := range s.Mask {
				if s.Mask[j] == 0 || onKink(s.LogpNew[j], s.LogpOld[j], cfg, 1e-4) {
					continue
				}
				x := s.LogpNew[j]
				s.LogpNew[j] = x + h
				plus := Loss(seqs, cfg).Loss
				s.LogpNew[j] = x - h
				minus := Loss(seqs, cfg).Loss
				s.LogpNew[j] = x
				fd := (plus - minus) / (2 * h)
				if math.Abs(fd-res.Grads[i][j]) > 1e-6*math.Max(1, math.Abs(fd)) {
					t.Errorf("seed %d, cfg %+v: Grads[%d][%d] = %v, finite difference %v",
						seed, cfg, i, j, res.Grads[i][j], fd)
				}
			}
		}
	}
}

// TestLossMicroBatches checks the contract a learner relies on: weighing each
// micro-batch's Loss by its share of N (token-mean) or S (seq-mean) gives the Loss of
// the whole batch, and the same for the gradients.
func TestLossMicroBatches(t *testing.T) {
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 4))
		seqs, cfg := randomBatch(rng)
		whole := Loss(seqs, cfg)
		nonEmpty := func(ss []Sequence) (n int) {
			for _, s := range ss {
				for _, m := range s.Mask {
					if m == 1 {
						n++
						break
					}
				}
			}
			return n
		}
		split := 0
		if len(seqs) > 0 {
			split = rng.IntN(len(seqs) + 1)
		}
		var loss float64
		var grads [][]float64
		for _, part := range [][]Sequence{seqs[:split], seqs[split:]} {
			r := Loss(part, cfg)
			w := 0.0
			switch cfg.Agg {
			case TokenMean:
				if whole.Tokens > 0 {
					w = float64(r.Tokens) / float64(whole.Tokens)
				}
			default:
				if n := nonEmpty(seqs); n > 0 {
					w = float64(nonEmpty(part)) / float64(n)
				}
			}
			loss += w * r.Loss
			for _, row := range r.Grads {
				scaled := make([]float64, len(row))
				for k, g := range row {
					scaled[k] = w * g
				}
				grads = append(grads, scaled)
			}
		}
		if !near(loss, whole.Loss, 1e-9) {
			t.Errorf("seed %d, %s: micro-batches give %v, whole batch %v", seed, cfg.Agg, loss, whole.Loss)
		}
		for i := range grads {
			for j := range grads[i] {
				if !near(grads[i][j], whole.Grads[i][j], 1e-9) {
					t.Errorf("seed %d, %s: Grads[%d][%d] = %v from micro-batches, %v whole", seed, cfg.Agg, i, j, grads[i][j], whole.Grads[i][j])
				}
			}
		}
	}
}
