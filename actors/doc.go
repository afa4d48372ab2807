// Package actors is swerl's concurrent engine on Proto.Actor: the coordinator, episode,
// sandbox, grader, inference and learner actors, and the guardian that supervises them.
//
// The tree (DESIGN.md):
//
//	guardian ── learner, inference, graders, coordinator ── episode ── sandbox
//
// Rules every actor here follows:
//   - Receive never blocks. Sandbox calls, policy calls, grading and training run in
//     goroutines owned by the Runtime, started with Runtime.Go, cancelled through the
//     owning actor's context when it stops; their results come back as messages.
//   - Expected failures (a sandbox that died, a policy endpoint that failed, a grader
//     error) are messages with a retryable flag, retried within the episode's budget
//     with jittered backoff. Panics are bugs: they go to the supervisor, which restarts
//     the actor a bounded number of times with backoff and then stops it.
//   - Nothing lost, nothing doubled: every requested episode ends in exactly one
//     messages.EpisodeRecord, finished or abandoned. An infrastructure failure is never
//     a reward of 0.
//   - Every message carries its iteration and policy version; stale ones are dropped
//     and counted.
package actors
