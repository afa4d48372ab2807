// Package sim is SimSWE, the embedded world of DESIGN.md: procedurally generated
// repositories with one injected bug each, in memory, CPU only.
//
// A task (Generate) is a few files mod0.py … of functions in a tiny integer
// language (see lang.go), tests calling the tested functions with fixed arguments,
// and one bug (an operator swapped, a constant off by one, operands swapped, a wrong
// variable) in the function or in an untested helper it reaches through
// Config.CallDepth calls. The statement names a symptom (a call, what it gives, what
// it should give), never a file or a line, and function names are shuffled over the
// files, so the bug can only be found by reading observations.
//
// The world implements the engine's contracts: Sandbox (sandbox.Sandbox, whose Exec
// interprets the sim's commands ls, run_tests, grep, show and fix; submit is the
// engine's), Factory (sandbox.Factory) and Grader (swe.Grader, all tests of the task
// on the patched files). Its texts are words of Vocab separated by single spaces and
// line breaks, so a token-level policy with a word vocabulary can read and write
// everything. Expert, Noisy and Random are scripted policies (policy.Policy) for
// traces and baselines; Run plays one episode without the actor engine.
//
// Everything is deterministic: tasks are a function of the Config (its Seed) and
// their index, and the random policies of their seed, the episode and the turn.
package sim
