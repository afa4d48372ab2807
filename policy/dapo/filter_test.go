package dapo

import "testing"

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
