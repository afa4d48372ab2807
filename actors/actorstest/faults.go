package actorstest

import (
	"errors"
	"fmt"
	"hash/fnv"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/policy"
	"github.com/swerl/swerl/sandbox"
)

// FaultKind is the one fault a FaultPlan gives an episode.
type FaultKind int

// Fault kinds.
const (
	NoFault      FaultKind = iota
	SandboxCrash           // the sandbox dies at its Turn-th command
	EpisodePanic           // the episode actor panics on the reply of turn Turn
	PolicyError            // the policy fails on turn Turn
	GraderError            // the grader fails
	HungExec               // the Turn-th command hangs until its deadline (not a failure)
)

var faultNames = [...]string{"none", "sandbox-crash", "episode-panic", "policy-error", "grader-error", "hung-exec"}

func (k FaultKind) String() string { return faultNames[k] }

// Fault is what the plan decided for one episode. A transient fault strikes only the
// first attempt (or incarnation, or grading try) and is recovered by a retry; a
// persistent one strikes every time, so the episode must end abandoned.
type Fault struct {
	Kind       FaultKind
	Turn       int // 1-based command for sandbox faults, 0-based turn otherwise
	Persistent bool
}

// FaultPlan spreads faults over episodes deterministically: each episode's fault
// depends only on Seed and its EpisodeKey, never on scheduling. Rates are fractions
// of episodes; Persistent is the fraction of faults that never go away.
type FaultPlan struct {
	Seed                                                       uint64
	SandboxCrash, EpisodePanic, PolicyError, GraderError, Hung float64
	Persistent                                                 float64
	// MaxTurn bounds the turn a fault strikes at (inclusive, >= 1); it must not exceed
	// the scripted agent's MinCommands, so that every planned fault fires.
	MaxTurn int
}

// For returns the fault of the episode ref.
func (p FaultPlan) For(ref messages.EpisodeRef) Fault {
	u := p.unit("kind", ref.Key())
	f := Fault{}
	for _, c := range []struct {
		k    FaultKind
		rate float64
	}{{SandboxCrash, p.SandboxCrash}, {EpisodePanic, p.EpisodePanic}, {PolicyError, p.PolicyError},
		{GraderError, p.GraderError}, {HungExec, p.Hung}} {
		if u < c.rate {
			f.Kind = c.k
			break
		}
		u -= c.rate
	}
	if f.Kind == NoFault {
		return f
	}
	max := p.MaxTurn
	if max < 1 {
		max = 1
	}
	f.Turn = 1 + int(p.unit("turn", ref.Key())*float64(max))
	if f.Kind == EpisodePanic || f.Kind == PolicyError {
		f.Turn-- // turns are 0-based
	}
	f.Persistent = f.Kind != HungExec && p.unit("persist", ref.Key()) < p.Persistent
	return f
}

// Unrecoverable reports whether the plan dooms ref to be abandoned.
func (p FaultPlan) Unrecoverable(ref messages.EpisodeRef) bool { return p.For(ref).Persistent }

func (p FaultPlan) unit(what string, k messages.EpisodeKey) float64 {
	h := fnv.New64a()
	fmt.Fprint(h, p.Seed, what, k.Iteration, k.Group, k.Sample)
	return float64(h.Sum64()%1_000_000) / 1_000_000
}

// Sandboxes returns per-sandbox knobs applying the plan over base.
func (p FaultPlan) Sandboxes(base SandboxKnobs) func(sandbox.Spec) SandboxKnobs {
	return func(s sandbox.Spec) SandboxKnobs {
		k := base
		switch f := p.For(s.Ref); {
		case f.Kind == SandboxCrash && (f.Persistent || s.Attempt == 1):
			k.FailAtExec = f.Turn
		case f.Kind == HungExec && s.Attempt == 1:
			k.HangAtExec = f.Turn
		}
		return k
	}
}

// ErrInjected is the cause of every injected policy and grader error.
var ErrInjected = errors.New("injected fault")

// Policy returns per-call knobs applying the plan over base: a transient policy fault
// is a retryable error on the first attempt's call of its turn; a persistent one is a
// fatal error.
func (p FaultPlan) Policy(base PolicyKnobs) func(policy.Request, int) PolicyKnobs {
	return func(r policy.Request, try int) PolicyKnobs {
		k := base
		f := p.For(r.Ref)
		if f.Kind != PolicyError || r.Turn != f.Turn {
			return k
		}
		switch {
		case f.Persistent:
			k.Err = &policy.Error{Retryable: false, Err: fmt.Errorf("%w: model endpoint rejected the request", ErrInjected)}
		case r.Attempt == 1 && try == 1:
			k.Err = &policy.Error{Retryable: true, Err: fmt.Errorf("%w: 503 from the model endpoint", ErrInjected)}
		}
		return k
	}
}

// Grader returns per-call knobs applying the plan over base: a transient grader fault
// fails the first try, a persistent one every try.
func (p FaultPlan) Grader(base GraderKnobs) func(messages.GradeRequest) GraderKnobs {
	return func(r messages.GradeRequest) GraderKnobs {
		k := base
		if f := p.For(r.Ref); f.Kind == GraderError && (f.Persistent || r.Try == 1) {
			k.Err = fmt.Errorf("%w: grading container failed to start", ErrInjected)
		}
		return k
	}
}

// Middleware returns an episode middleware that panics as the plan says: on the reply
// of the fault's turn, on the first incarnation (transient) or on every one
// (persistent, so the supervisor gives up).
func (p FaultPlan) Middleware() actor.ReceiverMiddleware {
	return func(next actor.ReceiverFunc) actor.ReceiverFunc {
		return func(c actor.ReceiverContext, env *actor.MessageEnvelope) {
			if r, ok := env.Message.(messages.GenerateReply); ok {
				if ep, ok := c.Actor().(interface {
					Ref() messages.EpisodeRef
					Incarnation() int
				}); ok {
					f := p.For(ep.Ref())
					if f.Kind == EpisodePanic && r.Turn == f.Turn && (f.Persistent || ep.Incarnation() == 1) {
						panic(fmt.Sprintf("injected episode panic at %s turn %d (incarnation %d)", ep.Ref(), r.Turn, ep.Incarnation()))
					}
				}
			}
			next(c, env)
		}
	}
}
