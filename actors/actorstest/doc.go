// Package actorstest ships fakes for every backend the engine talks to, each with
// fault knobs (latency, crash at turn t, hang, errors, garbage output, a learner
// panic), a deterministic FaultPlan that spreads faults over episodes by seed, and
// NewTestSystem for tests that drive actors directly.
//
// The fakes do real work in miniature: the scripted agent's commands change the fake
// sandbox's state, the patch comes from that state, and the grader resolves a patch
// only if the agent's fix is in it, so rewards flow through the same path as in a real
// run. Fakes stand in for dependencies in unit tests; they are never evidence that a
// real backend works.
package actorstest
