package actors

import (
	"time"

	"github.com/swerl/swerl/messages"
)

// EventKind says what an Event reports.
type EventKind uint8

const (
	// EventIterationStarted: the coordinator spawns Episodes episodes of Ref.Iteration,
	// sampling Ref.PolicyVersion.
	EventIterationStarted EventKind = iota + 1
	// EventPhase: episode Ref (attempt Attempt) entered Phase.
	EventPhase
	// EventTurn: episode Ref finished turn Turn: Tokens assistant tokens generated in
	// Generate, its command ran in Exec (0 when nothing ran); FormatError when the
	// reply held no single command.
	EventTurn
	// EventRetry: an infrastructure failure of kind Failure is retried.
	EventRetry
	// EventStale: a reply that belonged to another attempt, turn or policy version was
	// dropped.
	EventStale
	// EventSandboxStarted: a sandbox of Ref is ready after Elapsed.
	EventSandboxStarted
	// EventSandboxFailed: a sandbox of Ref could not start (Failure says how).
	EventSandboxFailed
	// EventSandboxClosed: a started sandbox of Ref was released.
	EventSandboxClosed
)

var eventNames = [...]string{"", "iteration_started", "phase", "turn", "retry", "stale",
	"sandbox_started", "sandbox_failed", "sandbox_closed"}

func (k EventKind) String() string {
	if int(k) < len(eventNames) {
		return eventNames[k]
	}
	return "unknown"
}

// Phase names where an episode is in its life: what it waits for.
type Phase string

const (
	PhaseStarting   Phase = "starting"   // its sandbox
	PhaseGenerating Phase = "generating" // the policy
	PhaseExecuting  Phase = "executing"  // its command
	PhaseDiffing    Phase = "diffing"    // its patch
	PhaseGrading    Phase = "grading"    // the grader
	PhaseBackoff    Phase = "backoff"    // the time to retry an infrastructure failure
	PhaseDone       Phase = "done"       // nothing: its record is sent
)

// Event is one thing that happened inside a run, as an Observer sees it. Only the
// fields its Kind names are set.
type Event struct {
	Kind     EventKind
	Ref      messages.EpisodeRef
	Attempt  int
	Phase    Phase
	Episodes int // EventIterationStarted

	Turn        int
	Tokens      int
	Generate    time.Duration
	Exec        time.Duration
	FormatError bool

	Failure messages.FailureKind
	Elapsed time.Duration
}

// Observer sees a run's events as they happen: metrics, a live page, a progress line.
// Observe is called from actors' Receive and from worker goroutines, concurrently:
// it must be safe for that and must not block (count, store, return).
type Observer interface {
	Observe(Event)
}

// SetObserver makes o see the events of every actor of rt from now on. Call it before
// the run's actors start; nil stops the events.
func (rt *Runtime) SetObserver(o Observer) { rt.obs = o }

// observe hands e to the observer, if any.
func (rt *Runtime) observe(e Event) {
	if rt.obs != nil {
		rt.obs.Observe(e)
	}
}
