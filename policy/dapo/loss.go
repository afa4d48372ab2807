package dapo

import (
	"errors"
	"fmt"
	"math"
)

// Aggregation says how per-token losses become the batch loss.
type Aggregation string

const (
	// TokenMean is the paper's: the sum over every unmasked token of the batch divided by
	// the number of those tokens, so a long trajectory weighs in proportion to its length.
	// The zero Aggregation ("") means TokenMean.
	TokenMean Aggregation = "token-mean"
	// SeqMeanTokenMean averages each sequence's per-token losses, then averages over
	// sequences: every trajectory weighs the same whatever its length.
	SeqMeanTokenMean Aggregation = "seq-mean-token-mean"
	// SeqMeanTokenSum sums each sequence's per-token losses, then averages over sequences.
	SeqMeanTokenSum Aggregation = "seq-mean-token-sum"
)

// DefaultLogRatioClamp bounds log(pi_new / pi_old) before exp. PAPER.md ("DAPO
// reference details"): common implementations (verl among them) clamp to [-20, 20]. It
// only matters for ratios beyond e^20 ~ 4.9e8, where exp would otherwise overflow
// towards +Inf.
const DefaultLogRatioClamp = 20

// LossConfig is the clipped surrogate of PAPER.md, "Phase 2: synchronous DAPO".
type LossConfig struct {
	// EpsLow and EpsHigh are the decoupled clip range ("clip-higher"): the ratio is
	// clipped to [1 - EpsLow, 1 + EpsHigh].
	EpsLow, EpsHigh float64
	// DualClip is verl's clip_ratio_c (dual-clip PPO, arXiv 1912.09729). 0 turns it off;
	// a value c > 1 bounds the objective of a token with A < 0 from below by c*A, that is
	// its loss from above by c*|A|. See TokenTerm.
	DualClip float64
	// LogRatioClamp clamps log(pi_new / pi_old) to [-x, x] before exp; 0 turns it off.
	LogRatioClamp float64
	// Agg is the aggregation; "" means TokenMean.
	Agg Aggregation
}

// DefaultLoss is clip-higher as the DAPO paper uses it, with the paper's loss otherwise:
//   - EpsLow 0.2, EpsHigh 0.28: DAPO (arXiv 2503.14476), quoted in PAPER.md "DAPO
//     reference details". The SWE paper itself tunes EpsHigh per stage: Stage1Loss,
//     Stage2Loss.
//   - Agg TokenMean: PAPER.md "Phase 2", L = -(1 / sum of action tokens) * sum ...
//   - DualClip off: PAPER.md "Phase 2" has no dual clip ("no KL term, no entropy bonus");
//     common implementations offer c = 3 or 10 (PAPER.md "DAPO reference details").
//   - LogRatioClamp DefaultLogRatioClamp (20): a numerical guard that common
//     implementations apply; it changes nothing for ratios below e^20.
func DefaultLoss() LossConfig {
	return LossConfig{EpsLow: 0.2, EpsHigh: 0.28, LogRatioClamp: DefaultLogRatioClamp, Agg: TokenMean}
}

// Stage1Loss is DefaultLoss with the SWE paper's stage-1 clip range, eps_low 0.2 /
// eps_high 0.3 (PAPER.md, Phase 2 table).
func Stage1Loss() LossConfig {
	c := DefaultLoss()
	c.EpsLow, c.EpsHigh = 0.2, 0.3
	return c
}

// Stage2Loss is DefaultLoss with the SWE paper's stage-2 clip range, eps_low 0.2 /
// eps_high 0.26 (PAPER.md, Phase 2 table).
func Stage2Loss() LossConfig {
	c := DefaultLoss()
	c.EpsLow, c.EpsHigh = 0.2, 0.26
	return c
}

// Validate reports a configuration that Loss refuses: EpsLow outside [0, 1], EpsHigh < 0,
// DualClip neither 0 nor > 1, LogRatioClamp < 0, a NaN anywhere or an unknown Agg.
func (c LossConfig) Validate() error {
	var errs []error
	if !(c.EpsLow >= 0 && c.EpsLow <= 1) {
		errs = append(errs, fmt.Errorf("EpsLow %v outside [0, 1]", c.EpsLow))
	}
	if !(c.EpsHigh >= 0) || math.IsInf(c.EpsHigh, 1) {
		errs = append(errs, fmt.Errorf("EpsHigh %v not a finite value >= 0", c.EpsHigh))
	}
	if !(c.DualClip == 0 || c.DualClip > 1) {
		errs = append(errs, fmt.Errorf("DualClip %v must be 0 (off) or > 1", c.DualClip))
	}
	if !(c.LogRatioClamp >= 0) {
		errs = append(errs, fmt.Errorf("LogRatioClamp %v must be >= 0 (0 = off)", c.LogRatioClamp))
	}
	switch c.Agg {
	case "", TokenMean, SeqMeanTokenMean, SeqMeanTokenSum:
	default:
		errs = append(errs, fmt.Errorf("unknown aggregation %q", c.Agg))
	}
	return errors.Join(errs...)
}

// Term is one token's share of the surrogate, before aggregation.
type Term struct {
	Loss float64 // -objective
	Grad float64 // d Loss / d logpNew
	// ClippedLow: A < 0 and ratio < 1 - EpsLow, so the clipped term is the smaller one.
	// ClippedHigh: A > 0 and ratio > 1 + EpsHigh, likewise. DualClipped: A < 0 and
	// ratio > DualClip (when on). At most one of the three is true; whenever one is, Grad
	// is 0.
	ClippedLow, ClippedHigh, DualClipped bool
	Ratio                                float64 // pi_new / pi_old, after LogRatioClamp
}

// TokenTerm is the per-token loss of PAPER.md,
//
//	Loss = -min(rho * A, clip(rho, 1 - EpsLow, 1 + EpsHigh) * A),  rho = exp(logpNew - logpOld),
//
// with its derivative in logpNew. The min picks the clipped term only when it is
// strictly smaller; that happens for A > 0 and rho > 1 + EpsHigh (ClippedHigh) and for
// A < 0 and rho < 1 - EpsLow (ClippedLow), and the loss is then constant in logpNew
// (Grad 0). Everywhere else, ties on the band's edges included, the unclipped term is
// active and Grad = -A * rho. A ratio above the band with A < 0, or below it with A > 0,
// is NOT clipped: the min keeps the unclipped, more pessimistic term.
//
// Dual clip (DualClip = c > 1, tokens with A < 0 only): the loss becomes
// min(Loss, -c * A), which is active, strictly, exactly when rho > c; then Loss = c*|A|,
// Grad 0 and DualClipped is set. It never touches tokens with A >= 0.
//
// LogRatioClamp = x > 0: log rho is clamped to [-x, x] before exp; strictly outside that
// interval rho no longer depends on logpNew, so Grad is 0 whatever the branch (the
// clip flags still follow the clamped rho). On its edges the gradient flows, as with
// torch.clamp.
//
// A = 0 gives Loss 0 and Grad 0. Without a clamp, a huge log ratio with A < 0 and no
// dual clip gives an infinite loss. TokenTerm does not validate cfg.
func TokenTerm(logpNew, logpOld, adv float64, cfg LossConfig) Term {
	logRatio := logpNew - logpOld
	dRatio := 1.0 // d rho / d logpNew, in units of rho
	if x := cfg.LogRatioClamp; x > 0 {
		switch {
		case logRatio > x:
			logRatio, dRatio = x, 0
		case logRatio < -x:
			logRatio, dRatio = -x, 0
		}
	}
	rho := math.Exp(logRatio)
	t := Term{Ratio: rho}
	if adv == 0 {
		return t
	}
	lo, hi := 1-cfg.EpsLow, 1+cfg.EpsHigh
	switch {
	case adv > 0 && rho > hi:
		t.ClippedHigh, t.Loss = true, -hi*adv
	case adv < 0 && rho < lo:
		t.ClippedLow, t.Loss = true, -lo*adv
	case adv < 0 && cfg.DualClip > 0 && rho > cfg.DualClip:
		t.DualClipped, t.Loss = true, -cfg.DualClip*adv
	default:
		t.Loss = -rho * adv
		t.Grad = -adv * rho * dRatio
	}
	return t
}

// Sequence is one trajectory as the loss sees it. LogpNew, LogpOld and Mask have the same
// length, one entry per token of the whole context.
type Sequence struct {
	LogpNew, LogpOld []float64
	// Mask is 1 on trained (assistant) tokens and 0 elsewhere (observations, prompts,
	// turns with a format error). Masked tokens are never read, so their log-probs may
	// be anything, NaN included.
	Mask []float64
	// Adv is the trajectory's advantage, shared by all its trained tokens.
	Adv float64
}

// Result is the aggregated surrogate of one batch.
type Result struct {
	Loss float64
	// Grads[i][t] = d Loss / d seqs[i].LogpNew[t], aggregation included; 0 on masked
	// tokens. Newly allocated, owned by the caller.
	Grads [][]float64
	// Tokens is the number of unmasked tokens.
	Tokens int
	// Fractions of the unmasked tokens with ClippedLow, ClippedHigh, DualClipped.
	ClipFracLow, ClipFracHigh, ClipFracDual float64
	// MeanRatio is the mean of Ratio over the unmasked tokens.
	MeanRatio float64
}

// Loss aggregates TokenTerm over the unmasked tokens of seqs with cfg.Agg:
//
//	TokenMean:        sum_i sum_t l_it / N                N = all unmasked tokens
//	SeqMeanTokenMean: (1/S) sum_i (sum_t l_it / n_i)      n_i = unmasked tokens of i
//	SeqMeanTokenSum:  (1/S) sum_i sum_t l_it
//
// S counts only the sequences with at least one unmasked token: an all-masked sequence
// changes nothing under any aggregation. No input or no unmasked token gives a zero
// Result (zero gradients, no NaN).
//
// The normalisers are those of the batch passed in: to reproduce Loss over a whole
// optimizer step from micro-batches, a learner weighs each micro-batch's Loss by its
// share of N (TokenMean) or of S (the seq-mean modes).
//
// Loss panics on an invalid cfg (see Validate), on a Sequence whose three slices differ
// in length, and on a Mask entry other than 0 or 1. seqs is only read.
func Loss(seqs []Sequence, cfg LossConfig) Result {
	if err := cfg.Validate(); err != nil {
		panic("dapo.Loss: " + err.Error())
	}
	res := Result{Grads: make([][]float64, len(seqs))}
	counts := make([]int, len(seqs))
	nSeqs := 0
	for i, s := range seqs {
		if len(s.LogpOld) != len(s.LogpNew) || len(s.Mask) != len(s.LogpNew) {
			panic(fmt.Sprintf("dapo.Loss: sequence %d has %d new log-probs, %d old, %d mask entries",
				i, len(s.LogpNew), len(s.LogpOld), len(s.Mask)))
		}
		for t, m := range s.Mask {
			switch m {
			case 0:
			case 1:
				counts[i]++
			default:
				panic(fmt.Sprintf("dapo.Loss: sequence %d mask[%d] = %v, want 0 or 1", i, t, m))
			}
		}
		res.Grads[i] = make([]float64, len(s.LogpNew))
		res.Tokens += counts[i]
		if counts[i] > 0 {
			nSeqs++
		}
	}
	if res.Tokens == 0 {
		return res
	}
	var low, high, dual int
	var ratios float64
	for i, s := range seqs {
		if counts[i] == 0 {
			continue
		}
		var w float64 // d Loss / d l_it, the same for every token of sequence i
		switch cfg.Agg {
		case SeqMeanTokenMean:
			w = 1 / (float64(nSeqs) * float64(counts[i]))
		case SeqMeanTokenSum:
			w = 1 / float64(nSeqs)
		default:
			w = 1 / float64(res.Tokens)
		}
		var sum float64
		for t, m := range s.Mask {
			if m == 0 {
				continue
			}
			term := TokenTerm(s.LogpNew[t], s.LogpOld[t], s.Adv, cfg)
			sum += term.Loss
			res.Grads[i][t] = w * term.Grad
			ratios += term.Ratio
			if term.ClippedLow {
				low++
			}
			if term.ClippedHigh {
				high++
			}
			if term.DualClipped {
				dual++
			}
		}
		res.Loss += w * sum
	}
	n := float64(res.Tokens)
	res.ClipFracLow, res.ClipFracHigh, res.ClipFracDual = float64(low)/n, float64(high)/n, float64(dual)/n
	res.MeanRatio = ratios / n
	return res
}
