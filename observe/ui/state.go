package ui

import (
	"fmt"
	"sort"
	"time"

	"github.com/swerl/swerl/actors"
	"github.com/swerl/swerl/engine"
	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/observe"
)

// Bounds on what the page keeps: whatever the length of a run, the state stays this
// small.
const (
	maxStragglers   = 10
	maxIterations   = 50
	maxCurvePoints  = 500
	maxStopReasons  = 32
	defaultMaxTrajs = 4000
)

// State is what /api/state returns: the page's whole model, as JSON.
type State struct {
	Seq        uint64           `json:"seq"` // grows with every report the server saw
	Run        *RunState        `json:"run"` // nil before the first run
	Iteration  int              `json:"iteration"`
	Expected   int              `json:"expected"` // episodes the current iteration spawns
	Episodes   []Episode        `json:"episodes"` // the current iteration's, by group and sample
	Phases     map[string]int   `json:"phases"`   // episodes per phase ("done" counts finished ones)
	Stops      map[string]int   `json:"stops"`    // finished episodes of the current run by stop reason
	Stragglers []Episode        `json:"stragglers"`
	Iterations []IterationStats `json:"iterations"` // the last ones, oldest first
	Evals      []observe.Eval   `json:"evals"`
	Kept       int              `json:"kept"` // trajectories the viewer can open
}

// RunState is the current engine run.
type RunState struct {
	Number               int       `json:"number"` // 1 for the first run the server saw
	Stage                string    `json:"stage"`
	Iterations           int       `json:"iterations"`
	EpisodesPerIteration int       `json:"episodes_per_iteration"`
	Begin                time.Time `json:"begin"`
	Ended                bool      `json:"ended"`
	Err                  string    `json:"error,omitempty"`
}

// Episode is one cell of the grid.
type Episode struct {
	Key      string  `json:"key"` // r<run>/k<iteration>/g<group>/s<sample>: /api/episode?key=
	Group    int     `json:"group"`
	Sample   int     `json:"sample"`
	Task     string  `json:"task"`
	Phase    string  `json:"phase"`
	Turns    int     `json:"turns"`
	Tokens   int     `json:"tokens"`
	Attempt  int     `json:"attempt"`
	Elapsed  float64 `json:"elapsed_s"` // since its first event (until its record, once finished)
	Finished bool    `json:"finished"`
	Status   string  `json:"status,omitempty"`
	Stop     string  `json:"stop,omitempty"`
	Resolved bool    `json:"resolved"`

	start, end time.Time
}

// IterationStats is one trained iteration's numbers.
type IterationStats struct {
	Stage        string  `json:"stage"`
	Iteration    int     `json:"iteration"`
	Version      int     `json:"version"`
	Finished     int     `json:"finished"`
	Abandoned    int     `json:"abandoned"`
	Resolved     int     `json:"resolved"`
	Loss         float64 `json:"loss"`
	ClipFracLow  float64 `json:"clip_frac_low"`
	ClipFracHigh float64 `json:"clip_frac_high"`
	Entropy      float64 `json:"entropy"`
	GradNorm     float64 `json:"grad_norm"`
	Skipped      bool    `json:"skipped"`
	// Learned: the learner took a step at this barrier. Evaluation and data-collection
	// runs (a frozen policy) and empty batches did not: their loss and clip columns
	// are not a learner's.
	Learned   bool    `json:"learned"`
	RolloutS  float64 `json:"rollout_s"`
	TrainingS float64 `json:"training_s"`
}

// Trajectory is one finished episode, turn by turn (/api/episode).
type Trajectory struct {
	Key       string           `json:"key"`
	Stage     string           `json:"stage"`
	Ref       string           `json:"ref"`
	Task      string           `json:"task"`
	Statement string           `json:"statement"`
	Status    string           `json:"status"`
	Stop      string           `json:"stop"`
	Failure   string           `json:"failure,omitempty"`
	Resolved  bool             `json:"resolved"`
	Reward    float64          `json:"reward"`
	Final     float64          `json:"final"`
	Advantage float64          `json:"advantage"`
	Attempts  int              `json:"attempts"`
	DurationS float64          `json:"duration_s"`
	Patch     string           `json:"patch"`
	Turns     []TrajectoryTurn `json:"turns"`
	run       int
}

// TrajectoryTurn is one turn of a Trajectory.
type TrajectoryTurn struct {
	Index       int     `json:"index"`
	Version     int     `json:"version"`
	Assistant   string  `json:"assistant"`
	Command     string  `json:"command"`
	FormatError string  `json:"format_error,omitempty"`
	Observation string  `json:"observation"`
	ExitCode    int     `json:"exit_code"`
	TimedOut    bool    `json:"timed_out"`
	Tokens      int     `json:"tokens"`
	GenerateS   float64 `json:"generate_s"`
	ExecS       float64 `json:"exec_s"`
}

// state is the server's model; its owner holds the lock around every method.
type state struct {
	now      func() time.Time
	maxTrajs int

	seq       uint64
	run       *RunState
	iteration int
	expected  int
	episodes  map[messages.EpisodeKey]*Episode
	stops     map[string]int
	iters     []IterationStats
	evals     []observe.Eval
	trajs     map[string]*Trajectory
	order     []string // trajectory keys, oldest first
}

func newState(now func() time.Time, maxTrajs int) *state {
	return &state{now: now, maxTrajs: maxTrajs, episodes: map[messages.EpisodeKey]*Episode{},
		stops: map[string]int{}, trajs: map[string]*Trajectory{}}
}

func (s *state) key(k messages.EpisodeKey) string {
	n := 0
	if s.run != nil {
		n = s.run.Number
	}
	return fmt.Sprintf("r%d/k%d/g%d/s%d", n, k.Iteration, k.Group, k.Sample)
}

func (s *state) runStarted(r observe.Run) {
	s.seq++
	n := 1
	if s.run != nil {
		n = s.run.Number + 1
	}
	s.run = &RunState{Number: n, Stage: r.Stage, Iterations: r.Iterations, EpisodesPerIteration: r.EpisodesPerIteration, Begin: r.Begin}
	if r.Begin.IsZero() {
		s.run.Begin = s.now()
	}
	s.iteration, s.expected = 0, r.EpisodesPerIteration
	clear(s.episodes)
	clear(s.stops)
	// The viewer keeps the current and the previous run.
	kept := s.order[:0]
	for _, k := range s.order {
		if s.trajs[k].run >= n-1 {
			kept = append(kept, k)
		} else {
			delete(s.trajs, k)
		}
	}
	s.order = kept
}

func (s *state) runEnded(err error) {
	s.seq++
	if s.run == nil {
		return
	}
	s.run.Ended = true
	if err != nil {
		s.run.Err = err.Error()
	}
}

// episode returns the cell of ref in the current iteration, making it when new; nil
// when ref belongs to an older iteration.
func (s *state) episode(ref messages.EpisodeRef) *Episode {
	if ref.Iteration < s.iteration {
		return nil
	}
	if ref.Iteration > s.iteration {
		s.iteration = ref.Iteration
		clear(s.episodes)
	}
	k := ref.Key()
	e := s.episodes[k]
	if e == nil {
		e = &Episode{Key: s.key(k), Group: ref.Group, Sample: ref.Sample, Task: ref.TaskID,
			Phase: string(actors.PhaseStarting), start: s.now()}
		s.episodes[k] = e
	}
	return e
}

func (s *state) observe(ev actors.Event) {
	s.seq++
	switch ev.Kind {
	case actors.EventIterationStarted:
		if ev.Ref.Iteration != s.iteration {
			clear(s.episodes)
		}
		s.iteration, s.expected = ev.Ref.Iteration, ev.Episodes
	case actors.EventPhase:
		if e := s.episode(ev.Ref); e != nil && !e.Finished {
			e.Phase, e.Attempt = string(ev.Phase), ev.Attempt
		}
	case actors.EventTurn:
		if e := s.episode(ev.Ref); e != nil && !e.Finished {
			e.Turns, e.Attempt = max(e.Turns, ev.Turn), ev.Attempt
			e.Tokens += ev.Tokens
		}
	}
}

func (s *state) record(r messages.EpisodeRecord, t *Trajectory) {
	s.seq++
	if e := s.episode(r.Ref); e != nil {
		e.Finished, e.Phase = true, string(actors.PhaseDone)
		e.Status, e.Stop, e.Resolved, e.Turns = string(r.Status), string(r.Stop), r.Resolved, r.Turns()
		e.end = s.now()
	}
	if _, ok := s.stops[string(r.Stop)]; ok || len(s.stops) < maxStopReasons {
		s.stops[string(r.Stop)]++
	}
	s.keep(r, t)
}

// maxText caps each text of a kept trajectory (an assistant turn, an observation, a
// patch), so a kept record's size is bounded whatever the agent printed.
const maxText = 16 << 10

func clip(s string) string {
	if len(s) <= maxText {
		return s
	}
	return s[:maxText] + fmt.Sprintf("\n… (%d more bytes not kept by the live page)", len(s)-maxText)
}

// newTrajectory converts r for the viewer; it needs no lock (keep adds the key).
func newTrajectory(stage string, r messages.EpisodeRecord) *Trajectory {
	t := &Trajectory{Stage: stage, Ref: r.Ref.String(), Task: r.Task.ID, Statement: clip(r.Task.Statement),
		Status: string(r.Status), Stop: string(r.Stop), Resolved: r.Resolved, Reward: r.Reward, Final: r.Final,
		Advantage: r.Advantage, Attempts: r.Attempts, DurationS: r.Duration.Seconds(), Patch: clip(r.Patch), Turns: []TrajectoryTurn{}}
	if r.Status == messages.Abandoned {
		t.Failure = fmt.Sprintf("%v", r.Failure)
	}
	for _, u := range r.Transcript.Turns() {
		t.Turns = append(t.Turns, TrajectoryTurn{Index: u.Index, Version: u.PolicyVersion, Assistant: clip(u.Assistant),
			Command: clip(u.Command), FormatError: clip(u.FormatError), Observation: clip(u.Observation), ExitCode: u.ExitCode,
			TimedOut: u.TimedOut, Tokens: u.NumTokens(), GenerateS: u.GenerateTime.Seconds(), ExecS: u.ExecTime.Seconds()})
	}
	return t
}

// keep stores the trajectory t of r for the viewer, dropping the oldest beyond the cap.
func (s *state) keep(r messages.EpisodeRecord, t *Trajectory) {
	if s.maxTrajs <= 0 || t == nil {
		return
	}
	key := s.key(r.Ref.Key())
	t.Key = key
	if s.run != nil {
		t.run = s.run.Number
	}
	if _, ok := s.trajs[key]; !ok {
		s.order = append(s.order, key)
	}
	s.trajs[key] = t
	for len(s.order) > s.maxTrajs {
		delete(s.trajs, s.order[0])
		s.order = s.order[1:]
	}
}

func (s *state) iterationDone(stage string, r actors.IterationReport) {
	s.seq++
	s.iters = append(s.iters, IterationStats{Stage: stage, Iteration: r.Iteration, Version: r.PolicyVersion,
		Finished: r.Finished, Abandoned: r.Abandoned, Resolved: r.Resolved, Loss: r.Train.Loss,
		ClipFracLow: r.Train.ClipFracLow, ClipFracHigh: r.Train.ClipFracHigh, Entropy: r.Train.Entropy,
		GradNorm: r.Train.GradNorm, Skipped: r.Train.SkippedEmpty, Learned: r.Train.Steps > 0 || r.Train.Tokens > 0, RolloutS: r.Rollout.Seconds(), TrainingS: r.Training.Seconds()})
	if n := len(s.iters) - maxIterations; n > 0 {
		s.iters = append(s.iters[:0:0], s.iters[n:]...)
	}
}

func (s *state) eval(e observe.Eval) {
	s.seq++
	s.evals = append(s.evals, e)
	if n := len(s.evals) - maxCurvePoints; n > 0 {
		s.evals = append(s.evals[:0:0], s.evals[n:]...)
	}
}

// curve draws the held-out evaluations with the function that writes curve.svg: the
// base and RFT levels as marks, as swerl train draws them.
func (s *state) curve() []byte {
	var pts []engine.CurvePoint
	marks := map[string]float64{}
	for _, e := range s.evals {
		pts = append(pts, engine.CurvePoint{Step: e.Step, Stage: e.Stage, Pass1: e.Pass1})
		if e.Stage == "base" || e.Stage == "rft" {
			marks[e.Stage] = e.Pass1
		}
	}
	return engine.LearningCurveSVG("SimSWE held-out pass@1 (live)", pts, marks)
}

func (s *state) snapshot() State {
	now := s.now()
	out := State{Seq: s.seq, Iteration: s.iteration, Expected: s.expected, Episodes: []Episode{},
		Phases: map[string]int{}, Stops: map[string]int{}, Stragglers: []Episode{},
		Iterations: append([]IterationStats{}, s.iters...), Evals: append([]observe.Eval{}, s.evals...), Kept: len(s.trajs)}
	if s.run != nil {
		r := *s.run
		out.Run = &r
	}
	for k, v := range s.stops {
		out.Stops[k] = v
	}
	for _, e := range s.episodes {
		c := *e
		end := now
		if c.Finished {
			end = c.end
		}
		c.Elapsed = end.Sub(c.start).Seconds()
		out.Episodes = append(out.Episodes, c)
		out.Phases[c.Phase]++
		if !c.Finished {
			out.Stragglers = append(out.Stragglers, c)
		}
	}
	return out
}

// order sorts a snapshot's cells and stragglers and trims the stragglers; it runs
// after the lock is released, so the watchers never wait for a sort.
func (out *State) order() {
	sort.Slice(out.Episodes, func(i, j int) bool {
		a, b := out.Episodes[i], out.Episodes[j]
		return a.Group < b.Group || a.Group == b.Group && a.Sample < b.Sample
	})
	sort.SliceStable(out.Stragglers, func(i, j int) bool { return out.Stragglers[i].Elapsed > out.Stragglers[j].Elapsed })
	if len(out.Stragglers) > maxStragglers {
		out.Stragglers = out.Stragglers[:maxStragglers]
	}
}
