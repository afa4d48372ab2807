// Package dapo is the pure maths of synchronous DAPO as PAPER.md describes it:
// group-normalised advantages (advantage.go), the group filter ("dynamic sampling") with
// PAPER.md's drop and DAPO's refill (filter.go, Select), and the clipped token-level
// surrogate loss with its gradient (loss.go, TokenTerm and Loss). Loss is a float64
// reference implementation: the learner that trains the model is checked against it.
//
// The turn penalty R_len that enters R_final = R + R_len is not here: it lives in
// package swe (swe.TurnPenalty), next to the resolved rule and the reward R.
//
// The package has no goroutines, clocks, actors or I/O and imports only the standard
// library; callers pass plain numbers and get plain numbers. Every function is safe to
// call concurrently; none keeps or modifies the slices passed in, and every slice
// returned is newly allocated.
package dapo
