package dapo

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"testing/quick"
)

func samples(outcomes, finals []float64) []Sample {
	s := make([]Sample, len(outcomes))
	for i := range s {
		s[i] = Sample{Outcome: outcomes[i], Final: finals[i]}
	}
	return s
}

func TestGroupFilterKeep(t *testing.T) {
	tests := []struct {
		name     string
		outcomes []float64
		finals   []float64
		on       FilterOn
		want     bool
	}{
		{"all solved", []float64{1, 1, 1}, []float64{1, 0.9, 1}, FilterOutcome, false},
		{"none solved, penalty differs", []float64{0, 0, 0}, []float64{0, -0.5, -1}, FilterOutcome, false},
		{"none solved, on final", []float64{0, 0, 0}, []float64{0, -0.5, -1}, FilterFinal, true},
		{"mixed", []float64{1, 0, 0}, []float64{1, 0, 0}, FilterOutcome, true},
		{"mixed but equal finals", []float64{1, 0}, []float64{0, 0}, FilterFinal, false},
		{"single", []float64{1}, []float64{1}, FilterOutcome, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := (GroupFilter{On: tt.on}).Keep(samples(tt.outcomes, tt.finals)); got != tt.want {
				t.Errorf("Keep = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestApplyDropsZeroAdvantageSamples(t *testing.T) {
	// finals 1, 0, 0.5: mean 0.5, the third sample has A = 0 exactly.
	g := samples([]float64{1, 0, 1}, []float64{1, 0, 0.5})
	res := Apply(g, GroupFilter{}, DefaultAdvantage())
	if !res.Kept {
		t.Fatal("mixed group dropped")
	}
	want := []bool{true, true, false}
	for i := range want {
		if res.Keep[i] != want[i] {
			t.Errorf("Keep[%d] = %v, want %v (A = %v)", i, res.Keep[i], want[i], res.Advantages)
		}
	}
	res = Apply(g, GroupFilter{KeepZeroSamples: true}, DefaultAdvantage())
	if !res.Keep[2] {
		t.Error("KeepZeroSamples did not keep the zero-advantage sample")
	}
	if res := Apply(samples([]float64{0, 0}, []float64{0, -1}), GroupFilter{}, DefaultAdvantage()); res.Kept || res.Advantages != nil {
		t.Errorf("all-failed group kept: %+v", res)
	}
}

func TestSelectRefill(t *testing.T) {
	pass := samples([]float64{1, 0}, []float64{1, 0})
	fail := samples([]float64{0, 0}, []float64{0, -1}) // outcomes all 0: dropped
	// Sampled in order: pass, fail, pass, pass, fail.
	groups := [][]Sample{pass, fail, pass, pass, fail}
	tests := []struct {
		want int
		kept []int
	}{
		{2, []int{0, 2}},    // group 3 is never looked at
		{3, []int{0, 2, 3}}, // exactly enough pass
		{10, []int{0, 2, 3}},
		{0, nil},
		{-1, nil},
	}
	for _, tt := range tests {
		kept, results := Select(groups, tt.want, GroupFilter{Refill: true}, DefaultAdvantage())
		if !slices.Equal(kept, tt.kept) {
			t.Errorf("want %d: kept %v, want %v", tt.want, kept, tt.kept)
		}
		if len(results) != len(kept) {
			t.Fatalf("want %d: %d results for %d kept groups", tt.want, len(results), len(kept))
		}
		for i, k := range kept {
			// Each kept group of two with finals 1, 0: mean 0.5, Bessel std 0.707107,
			// A = +-0.5 / (0.707107 + 1e-6) = +-0.707106.
			want := Apply(groups[k], GroupFilter{}, DefaultAdvantage())
			if !results[i].Kept || !slices.Equal(results[i].Advantages, want.Advantages) || !slices.Equal(results[i].Keep, want.Keep) {
				t.Errorf("want %d: results[%d] = %+v, Apply gives %+v", tt.want, i, results[i], want)
			}
		}
	}
	if kept, _ := Select(nil, 3, GroupFilter{}, DefaultAdvantage()); kept != nil {
		t.Errorf("no groups: kept %v", kept)
	}
}

func TestSelectIsPrefixStable(t *testing.T) {
	f := func(seed uint64) bool {
		rng := rand.New(rand.NewPCG(seed, 5))
		groups := make([][]Sample, rng.IntN(20))
		for i := range groups {
			g := make([]Sample, 1+rng.IntN(4))
			for j := range g {
				r := float64(rng.IntN(2))
				g[j] = Sample{Outcome: r, Final: r - rng.Float64()}
			}
			groups[i] = g
		}
		want := rng.IntN(8)
		filter := GroupFilter{On: []FilterOn{FilterOutcome, FilterFinal}[rng.IntN(2)], Refill: true}
		all, _ := Select(groups, want, filter, DefaultAdvantage())
		// A round that sampled only groups[:k] keeps a prefix of what the full sample keeps.
		k := rng.IntN(len(groups) + 1)
		part, _ := Select(groups[:k], want, filter, DefaultAdvantage())
		if len(part) > len(all) || !slices.Equal(part, all[:len(part)]) {
			t.Logf("seed %d: groups[:%d] keeps %v, all groups keep %v", seed, k, part, all)
			return false
		}
		// With want = len(groups) Select is PAPER.md's drop: every passing group.
		every, _ := Select(groups, len(groups), filter, DefaultAdvantage())
		var passing []int
		for i, g := range groups {
			if filter.Keep(g) {
				passing = append(passing, i)
			}
		}
		if !slices.Equal(every, passing) {
			t.Logf("seed %d: drop keeps %v, passing %v", seed, every, passing)
			return false
		}
		return len(all) == min(want, len(passing))
	}
	if err := quick.Check(f, &quick.Config{MaxCount: 1000}); err != nil {
		t.Fatal(err)
	}
}

func ExampleSelect() {
	pass := []Sample{{Outcome: 1, Final: 1}, {Outcome: 0, Final: -0.2}}
	fail := []Sample{{Outcome: 0, Final: 0}, {Outcome: 0, Final: -0.5}}
	// Over-sampled: five groups for a batch of two.
	kept, results := Select([][]Sample{fail, pass, fail, pass, pass}, 2, GroupFilter{Refill: true}, DefaultAdvantage())
	fmt.Println(kept, len(results))
	// Output: [1 3] 2
}
