package actors

import (
	"math/rand/v2"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// Supervision is the restart policy for panicking actors: one-for-one, at most
// MaxRestarts restarts within Window, each after a Backoff delay; past that the actor
// is stopped and its parent sees it terminate.
type Supervision struct {
	MaxRestarts int
	Window      time.Duration
	Backoff     Backoff
}

// DefaultSupervision allows 3 restarts a minute, 100ms doubling to 5s.
func DefaultSupervision() Supervision {
	return Supervision{MaxRestarts: 3, Window: time.Minute,
		Backoff: Backoff{Initial: 100 * time.Millisecond, Max: 5 * time.Second, Jitter: 0.2}}
}

// strategy returns the Proto.Actor strategy implementing s. Restarts wait in runtime
// timers, so the engine waits for them before it returns.
func (s Supervision) strategy(rt *Runtime, seed uint64) actor.SupervisorStrategy {
	return &boundedBackoff{s: s, rt: rt, rng: rand.New(rand.NewPCG(seed, 0x5eed))}
}

type boundedBackoff struct {
	s  Supervision
	rt *Runtime

	mu  sync.Mutex // the strategy is shared by all children of one parent
	rng *rand.Rand
}

func (b *boundedBackoff) HandleFailure(_ *actor.ActorSystem, sup actor.Supervisor, child *actor.PID,
	rs *actor.RestartStatistics, reason any, msg any) {
	// rs belongs to child and HandleFailure runs in the parent's context: no race.
	rs.Fail()
	n := rs.NumberOfFailures(b.s.Window)
	if n > b.s.MaxRestarts {
		b.rt.Log.Error("actor panicked too often, stopping it (a bug: the panic lines hold the stack)",
			supervisionFields(child.Id, msg, "panics", n, "window", b.s.Window, "reason", reason, "message", typeName(msg))...)
		sup.StopChildren(child)
		return
	}
	b.mu.Lock()
	d := b.s.Backoff.Delay(n, b.rng)
	b.mu.Unlock()
	b.rt.Log.Warn("actor panicked, restarting", supervisionFields(child.Id, msg, "restart", n,
		"of", b.s.MaxRestarts, "after", d, "reason", reason, "message", typeName(msg))...)
	b.rt.AfterFunc(d, func() { sup.RestartChildren(child) })
}

// stopOnPanic stops a child that panics, without restarting it (sandbox actors: their
// episode starts a fresh attempt instead).
type stopOnPanic struct{ rt *Runtime }

func (s stopOnPanic) HandleFailure(_ *actor.ActorSystem, sup actor.Supervisor, child *actor.PID,
	_ *actor.RestartStatistics, reason any, msg any) {
	s.rt.Log.Error("actor panicked, stopping it", supervisionFields(child.Id, msg, "reason", reason, "message", typeName(msg))...)
	sup.StopChildren(child)
}
