package dapo

// FilterOn selects the signal the zero-advantage group test looks at.
type FilterOn string

const (
	// FilterOutcome drops a group whose binary outcomes R are all equal (all resolved or
	// none), so the length penalty alone never keeps a group. The default.
	FilterOutcome FilterOn = "outcome"
	// FilterFinal drops a group whose R_final are all equal.
	FilterFinal FilterOn = "final"
)

// Sample is one finished trajectory's rewards.
type Sample struct {
	Outcome float64 // R
	Final   float64 // R_final = R + R_len
}

// GroupFilter is the dynamic-sampling rule.
type GroupFilter struct {
	On FilterOn
	// KeepZeroSamples keeps individual trajectories whose advantage is exactly 0 inside
	// a kept group. PAPER.md drops them (the default, false).
	KeepZeroSamples bool
}

// Keep reports whether a group carries a learning signal under f.
func (f GroupFilter) Keep(group []Sample) bool {
	if len(group) < 2 {
		return false
	}
	pick := func(s Sample) float64 {
		if f.On == FilterFinal {
			return s.Final
		}
		return s.Outcome
	}
	first := pick(group[0])
	for _, s := range group[1:] {
		if pick(s) != first {
			return true
		}
	}
	return false
}

// GroupResult is the filter's decision for one group.
type GroupResult struct {
	Kept       bool
	Advantages []float64 // one per sample, computed on R_final; nil when dropped
	Keep       []bool    // whether sample i goes into the batch
}

// Apply filters a group and computes its advantages on R_final.
func Apply(group []Sample, f GroupFilter, adv AdvantageConfig) GroupResult {
	if !f.Keep(group) {
		return GroupResult{}
	}
	finals := make([]float64, len(group))
	for i, s := range group {
		finals[i] = s.Final
	}
	a := Advantages(finals, adv)
	keep := make([]bool, len(group))
	for i := range a {
		keep[i] = f.KeepZeroSamples || a[i] != 0
	}
	return GroupResult{Kept: true, Advantages: a, Keep: keep}
}
