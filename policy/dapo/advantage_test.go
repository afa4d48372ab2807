package dapo

import (
	"math"
	"math/rand/v2"
	"testing"
	"testing/quick"
)

func TestAdvantagesHandComputed(t *testing.T) {
	tests := []struct {
		name    string
		rewards []float64
		cfg     AdvantageConfig
		want    []float64
	}{
		// mean 0.5, Bessel std sqrt((0.25*4)/3) = 0.57735
		{"bessel", []float64{1, 0, 1, 0}, AdvantageConfig{Delta: 0}, []float64{0.866025, -0.866025, 0.866025, -0.866025}},
		// population std 0.5
		{"population", []float64{1, 0, 1, 0}, AdvantageConfig{Population: true}, []float64{1, -1, 1, -1}},
		{"mean only", []float64{1, 0, 0, 0}, AdvantageConfig{MeanOnly: true}, []float64{0.75, -0.25, -0.25, -0.25}},
		// all equal: std 0, A = 0 / delta = 0
		{"all equal", []float64{-0.5, -0.5, -0.5}, DefaultAdvantage(), []float64{0, 0, 0}},
		{"single", []float64{1}, DefaultAdvantage(), []float64{0}},
		// with the turn penalty: finals 1, 0.8-1=-0.2 ... mean 0.4, std sqrt((0.36+0.36)/1)=0.848528
		{"penalised", []float64{1, -0.2}, AdvantageConfig{}, []float64{0.707107, -0.707107}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Advantages(tt.rewards, tt.cfg)
			if len(got) != len(tt.want) {
				t.Fatalf("len = %d, want %d", len(got), len(tt.want))
			}
			for i := range got {
				if math.Abs(got[i]-tt.want[i]) > 1e-5 {
					t.Errorf("A[%d] = %.6f, want %.6f (all: %v)", i, got[i], tt.want[i], got)
				}
			}
		})
	}
}

// naiveAdvantages is the textbook two-pass formula, written independently.
func naiveAdvantages(r []float64, delta float64) []float64 {
	var sum float64
	for _, x := range r {
		sum += x
	}
	mean := sum / float64(len(r))
	var v float64
	for _, x := range r {
		v += math.Pow(x-mean, 2)
	}
	std := 0.0
	if len(r) > 1 {
		std = math.Sqrt(v / float64(len(r)-1))
	}
	out := []float64{}
	for _, x := range r {
		out = append(out, (x-mean)/(std+delta))
	}
	return out
}

func TestAdvantagesMatchNaive(t *testing.T) {
	f := func(seed uint64, n uint8) bool {
		rng := rand.New(rand.NewPCG(seed, 1))
		size := int(n%16) + 1
		r := make([]float64, size)
		for i := range r {
			r[i] = float64(rng.IntN(2)) + rng.Float64()*-1 // R + R_len in [-1, 1]
		}
		got := Advantages(r, DefaultAdvantage())
		want := naiveAdvantages(r, DefaultDelta)
		var sum float64
		for i := range got {
			if math.Abs(got[i]-want[i]) > 1e-9 {
				t.Logf("seed %d: A[%d] = %v, naive %v", seed, i, got[i], want[i])
				return false
			}
			sum += got[i]
		}
		// Advantages of a group are centred.
		return math.Abs(sum) < 1e-6
	}
	if err := quick.Check(f, &quick.Config{MaxCount: 500, Rand: nil}); err != nil {
		t.Fatal(err)
	}
}
