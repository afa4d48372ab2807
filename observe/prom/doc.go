// Package prom turns a run's reports into Prometheus metrics: New builds a Metrics,
// an observe.Watcher with its own registry (the swerl_ metrics plus the Go runtime's
// and the process's), and Handler serves them in the exposition format for a scraper.
//
// Names follow Prometheus's conventions (base units, _total on counters, _seconds on
// durations; a test lints them with promlint) and labels only ever carry a bounded set
// of values: stage names, status, stop reason, failure kind, phase, side, outcome.
// Episode and task ids never become labels; per-episode state (the phase an episode is
// in, when records reached the barrier) is kept inside Metrics and forgotten when the
// episode ends or the run is over.
//
// Every method of Metrics may be called from any goroutine, concurrently; none blocks
// on anything but a short internal lock.
package prom
