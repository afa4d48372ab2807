// Package dapo is the pure maths of synchronous DAPO as PAPER.md describes it:
// group-normalised advantages and the group filter ("dynamic sampling"). It has no
// goroutines, clocks, actors or I/O; callers pass plain numbers and get plain numbers.
package dapo
