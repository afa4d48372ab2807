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
	// Refill selects DAPO's batching (arXiv 2503.14476): over-sample groups and train on
	// the first ones that pass, up to a fixed number (see Select). The default (false)
	// is PAPER.md's: sample a fixed number of groups and train on whatever passes, so the
	// batch shrinks. Keep, Apply and Select ignore it; it tells the coordinator which loop
	// to run.
	Refill bool
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

// Select applies f to groups in order and keeps the first want groups that pass:
// kept holds their indices, increasing, and results[i] is Apply(groups[kept[i]], f, adv).
// Groups after the want-th kept one are not looked at. When fewer than want pass, all
// of those that do are returned; want <= 0 returns nothing.
//
// With want = len(groups) it is PAPER.md's drop: every passing group of a fixed sample.
// For DAPO's refill (f.Refill) a coordinator over-samples: it samples groups in rounds
// (DAPO's implementations draw a whole generation batch per round; a pass rate p
// observed so far suggests about want/p groups), appends each round's groups after the
// earlier ones, and calls Select again until len(kept) == want or a round budget runs
// out. Select is prefix-stable: groups[:k] gives a prefix of what groups gives, so a
// group once kept stays kept and the order is the order of sampling.
func Select(groups [][]Sample, want int, f GroupFilter, adv AdvantageConfig) (kept []int, results []GroupResult) {
	for i, g := range groups {
		if len(kept) >= want {
			break
		}
		res := Apply(g, f, adv)
		if !res.Kept {
			continue
		}
		kept = append(kept, i)
		results = append(results, res)
	}
	return kept, results
}
