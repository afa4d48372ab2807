// Package benchmarks measures rollout throughput. Each harness runs Episodes
// concurrent episodes of Turns turns against zero-latency fakes, so what is timed is
// the machinery, and reports episodes/s, turns/s, bytes and allocations per turn, and
// peak heap per concurrent episode. Two references run the same fake work: a plain
// goroutine per episode (the floor: no actors at all) and the bare Proto.Actor
// request/reply round trips one turn needs (the framework's own cost). The testing.B
// grid is in throughput_test.go; `swerl bench` runs the same harnesses and prints the
// ratios.
package benchmarks
