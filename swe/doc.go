// Package swe holds the software-engineering task domain, independent of how episodes
// are scheduled: SWE-bench / SWE-rebench task files in JSON Lines, JSON or Parquet
// (LoadTasks, Select), the per-repository environments (EnvFor), the scaffold (system
// prompt, command-block parsing, the SWE-agent tools as a Session over any sandbox,
// the prompt line, the observation cap), test commands per task (TestSpec), test-log
// parsers, the resolved rule, the grader (TestGrader, which tells a runner that did
// not run, a *RunnerError, from a failing patch), and the turn-count length
// penalty. It never imports actors, Proto.Actor or Docker.
package swe
