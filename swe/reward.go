package swe

// DefaultLengthThreshold is L_thr of PAPER.md: turns below it carry no penalty.
const DefaultLengthThreshold = 10

// TurnPenalty is R_len of PAPER.md, counted in turns:
//
//	R_len = 0 if turns < threshold, else (threshold - turns) / (maxTurns - threshold)
//
// so it reaches -1 at the turn cap. With maxTurns <= threshold there is no room for a
// penalty and it returns 0.
func TurnPenalty(turns, threshold, maxTurns int) float64 {
	if turns < threshold || maxTurns <= threshold {
		return 0
	}
	return float64(threshold-turns) / float64(maxTurns-threshold)
}

// Reward is R of PAPER.md: 1 if resolved else 0.
func Reward(resolved bool) float64 {
	if resolved {
		return 1
	}
	return 0
}
