package dapo

import "math"

// DefaultDelta is the delta of A = (R_final - mean) / (std + delta).
const DefaultDelta = 1e-6

// AdvantageConfig says how a group's rewards become advantages.
type AdvantageConfig struct {
	// Delta keeps the division finite when every reward of the group is equal.
	Delta float64
	// Population uses the population std (divide by n); the default (false) applies
	// Bessel's correction (divide by n-1) as common implementations do.
	Population bool
	// MeanOnly skips the division by the std: A = R_final - mean.
	MeanOnly bool
}

// DefaultAdvantage is the paper's choice: Bessel-corrected std, delta 1e-6.
func DefaultAdvantage() AdvantageConfig { return AdvantageConfig{Delta: DefaultDelta} }

// Advantages returns A_i = (r_i - mean) / (std + delta) for one group, in a new slice.
// A group of one has std 0 (Bessel's correction would divide by zero).
func Advantages(rewards []float64, cfg AdvantageConfig) []float64 {
	n := len(rewards)
	out := make([]float64, n)
	if n == 0 {
		return out
	}
	mean := 0.0
	for _, r := range rewards {
		mean += r
	}
	mean /= float64(n)
	std := 0.0
	if !cfg.MeanOnly {
		ss := 0.0
		for _, r := range rewards {
			ss += (r - mean) * (r - mean)
		}
		div := float64(n - 1)
		if cfg.Population {
			div = float64(n)
		}
		if div > 0 {
			std = math.Sqrt(ss / div)
		}
	}
	for i, r := range rewards {
		a := r - mean
		if !cfg.MeanOnly {
			a /= std + cfg.Delta
		}
		out[i] = a
	}
	return out
}
