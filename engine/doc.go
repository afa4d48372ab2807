// Package engine runs swerl: Run builds the actor tree for a configuration, drives K
// synchronous iterations (sample tasks, N x G episodes at once, the barrier, the DAPO
// update, the next policy version) and returns only when every actor, goroutine and
// sandbox it started is gone.
package engine
