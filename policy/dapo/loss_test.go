package dapo

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

// near reports whether got is within tol of want, relative to want's size when it is
// above 1.
func near(got, want, tol float64) bool {
	return math.Abs(got-want) <= tol*math.Max(1, math.Abs(want))
}

func TestTokenTermHandComputed(t *testing.T) {
	def := DefaultLoss() // band [0.8, 1.28], clamp 20, no dual clip
	dual := def
	dual.DualClip = 3
	clamp1 := def
	clamp1.LogRatioClamp = 1
	flat := LossConfig{} // band [1, 1]
	const e = math.E
	tests := []struct {
		name     string
		logRatio float64 // logpNew - logpOld
		adv      float64
		cfg      LossConfig
		loss     float64
		grad     float64
		ratio    float64
		low      bool
		high     bool
		dual     bool
	}{
		// rho 1.1 in [0.8, 1.28]: min(1.1*2, 1.1*2) = 2.2 unclipped; loss -2.2, grad -A*rho = -2.2
		{"inside band, A>0", math.Log(1.1), 2, def, -2.2, -2.2, 1.1, false, false, false},
		// rho 0.9: min(-0.9, -0.9); loss 0.9, grad -(-1)*0.9 = 0.9
		{"inside band, A<0", math.Log(0.9), -1, def, 0.9, 0.9, 0.9, false, false, false},
		// rho 1.5 > 1.28, A 1: min(1.5, 1.28) = 1.28 is the clipped term; loss -1.28, grad 0
		{"above band, A>0: clipped high", math.Log(1.5), 1, def, -1.28, 0, 1.5, false, true, false},
		// rho 0.5 < 0.8, A -2: min(0.5*-2, 0.8*-2) = min(-1, -1.6) = -1.6 clipped; loss 1.6, grad 0
		{"below band, A<0: clipped low", math.Log(0.5), -2, def, 1.6, 0, 0.5, true, false, false},
		// rho 1.5, A -1: min(-1.5, 1.28*-1) = -1.5 is the unclipped term; loss 1.5, grad -(-1)*1.5 = 1.5
		{"above band, A<0: unclipped", math.Log(1.5), -1, def, 1.5, 1.5, 1.5, false, false, false},
		// rho 0.5, A 1: min(0.5, 0.8) = 0.5 unclipped; loss -0.5, grad -0.5
		{"below band, A>0: unclipped", math.Log(0.5), 1, def, -0.5, -0.5, 0.5, false, false, false},
		// A 0: both terms 0
		{"zero advantage", math.Log(1.5), 0, def, 0, 0, 1.5, false, false, false},
		// band [1, 1], rho 1, A 1: rho*A = 1 = clip*A, a tie: the unclipped term stays active,
		// loss -1, grad -1
		{"tie on the band edge", 0, 1, flat, -1, -1, 1, false, false, false},
		// c 3, rho 4, A -1: min(-4, -1.28) = -4, then max(-4, 3*-1) = -3: loss 3, grad 0
		{"dual clip active", math.Log(4), -1, dual, 3, 0, 4, false, false, true},
		// c 3, rho 2.5, A -1: min(-2.5, -1.28) = -2.5 > -3: dual inactive, loss 2.5, grad 2.5
		{"dual clip inactive below c", math.Log(2.5), -1, dual, 2.5, 2.5, 2.5, false, false, false},
		// c 3, rho 4, A 0.5: dual clip ignores A>0; min(2, 1.28*0.5) = 0.64 clipped high; loss -0.64
		{"dual clip ignores A>0", math.Log(4), 0.5, dual, -0.64, 0, 4, false, true, false},
		// c 3, rho 0.5, A -1: clipped low as without dual clip: loss 0.8, grad 0
		{"dual clip with clipped low", math.Log(0.5), -1, dual, 0.8, 0, 0.5, true, false, false},
		// clamp 1: log rho 3 -> 1, rho e; A -1 above the band: unclipped, loss e, but rho is
		// constant in logpNew there, grad 0
		{"log-ratio clamp above", 3, -1, clamp1, e, 0, e, false, false, false},
		// clamp 1: log rho -3 -> -1, rho 1/e = 0.367879; A 1 below band: unclipped, loss -1/e, grad 0
		{"log-ratio clamp below", -3, 1, clamp1, -1 / e, 0, 1 / e, false, false, false},
		// clamp 1: log rho 3 -> 1, rho e > 1.28, A 1: clipped high, loss -1.28, grad 0
		{"log-ratio clamp then clipped high", 3, 1, clamp1, -1.28, 0, e, false, true, false},
		// clamp 1: log rho 0.5 is inside: rho e^0.5 = 1.648721, A -1: loss 1.648721, grad 1.648721
		{"log-ratio inside the clamp", 0.5, -1, clamp1, math.Sqrt(e), math.Sqrt(e), math.Sqrt(e), false, false, false},
		// default clamp 20: log rho 30 -> 20, rho e^20 = 4.851652e8, A -1: loss e^20, grad 0
		{"default clamp 20", 30, -1, def, 4.851651954097903e8, 0, 4.851651954097903e8, false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const logpOld = -1.7
			got := TokenTerm(logpOld+tt.logRatio, logpOld, tt.adv, tt.cfg)
			if !near(got.Loss, tt.loss, 1e-12) || !near(got.Grad, tt.grad, 1e-12) || !near(got.Ratio, tt.ratio, 1e-12) {
				t.Errorf("loss, grad, ratio = %v, %v, %v; want %v, %v, %v", got.Loss, got.Grad, got.Ratio, tt.loss, tt.grad, tt.ratio)
			}
			if got.ClippedLow != tt.low || got.ClippedHigh != tt.high || got.DualClipped != tt.dual {
				t.Errorf("clipped low, high, dual = %v, %v, %v; want %v, %v, %v",
					got.ClippedLow, got.ClippedHigh, got.DualClipped, tt.low, tt.high, tt.dual)
			}
		})
	}
}

// twoSequences is the batch of TestLossAggregationsHandComputed. Masked entries hold NaN:
// Loss must never read them.
func twoSequences() []Sequence {
	nan := math.NaN()
	return []Sequence{
		{
			// token 0 masked; rho 1, 1.5, 0.5 with A 1 (band [0.8, 1.28]):
			//   rho 1:   loss -1,    grad -1
			//   rho 1.5: loss -1.28, grad 0 (clipped high)
			//   rho 0.5: loss -0.5,  grad -0.5
			LogpNew: []float64{nan, -1, -1 + math.Log(1.5), -1 + math.Log(0.5)},
			LogpOld: []float64{nan, -1, -1, -1},
			Mask:    []float64{0, 1, 1, 1},
			Adv:     1,
		},
		{
			// token 1 masked; rho 1 with A -2: loss 2, grad -(-2)*1 = 2
			LogpNew: []float64{-0.3, nan},
			LogpOld: []float64{-0.3, nan},
			Mask:    []float64{1, 0},
			Adv:     -2,
		},
	}
}

func TestLossAggregationsHandComputed(t *testing.T) {
	// Per-token losses: sequence 0: -1, -1.28, -0.5 (sum -2.78, mean -0.926667, n 3);
	// sequence 1: 2 (sum 2, mean 2, n 1). N = 4 tokens, S = 2 sequences.
	tests := []struct {
		agg   Aggregation
		loss  float64
		grads [][]float64
	}{
		// (-2.78 + 2) / 4 = -0.195; grads = token grads / 4
		{TokenMean, -0.195, [][]float64{{0, -0.25, 0, -0.125}, {0.5, 0}}},
		// (-2.78/3 + 2/1) / 2 = (-0.926667 + 2) / 2 = 0.536667;
		// grads: sequence 0 / (2*3) = -1/6, -0.5/6; sequence 1 / (2*1) = 1
		{SeqMeanTokenMean, (-2.78/3 + 2) / 2, [][]float64{{0, -1.0 / 6, 0, -0.5 / 6}, {1, 0}}},
		// (-2.78 + 2) / 2 = -0.39; grads = token grads / 2
		{SeqMeanTokenSum, -0.39, [][]float64{{0, -0.5, 0, -0.25}, {1, 0}}},
		// "" is token-mean
		{"", -0.195, [][]float64{{0, -0.25, 0, -0.125}, {0.5, 0}}},
	}
	for _, tt := range tests {
		t.Run(string(tt.agg), func(t *testing.T) {
			cfg := DefaultLoss()
			cfg.Agg = tt.agg
			res := Loss(twoSequences(), cfg)
			if !near(res.Loss, tt.loss, 1e-12) {
				t.Errorf("Loss = %v, want %v", res.Loss, tt.loss)
			}
			checkGrads(t, res.Grads, tt.grads)
			// One of 4 tokens clipped high; ratios 1, 1.5, 0.5, 1: mean 1.
			if res.Tokens != 4 || res.ClipFracHigh != 0.25 || res.ClipFracLow != 0 || res.ClipFracDual != 0 || !near(res.MeanRatio, 1, 1e-12) {
				t.Errorf("tokens %d, clip low %v high %v dual %v, mean ratio %v; want 4, 0, 0.25, 0, 1",
					res.Tokens, res.ClipFracLow, res.ClipFracHigh, res.ClipFracDual, res.MeanRatio)
			}
		})
	}
}

func checkGrads(t *testing.T, got, want [][]float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d gradient rows, want %d", len(got), len(want))
	}
	for i := range want {
		if len(got[i]) != len(want[i]) {
			t.Fatalf("Grads[%d] has %d entries, want %d", i, len(got[i]), len(want[i]))
		}
		for j := range want[i] {
			if !near(got[i][j], want[i][j], 1e-12) {
				t.Errorf("Grads[%d][%d] = %v, want %v", i, j, got[i][j], want[i][j])
			}
		}
	}
}

func TestLossIgnoresAllMaskedSequences(t *testing.T) {
	for _, agg := range []Aggregation{TokenMean, SeqMeanTokenMean, SeqMeanTokenSum} {
		cfg := DefaultLoss()
		cfg.Agg = agg
		want := Loss(twoSequences(), cfg)
		seqs := append(twoSequences(), Sequence{
			LogpNew: []float64{math.NaN(), 5}, LogpOld: []float64{0, math.Inf(-1)}, Mask: []float64{0, 0}, Adv: 3,
		}, Sequence{Adv: -1})
		got := Loss(seqs, cfg)
		if got.Loss != want.Loss || got.Tokens != want.Tokens || got.MeanRatio != want.MeanRatio {
			t.Errorf("%s: an all-masked sequence changed the result: %+v, want %+v", agg, got, want)
		}
		checkGrads(t, got.Grads, append(want.Grads, []float64{0, 0}, []float64{}))
	}
}

func TestLossEmpty(t *testing.T) {
	allMasked := []Sequence{{LogpNew: []float64{math.NaN(), 1}, LogpOld: []float64{2, math.NaN()}, Mask: []float64{0, 0}, Adv: 1}}
	for _, agg := range []Aggregation{TokenMean, SeqMeanTokenMean, SeqMeanTokenSum} {
		cfg := DefaultLoss()
		cfg.Agg = agg
		for name, seqs := range map[string][]Sequence{"nil": nil, "empty": {}, "all masked": allMasked} {
			res := Loss(seqs, cfg)
			if res.Loss != 0 || res.Tokens != 0 || res.ClipFracLow != 0 || res.ClipFracHigh != 0 || res.ClipFracDual != 0 || res.MeanRatio != 0 {
				t.Errorf("%s/%s: %+v, want a zero result", agg, name, res)
			}
			if len(res.Grads) != len(seqs) {
				t.Fatalf("%s/%s: %d gradient rows, want %d", agg, name, len(res.Grads), len(seqs))
			}
			for i, row := range res.Grads {
				if len(row) != len(seqs[i].LogpNew) {
					t.Errorf("%s/%s: Grads[%d] has %d entries", agg, name, i, len(row))
				}
				for _, g := range row {
					if g != 0 {
						t.Errorf("%s/%s: non-zero gradient %v", agg, name, g)
					}
				}
			}
		}
	}
}

func TestLossPanics(t *testing.T) {
	good := Sequence{LogpNew: []float64{0}, LogpOld: []float64{0}, Mask: []float64{1}, Adv: 1}
	bad := DefaultLoss()
	bad.Agg = "seq-mean"
	tests := []struct {
		name string
		seqs []Sequence
		cfg  LossConfig
		msg  string
	}{
		{"unknown aggregation", []Sequence{good}, bad, "unknown aggregation"},
		{"short LogpOld", []Sequence{good, {LogpNew: []float64{0, 0}, LogpOld: []float64{0}, Mask: []float64{1, 1}}}, DefaultLoss(), "sequence 1"},
		{"short Mask", []Sequence{{LogpNew: []float64{0}, LogpOld: []float64{0}}}, DefaultLoss(), "0 mask entries"},
		{"fractional mask", []Sequence{{LogpNew: []float64{0}, LogpOld: []float64{0}, Mask: []float64{0.5}}}, DefaultLoss(), "want 0 or 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if s, _ := r.(string); !strings.Contains(s, tt.msg) {
					t.Errorf("panic %v, want one containing %q", r, tt.msg)
				}
			}()
			Loss(tt.seqs, tt.cfg)
		})
	}
}

func TestLossConfigValidate(t *testing.T) {
	for name, c := range map[string]LossConfig{"default": DefaultLoss(), "stage 1": Stage1Loss(), "stage 2": Stage2Loss(), "zero": {}} {
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Presets: PAPER.md "DAPO reference details" (0.2/0.28) and the Phase 2 table (0.2/0.3, 0.2/0.26).
	if d, s1, s2 := DefaultLoss(), Stage1Loss(), Stage2Loss(); d.EpsLow != 0.2 || d.EpsHigh != 0.28 ||
		s1.EpsLow != 0.2 || s1.EpsHigh != 0.3 || s2.EpsLow != 0.2 || s2.EpsHigh != 0.26 ||
		d.Agg != TokenMean || d.DualClip != 0 || d.LogRatioClamp != 20 {
		t.Errorf("presets changed: %+v %+v %+v", d, s1, s2)
	}
	nan := math.NaN()
	for name, c := range map[string]LossConfig{
		"negative eps low":  {EpsLow: -0.1},
		"eps low above 1":   {EpsLow: 1.5},
		"NaN eps high":      {EpsHigh: nan},
		"infinite eps high": {EpsHigh: math.Inf(1)},
		"dual clip 1":       {DualClip: 1},
		"dual clip 0.5":     {DualClip: 0.5},
		"negative clamp":    {LogRatioClamp: -1},
		"unknown agg":       {Agg: "token-sum"},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("%s: Validate accepted %+v", name, c)
		}
	}
}

func ExampleTokenTerm() {
	cfg := DefaultLoss() // ratio band [0.8, 1.28]
	for _, c := range []struct{ ratio, adv float64 }{{1.1, 1}, {1.5, 1}, {1.5, -1}, {0.5, -1}} {
		t := TokenTerm(math.Log(c.ratio), 0, c.adv, cfg)
		fmt.Printf("ratio %.2f A %+.0f: loss %+.2f grad %+.2f clipped low %v high %v\n",
			t.Ratio, c.adv, t.Loss, t.Grad, t.ClippedLow, t.ClippedHigh)
	}
	// Output:
	// ratio 1.10 A +1: loss -1.10 grad -1.10 clipped low false high false
	// ratio 1.50 A +1: loss -1.28 grad +0.00 clipped low false high true
	// ratio 1.50 A -1: loss +1.50 grad +1.50 clipped low false high false
	// ratio 0.50 A -1: loss +0.80 grad +0.00 clipped low true high false
}
