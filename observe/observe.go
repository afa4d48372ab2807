// Package observe is how a run is watched while it goes: the engine and its actors
// report to a Watcher, and the watchers (Prometheus metrics in observe/prom, the live
// page in observe/ui, the terminal's progress line) turn the reports into what a person
// or a scraper reads. A watcher only counts and stores; it never steers the run.
package observe

import (
	"sync"
	"time"

	"github.com/swerl/swerl/actors"
	"github.com/swerl/swerl/messages"
)

// Run describes one engine run as it starts: Stage says what it is for ("rl_stage1",
// "eval", "rft_collect", "pretrain_probe", "rollout", ...).
type Run struct {
	Stage                string
	Iterations           int
	EpisodesPerIteration int
	StartVersion         int
	Begin                time.Time
}

// Eval is one held-out evaluation (or a pretraining probe, Stage "pretrain_probe").
type Eval struct {
	Stage   string
	Step    int
	Version int
	Pass1   float64
	PassG   float64
	Tasks   int
	Samples int
}

// Watcher sees a run as it happens. actors.Observer's Observe gets the actors' events;
// the other methods get the engine's milestones. Every method may be called from any
// goroutine, concurrently, and must not block.
type Watcher interface {
	actors.Observer
	// RunStarted: an engine run (a stage's rollouts, an evaluation) begins.
	RunStarted(Run)
	// Record: an episode's terminal record reached the barrier.
	Record(stage string, r messages.EpisodeRecord)
	// Iteration: an iteration's barrier trained and its policy is loaded.
	Iteration(stage string, r actors.IterationReport)
	// Eval: a held-out evaluation finished.
	Eval(Eval)
	// RunEnded: the run started by the last RunStarted is over (err nil: finished).
	RunEnded(stage string, err error)
}

// Base is a Watcher that ignores everything: embed it and override what you need.
type Base struct{}

func (Base) Observe(actors.Event)                     {}
func (Base) RunStarted(Run)                           {}
func (Base) Record(string, messages.EpisodeRecord)    {}
func (Base) Iteration(string, actors.IterationReport) {}
func (Base) Eval(Eval)                                {}
func (Base) RunEnded(string, error)                   {}

// Multi fans every report out to each of ws, in order. Nil watchers are skipped; with
// none left it returns nil.
func Multi(ws ...Watcher) Watcher {
	var m multi
	for _, w := range ws {
		if w != nil {
			m = append(m, w)
		}
	}
	switch len(m) {
	case 0:
		return nil
	case 1:
		return m[0]
	}
	return m
}

type multi []Watcher

func (m multi) Observe(e actors.Event) {
	for _, w := range m {
		w.Observe(e)
	}
}
func (m multi) RunStarted(r Run) {
	for _, w := range m {
		w.RunStarted(r)
	}
}
func (m multi) Record(stage string, r messages.EpisodeRecord) {
	for _, w := range m {
		w.Record(stage, r)
	}
}
func (m multi) Iteration(stage string, r actors.IterationReport) {
	for _, w := range m {
		w.Iteration(stage, r)
	}
}
func (m multi) Eval(e Eval) {
	for _, w := range m {
		w.Eval(e)
	}
}
func (m multi) RunEnded(stage string, err error) {
	for _, w := range m {
		w.RunEnded(stage, err)
	}
}

// Recorded is what a Recorder was told.
type Recorded struct {
	Events     []actors.Event
	Runs       []Run
	Records    []messages.EpisodeRecord
	Iterations []actors.IterationReport
	Evals      []Eval
	Ended      []error
}

// Recorder is a Watcher that keeps everything it is told, for tests.
type Recorder struct {
	mu  sync.Mutex
	rec Recorded
}

func (r *Recorder) with(f func(*Recorded)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(&r.rec)
}

func (r *Recorder) Observe(e actors.Event) {
	r.with(func(x *Recorded) { x.Events = append(x.Events, e) })
}
func (r *Recorder) RunStarted(u Run) { r.with(func(x *Recorded) { x.Runs = append(x.Runs, u) }) }
func (r *Recorder) Record(_ string, rec messages.EpisodeRecord) {
	r.with(func(x *Recorded) { x.Records = append(x.Records, rec) })
}
func (r *Recorder) Iteration(_ string, it actors.IterationReport) {
	r.with(func(x *Recorded) { x.Iterations = append(x.Iterations, it) })
}
func (r *Recorder) Eval(e Eval) { r.with(func(x *Recorded) { x.Evals = append(x.Evals, e) }) }
func (r *Recorder) RunEnded(_ string, err error) {
	r.with(func(x *Recorded) { x.Ended = append(x.Ended, err) })
}

// Snapshot returns a copy of what r holds, safe to read while the run goes on.
func (r *Recorder) Snapshot() Recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	x := r.rec
	return Recorded{Events: append([]actors.Event(nil), x.Events...), Runs: append([]Run(nil), x.Runs...),
		Records: append([]messages.EpisodeRecord(nil), x.Records...), Iterations: append([]actors.IterationReport(nil), x.Iterations...),
		Evals: append([]Eval(nil), x.Evals...), Ended: append([]error(nil), x.Ended...)}
}
