package benchmarks

import "testing"

// Grid is the named grid of the engine-core issue: 10,000 concurrent episodes of 20
// turns, plus a smaller point for quick comparisons.
var Grid = []Params{{Episodes: 10000, Turns: 20}, {Episodes: 1000, Turns: 20}}

// BenchmarkRollouts runs the engine and both references on every grid point:
//
//	go test ./benchmarks -run '^$' -bench . -count 10 | benchstat -
func BenchmarkRollouts(b *testing.B) {
	for _, p := range Grid {
		b.Run("engine/"+p.String(), func(b *testing.B) { Engine(b, p) })
		b.Run("ref=goroutines/"+p.String(), func(b *testing.B) { Goroutines(b, p) })
		b.Run("ref=protoactor/"+p.String(), func(b *testing.B) { Actors(b, p) })
	}
}

// BenchmarkLearner measures rollout and learner tokens per second of the embedded
// recipe's tiny model (one RL iteration of 32 tasks x G = 10 per op):
//
//	go test ./benchmarks -run '^$' -bench Learner -count 5
func BenchmarkLearner(b *testing.B) {
	Learner(b, LearnerParams{Tasks: 32, Group: 10, TurnCap: 12})
}
