package actors

import (
	"context"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/policy"
)

// inferenceActor serves the current policy version to every episode. Each request runs
// on the actor's worker pool (at most MaxInFlight at once, the rest queue in order)
// and is answered straight to the episode. A request for another version than the one served
// is answered with a non-retryable stale failure and counted.
type inferenceActor struct {
	rt     *Runtime
	policy policy.Policy
	served *servedVersion // outlives restarts of the actor
	pool   *workerPool
	order  GenerationOrder
	life   *lifetime
	stale  int
}

// servedVersion is the policy version being served. It is shared by the successive
// incarnations of one inference actor (never concurrently), so a restart does not
// forget which version the barrier loaded.
type servedVersion struct{ v int }

type policyLoadDone struct {
	replyTo *actor.PID
	msg     messages.PolicyLoaded
}

func newInferenceProps(rt *Runtime, p policy.Policy, maxInFlight int, order GenerationOrder, version int) *actor.Props {
	served, life := &servedVersion{v: version}, newLifetime()
	pool := newWorkerPool(rt, life.ctx, maxInFlight)
	return actor.PropsFromProducer(func() actor.Actor {
		return &inferenceActor{rt: rt, policy: p, served: served, life: life, pool: pool, order: order}
	})
}

// queueKey is where a request waits for a generation slot: with OrderMostTurnsLeft,
// behind every request of an episode with more turns left. Every episode of a run
// has the same turn cap, so the most turns left is the fewest turns done.
func (a *inferenceActor) queueKey(m messages.GenerateRequest) int {
	if a.order == OrderFIFO {
		return 0
	}
	return m.Turn
}

func (a *inferenceActor) Receive(c actor.Context) {
	msg := c.Message()
	switch m := msg.(type) {
	case messages.GenerateRequest:
		if m.Ref.PolicyVersion != a.served.v {
			a.stale++
			c.Respond(messages.GenerateFailed{Ref: m.Ref, Attempt: m.Attempt, Turn: m.Turn,
				Failure: messages.Failure{Kind: messages.FailStale, Cause: "inference serves another policy version"}})
			return
		}
		a.pool.submitTask(a.queueKey(m), &generateTask{a: a, msg: msg, replyTo: c.Sender(), version: a.served.v})
	case messages.LoadPolicy:
		a.load(c, m)
	case policyLoadDone:
		if m.msg.Err == "" {
			a.served.v = m.msg.Version
		}
		c.Send(m.replyTo, m.msg)
	case *actor.Stopping:
		a.life.cancel()
	case *actor.Started, *actor.Restarting:
	case *actor.Stopped:
	default:
		a.rt.Log.Warn("inference: unknown message", "type", typeName(m))
	}
}

// generateTask is one generate request on the worker pool. It holds the request as
// the mailbox delivered it (boxed, immutable), so queuing it copies nothing.
type generateTask struct {
	a       *inferenceActor
	msg     any // messages.GenerateRequest
	replyTo *actor.PID
	version int
}

func (t *generateTask) run(ctx context.Context) {
	t.a.rt.Send(t.replyTo, callPolicy(ctx, t.a.policy, t.msg.(messages.GenerateRequest), t.version))
}

func (t *generateTask) panicked(p Panic) {
	m := t.msg.(messages.GenerateRequest)
	t.a.rt.Send(t.replyTo, messages.GenerateFailed{Ref: m.Ref, Attempt: m.Attempt, Turn: m.Turn,
		Failure: messages.Failure{Kind: messages.FailGenerate, Cause: "policy panicked: " + p.Error()}})
	t.a.rt.episodeLog(m.Ref, m.Attempt).Error("policy panicked: a bug in the policy", "turn", m.Turn, "panic", p.Error(), "stack", p.Stack)
}

func callPolicy(ctx context.Context, p policy.Policy, m messages.GenerateRequest, version int) any {
	gctx := withDeadline(ctx, m.Deadline)
	defer gctx.release()
	begin := time.Now()
	r, err := p.Generate(gctx, policy.Request{Ref: m.Ref, Attempt: m.Attempt, Turn: m.Turn,
		Task: m.Task, Transcript: m.Transcript, Version: version})
	if err != nil {
		return messages.GenerateFailed{Ref: m.Ref, Attempt: m.Attempt, Turn: m.Turn,
			Failure: messages.Failure{Kind: messages.FailGenerate, Retryable: policy.IsRetryable(err), Cause: err.Error()}}
	}
	return messages.NewGenerateReply(messages.GenerateReply{Ref: m.Ref, Attempt: m.Attempt, Turn: m.Turn,
		PolicyVersion: version, Text: r.Text, Overflow: r.Overflow, Elapsed: time.Since(begin)}, r.Tokens, r.Logprobs).WithPrompt(r.Prompt)
}

func (a *inferenceActor) load(c actor.Context, m messages.LoadPolicy) {
	replyTo, self := c.Sender(), c.Self()
	loader, ok := a.policy.(policy.Loader)
	if !ok {
		a.served.v = m.Version
		c.Respond(messages.PolicyLoaded{Iteration: m.Iteration, Version: m.Version})
		return
	}
	ctx := a.life.ctx
	a.rt.Go(func() {
		res := messages.PolicyLoaded{Iteration: m.Iteration, Version: m.Version}
		if err := loader.Load(ctx, m.Version); err != nil {
			res.Err = err.Error()
		}
		a.rt.Send(self, policyLoadDone{replyTo: replyTo, msg: res})
	}, func(p Panic) {
		a.rt.Send(self, policyLoadDone{replyTo: replyTo, msg: messages.PolicyLoaded{
			Iteration: m.Iteration, Version: m.Version, Err: "policy loader panicked: " + p.Error()}})
	})
}
