package actors

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/sandbox"
	"github.com/swerl/swerl/swe"
)

// EpisodeConfig is the agent loop's limits. Deadlines nest: the episode's wall clock
// bounds every turn, and a turn bounds its generation and its command.
type EpisodeConfig struct {
	TurnCap         int           // turns before the episode is cut (PAPER.md: 40 stage 1, 80 stage 2)
	LengthThreshold int           // L_thr of the turn penalty (PAPER.md: 10)
	EpisodeTimeout  time.Duration // wall clock of the whole rollout, sandbox start included
	TurnTimeout     time.Duration // generation plus command of one turn
	CommandTimeout  time.Duration // one command in the sandbox
	DiffTimeout     time.Duration // reading the patch at the end
	GradeTimeout    time.Duration // one grading try
	Grace           time.Duration // how long past a deadline a call may take to return
	RetryBudget     int           // infrastructure failures retried before the episode is abandoned
	Backoff         Backoff
	Sandbox         SandboxConfig
}

// DefaultEpisodeConfig holds swerl's defaults (the paper gives none for the clocks).
func DefaultEpisodeConfig() EpisodeConfig {
	return EpisodeConfig{
		TurnCap:         40,
		LengthThreshold: swe.DefaultLengthThreshold,
		EpisodeTimeout:  2 * time.Hour,
		TurnTimeout:     15 * time.Minute,
		CommandTimeout:  3 * time.Minute,
		DiffTimeout:     time.Minute,
		GradeTimeout:    30 * time.Minute,
		Grace:           30 * time.Second,
		RetryBudget:     3,
		Backoff:         DefaultBackoff(),
		Sandbox:         DefaultSandboxConfig(),
	}
}

// episodeSpec is everything an episode is born with.
type episodeSpec struct {
	ref         messages.EpisodeRef
	task        messages.TaskRef
	inference   *actor.PID
	graders     *actor.PID
	coordinator *actor.PID
	sandboxes   sandbox.Factory
	seed        uint64
}

// episodeLedger is what survives a supervisor restart of the episode actor: the
// deadline (a restart does not extend it) and the counts that bound retries. Only the
// current incarnation touches it, so it needs no lock.
type episodeLedger struct {
	begin        time.Time
	deadline     time.Time
	incarnations int
	attempts     int
	retries      int
	stale        int
}

type phase int

const (
	phaseStarting   phase = iota // waiting for the sandbox of this attempt
	phaseGenerating              // waiting for the policy
	phaseExecuting               // waiting for the command
	phaseDiffing                 // waiting for the patch
	phaseGrading                 // waiting for the grader
	phaseBackoff                 // waiting to retry after an infrastructure failure
	phaseDone                    // the terminal record is sent, or this incarnation was replaced
)

var phaseNames = [...]Phase{PhaseStarting, PhaseGenerating, PhaseExecuting, PhaseDiffing, PhaseGrading, PhaseBackoff, PhaseDone}

func (p phase) String() string { return string(phaseNames[p]) }

// Timer messages to self. seq ties a timer to the state it was set in.
type (
	episodeExpired struct{}
	graceExpired   struct{ seq int }
	retryNow       struct{ seq int }
)

// episodeActor runs one rollout: prompt -> generate -> parse -> command -> observe,
// until submit, the turn cap or the deadline; then it reads the patch, has it graded
// and sends exactly one EpisodeRecord to the coordinator, which stops it.
type episodeActor struct {
	rt     *Runtime
	cfg    EpisodeConfig
	spec   episodeSpec
	ledger *episodeLedger
	rng    *rand.Rand

	self       *actor.PID
	phase      phase
	seq        int
	attempt    int
	sandbox    *actor.PID
	work       sandboxWork // the queue of the sandbox's worker (requests skip its mailbox)
	transcript messages.Transcript
	turn       int
	turnEnd    time.Time
	pending    messages.Turn // the turn in progress: its command is running, or it is ending
	prompt     string        // the scaffold's last prompt line
	stop       messages.StopReason
	expired    bool
	patch      string
	gradeTry   int
	retry      func(c actor.Context)
	timers     []*Timer
}

// EpisodeSpec is everything an episode is born with: its identity, its task, and the
// actors it talks to (a cluster worker puts its own relay in Inference and Coordinator).
type EpisodeSpec struct {
	Ref         messages.EpisodeRef
	Task        messages.TaskRef
	Inference   *actor.PID
	Graders     *actor.PID
	Coordinator *actor.PID
	Sandboxes   sandbox.Factory
	Seed        uint64
}

// NewEpisodeProps makes the props of one episode actor, as the coordinator spawns it.
func NewEpisodeProps(rt *Runtime, cfg EpisodeConfig, s EpisodeSpec, mw ...actor.ReceiverMiddleware) *actor.Props {
	spec := episodeSpec{ref: s.Ref, task: s.Task, inference: s.Inference, graders: s.Graders,
		coordinator: s.Coordinator, sandboxes: s.Sandboxes, seed: s.Seed}
	ledger := &episodeLedger{}
	opts := []actor.PropsOption{actor.WithSupervisor(stopOnPanic{rt: rt})}
	if len(mw) > 0 {
		opts = append(opts, actor.WithReceiverMiddleware(mw...))
	}
	return actor.PropsFromProducer(func() actor.Actor {
		return &episodeActor{rt: rt, cfg: cfg, spec: spec, ledger: ledger}
	}, opts...)
}

// Ref identifies the episode (fault-injection middleware and logs use it).
func (e *episodeActor) Ref() messages.EpisodeRef { return e.spec.ref }

// Incarnation counts the actor's starts: 1, then 2 after the first restart, ...
func (e *episodeActor) Incarnation() int { return e.ledger.incarnations }

func (e *episodeActor) Receive(c actor.Context) {
	if e.phase == phaseDone {
		switch c.Message().(type) {
		case *actor.Stopping:
			e.stopTimers()
		}
		return // the record is out; everything else is late
	}
	switch m := c.Message().(type) {
	case *actor.Started:
		e.start(c)
	case messages.SandboxReady:
		if !e.current(m.Attempt, -1) || e.phase != phaseStarting {
			return
		}
		e.prompt = m.Prompt
		e.generate(c)
	case messages.GenerateReply:
		e.onReply(c)
	case messages.GenerateFailed:
		if !e.current(m.Attempt, m.Turn) || e.phase != phaseGenerating {
			return
		}
		if e.pastDeadline() {
			e.finish(c, messages.StopTimeout) // the call ended because the episode's time is up
			return
		}
		e.failed(c, m.Failure, e.generate)
	case messages.ExecResult:
		e.onExecResult(c)
	case messages.DiffResult:
		if !e.current(m.Attempt, -1) || e.phase != phaseDiffing {
			return
		}
		e.patch = m.Patch
		e.closeSandbox(c)
		e.grade(c)
	case messages.SandboxFailed:
		if !e.current(m.Attempt, -1) || e.sandbox == nil {
			return
		}
		e.closeSandbox(c)
		e.failed(c, m.Failure, e.newAttempt)
	case *actor.Terminated:
		if e.sandbox == nil || !m.Who.Equal(e.sandbox) {
			return
		}
		e.sandbox, e.work = nil, nil
		e.failed(c, messages.Failure{Kind: messages.FailSandboxDied, Retryable: true,
			Cause: "sandbox actor stopped unexpectedly"}, e.newAttempt)
	case messages.GradeResult:
		if e.currentGrade(m.Attempt, m.Try) {
			e.graded(c, m)
		}
	case messages.GradeFailed:
		if e.currentGrade(m.Attempt, m.Try) {
			e.failed(c, m.Failure, e.grade)
		}
	case episodeExpired:
		e.onExpired(c)
	case graceExpired:
		if m.seq == e.seq && (e.phase == phaseGenerating || e.phase == phaseExecuting) {
			e.abandon(c, messages.Failure{Kind: kindOfPhase(e.phase),
				Cause: fmt.Sprintf("%s did not return within %s of the episode deadline", e.phase, e.cfg.Grace)})
		}
	case retryNow:
		if m.seq == e.seq && e.phase == phaseBackoff {
			e.retry(c)
		}
	case *actor.Restarting:
		// This incarnation is finished: the next one takes over from the ledger. The
		// Terminated of our sandbox (stopped by the restart) still reaches us and must
		// not count as a sandbox failure.
		e.stopTimers()
		e.phase = phaseDone
		e.rt.episodeLog(e.spec.ref, e.attempt).Info("episode actor restarting after a panic: the next one goes on from its ledger",
			"restarts", e.ledger.incarnations)
	case *actor.Stopping:
		e.stopTimers()
	case *actor.Stopped:
	default:
		e.rt.episodeLog(e.spec.ref, e.attempt).Warn("episode: unknown message", "type", typeName(m))
	}
}

// current reports whether a reply belongs to this attempt (and turn, unless turn < 0);
// a reply that does not is stale: dropped and counted.
func (e *episodeActor) current(attempt, turn int) bool {
	if attempt == e.attempt && (turn < 0 || turn == e.turn) {
		return true
	}
	e.dropStale()
	return false
}

// currentGrade reports whether a grader reply answers the grading try in flight;
// anything else is stale: dropped and counted.
func (e *episodeActor) currentGrade(attempt, try int) bool {
	if !e.current(attempt, -1) {
		return false
	}
	if try != e.gradeTry || e.phase != phaseGrading {
		e.dropStale()
		return false
	}
	return true
}

// dropStale counts a reply dropped because it belonged elsewhere.
func (e *episodeActor) dropStale() {
	e.ledger.stale++
	e.rt.observe(Event{Kind: EventStale, Ref: e.spec.ref, Attempt: e.attempt})
}

func (e *episodeActor) start(c actor.Context) {
	e.self = c.Self()
	l := e.ledger
	l.incarnations++
	h := fnv.New64a()
	fmt.Fprint(h, e.spec.ref.Key(), l.incarnations)
	e.rng = rand.New(rand.NewPCG(e.spec.seed, h.Sum64()))
	now := time.Now()
	if l.incarnations == 1 {
		l.begin, l.deadline = now, now.Add(e.cfg.EpisodeTimeout)
	}
	if !now.Before(l.deadline) {
		e.abandon(c, messages.Failure{Kind: messages.FailCrashed, Cause: "restarted after the episode deadline"})
		return
	}
	e.timers = append(e.timers, e.rt.After(l.deadline.Sub(now), e.self, episodeExpired{}))
	e.newAttempt(c)
}

// newAttempt starts the rollout from scratch in a fresh sandbox.
func (e *episodeActor) newAttempt(c actor.Context) {
	e.ledger.attempts++
	e.attempt = e.ledger.attempts
	e.transcript, e.turn, e.stop, e.patch, e.gradeTry = messages.Transcript{}, 0, "", "", 0
	spec := sandbox.Spec{Task: e.spec.task, Ref: e.spec.ref, Attempt: e.attempt}
	sc := e.cfg.Sandbox
	if d := time.Until(e.ledger.deadline); d < sc.StartTimeout {
		sc.StartTimeout = d
	}
	props, work := newSandboxProps(e.rt, sc, e.spec.sandboxes, spec, e.self)
	e.sandbox, e.work = c.Spawn(props), work
	e.setPhase(phaseStarting)
}

func (e *episodeActor) generate(c actor.Context) {
	e.turnEnd = earliest(time.Now().Add(e.cfg.TurnTimeout), e.ledger.deadline)
	e.setPhase(phaseGenerating)
	c.Request(e.spec.inference, messages.GenerateRequest{Ref: e.spec.ref, Attempt: e.attempt, Turn: e.turn,
		Task: e.spec.task, Transcript: e.transcript, Deadline: e.turnEnd})
}

// onReply and onExecResult are the turn's path. They read their message from c rather
// than take it from Receive's switch, and the rare branches live in functions of their
// own: each mailbox run starts on a fresh goroutine with a small stack, and growing it
// (a copy) cost more than the rest of the turn while these frames were large.
func (e *episodeActor) onReply(c actor.Context) {
	m := c.Message().(messages.GenerateReply)
	if !e.current(m.Attempt, m.Turn) || e.phase != phaseGenerating {
		return
	}
	if m.PolicyVersion != e.spec.ref.PolicyVersion {
		e.staleReply(c, m.PolicyVersion)
		return
	}
	if e.pastDeadline() {
		e.finish(c, messages.StopTimeout)
		return
	}
	if m.Overflow {
		e.overflowed(c, &m)
		return
	}
	e.parseReply(&m)
	switch cmd, ferr := e.pending.Command, e.pending.FormatError; {
	case ferr != "":
		e.pending.Observation = ferr
		if e.prompt != "" {
			e.pending.Observation += "\n" + e.prompt // nothing ran: the prompt line is unchanged
		}
		e.endTurn(c)
	case cmd == swe.SubmitCommand:
		if e.rt.obs != nil {
			e.observeTurn()
		}
		e.transcript = e.transcript.Append(e.pending)
		e.finish(c, messages.StopSubmit)
	default:
		e.setPhase(phaseExecuting)
		e.work.put(e.rt, e.spec.ref, messages.ExecRequest{Ref: e.spec.ref, Attempt: e.attempt, Turn: e.turn, Command: cmd,
			Deadline: earliest(time.Now().Add(e.cfg.CommandTimeout), e.turnEnd)})
	}
}

// parseReply makes the turn of reply m, its command parsed, the pending turn.
func (e *episodeActor) parseReply(m *messages.GenerateReply) {
	cmd, ferr := swe.ParseCommand(m.Text)
	e.pending = messages.TurnFrom(messages.Turn{Index: e.turn, PolicyVersion: m.PolicyVersion, Assistant: m.Text,
		Command: cmd, FormatError: ferr, GenerateTime: m.Elapsed}, *m)
}

// staleReply retries a generation answered by another policy version than the episode's.
func (e *episodeActor) staleReply(c actor.Context, version int) {
	e.dropStale()
	e.failed(c, messages.Failure{Kind: messages.FailStale, Retryable: true,
		Cause: fmt.Sprintf("reply from policy version %d, episode samples version %d", version, e.spec.ref.PolicyVersion)}, e.generate)
}

// overflowed ends the loop on a reply that ran out of context budget. What the model
// produced before it is kept as the last turn (nothing runs), and the episode is graded
// like any other: PAPER.md keeps overflowing trajectories with their reward as the
// signal against looping.
func (e *episodeActor) overflowed(c actor.Context, m *messages.GenerateReply) {
	if m.Text != "" || m.NumTokens() > 0 {
		e.transcript = e.transcript.Append(messages.TurnFrom(messages.Turn{Index: e.turn,
			PolicyVersion: m.PolicyVersion, Assistant: m.Text, GenerateTime: m.Elapsed}, *m))
	}
	e.finish(c, messages.StopContextOverflow)
}

func (e *episodeActor) onExecResult(c actor.Context) {
	m := c.Message().(messages.ExecResult)
	if !e.current(m.Attempt, m.Turn) || e.phase != phaseExecuting {
		return
	}
	t := &e.pending
	t.Observation, t.ExitCode, t.TimedOut, t.ExecTime = m.Output, m.ExitCode, m.TimedOut, m.Elapsed
	if m.Prompt != "" {
		e.prompt = m.Prompt
	}
	e.endTurn(c)
}

// endTurn appends e.pending, the finished turn, to the transcript and starts the next.
func (e *episodeActor) endTurn(c actor.Context) {
	if e.rt.obs != nil {
		e.observeTurn()
	}
	e.transcript = e.transcript.Append(e.pending)
	e.pending = messages.Turn{}
	e.turn++
	switch {
	case e.pastDeadline():
		e.finish(c, messages.StopTimeout)
	case e.turn >= e.cfg.TurnCap:
		e.finish(c, messages.StopTurnCap)
	default:
		e.generate(c)
	}
}

// observeTurn reports e.pending, a finished turn, to the observer.
func (e *episodeActor) observeTurn() {
	t := &e.pending
	e.rt.observe(Event{Kind: EventTurn, Ref: e.spec.ref, Attempt: e.attempt, Turn: t.Index, Tokens: t.NumTokens(),
		Generate: t.GenerateTime, Exec: t.ExecTime, FormatError: t.FormatError != ""})
}

// finish ends the agent loop and reads the patch (graded whatever the stop reason: at
// the turn cap and the deadline the current diff is the answer).
func (e *episodeActor) finish(c actor.Context, stop messages.StopReason) {
	e.stop = stop
	e.setPhase(phaseDiffing)
	e.work.put(e.rt, e.spec.ref, messages.DiffRequest{Ref: e.spec.ref, Attempt: e.attempt, Deadline: time.Now().Add(e.cfg.DiffTimeout)})
}

func (e *episodeActor) grade(c actor.Context) {
	e.gradeTry++
	e.setPhase(phaseGrading)
	c.Request(e.spec.graders, messages.GradeRequest{Ref: e.spec.ref, Attempt: e.attempt, Try: e.gradeTry,
		Task: e.spec.task, Patch: e.patch, Deadline: time.Now().Add(e.cfg.GradeTimeout)})
}

func (e *episodeActor) graded(c actor.Context, m messages.GradeResult) {
	r := swe.Reward(m.Resolved)
	pen := swe.TurnPenalty(e.transcript.Len(), e.cfg.LengthThreshold, e.cfg.TurnCap)
	e.send(c, messages.EpisodeRecord{Ref: e.spec.ref, Task: e.spec.task, Status: messages.Finished, Stop: e.stop,
		Transcript: e.transcript, Patch: e.patch, Resolved: m.Resolved, Reward: r, TurnPenalty: pen, Final: r + pen})
}

// failed handles an expected infrastructure failure: retry within the budget after a
// jittered backoff, or abandon the episode.
func (e *episodeActor) failed(c actor.Context, f messages.Failure, retry func(actor.Context)) {
	if !f.Retryable {
		e.abandon(c, f)
		return
	}
	e.ledger.retries++
	if e.ledger.retries > e.cfg.RetryBudget {
		f.Cause = fmt.Sprintf("%s (retry budget of %d spent)", f.Cause, e.cfg.RetryBudget)
		e.abandon(c, f)
		return
	}
	if e.pastDeadline() {
		f.Cause += " (episode deadline passed)"
		e.abandon(c, f)
		return
	}
	e.rt.observe(Event{Kind: EventRetry, Ref: e.spec.ref, Attempt: e.attempt, Failure: f.Kind})
	d := e.cfg.Backoff.Delay(e.ledger.retries, e.rng)
	e.rt.episodeLog(e.spec.ref, e.attempt).Debug("episode retrying", "failure", f.Kind, "cause", f.Cause,
		"retry", e.ledger.retries, "of", e.cfg.RetryBudget, "after", d)
	e.setPhase(phaseBackoff)
	e.retry = retry
	e.timers = append(e.timers, e.rt.After(d, e.self, retryNow{seq: e.seq}))
}

// pastDeadline reports whether the episode's wall clock has run out. The clock is
// read as well as the timer's flag: a call cut off by the same deadline may report
// before the timer's message arrives.
func (e *episodeActor) pastDeadline() bool {
	return e.expired || !time.Now().Before(e.ledger.deadline)
}

func (e *episodeActor) onExpired(c actor.Context) {
	e.expired = true
	switch e.phase {
	case phaseStarting, phaseBackoff:
		e.abandon(c, messages.Failure{Kind: kindOfPhase(e.phase), Cause: "episode deadline passed while " + e.phase.String()})
	case phaseGenerating, phaseExecuting:
		// The call in flight has the episode deadline as its own; give it Grace to return.
		e.timers = append(e.timers, e.rt.After(e.cfg.Grace, e.self, graceExpired{seq: e.seq}))
	}
	// Diffing and grading have their own deadlines.
}

func (e *episodeActor) abandon(c actor.Context, f messages.Failure) {
	e.closeSandbox(c)
	rec := messages.Abandon(e.spec.ref, e.spec.task, f)
	rec.Transcript = e.transcript
	e.send(c, rec)
}

func (e *episodeActor) send(c actor.Context, rec messages.EpisodeRecord) {
	l := e.ledger
	rec.Attempts, rec.Restarts, rec.Retries, rec.Stale = l.attempts, l.incarnations-1, l.retries, l.stale
	rec.Duration = time.Since(l.begin)
	e.setPhase(phaseDone)
	e.stopTimers()
	c.Send(e.spec.coordinator, rec)
}

func (e *episodeActor) closeSandbox(c actor.Context) {
	if e.sandbox != nil {
		c.Stop(e.sandbox)
		e.sandbox, e.work = nil, nil
	}
}

func (e *episodeActor) setPhase(p phase) {
	e.phase = p
	e.seq++
	if e.rt.obs != nil {
		e.rt.observe(Event{Kind: EventPhase, Ref: e.spec.ref, Attempt: e.attempt, Phase: phaseNames[p]})
	}
}

func (e *episodeActor) stopTimers() {
	for _, t := range e.timers {
		t.Stop()
	}
	e.timers = nil
}

func kindOfPhase(p phase) messages.FailureKind {
	switch p {
	case phaseGenerating:
		return messages.FailGenerate
	case phaseGrading:
		return messages.FailGrade
	case phaseStarting:
		return messages.FailSandboxStart
	default:
		return messages.FailSandboxDied
	}
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
