package node

import (
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/swerl/swerl/actors"
	"github.com/swerl/swerl/cluster/membership"
	"github.com/swerl/swerl/cluster/placement"
	"github.com/swerl/swerl/cluster/wire"
	"github.com/swerl/swerl/messages"
)

// proxyActor stands in for one episode on the head. It places the episode, relays its
// generations to the local inference actor, passes its record to the coordinator
// exactly once, and places it again when its worker is lost.
type proxyActor struct {
	h     *Head
	rt    *actors.Runtime
	ep    actors.EpisodeConfig
	world World
	spec  actors.EpisodeSpec
	key   placement.Key

	self     *actor.PID
	current  placement.Assignment // zero while unplaced
	lost     int                  // workers lost under this episode
	lostFrom string               // the worker of the last loss, until placed again
	done     bool
	final    *wire.Fence        // the fence of the attempt whose record was taken
	wire     *wire.StartEpisode // the start message without its fence
	deadline *time.Timer
	retry    *time.Timer
}

// noRecord fires when an attempt's worker never sent a record within the episode's
// deadline and grace: it is treated as lost.
type noRecord struct{ attempt int }

func (p *proxyActor) Receive(c actor.Context) {
	switch m := c.Message().(type) {
	case *actor.Started:
		p.self = c.Self()
		p.h.register(p.key, p.self)
		w, err := p.world(p.spec.Task.ID)
		if err != nil {
			p.finish(c, messages.Abandon(p.spec.Ref, p.spec.Task, messages.Failure{Kind: messages.FailSandboxStart,
				Cause: fmt.Sprintf("the cluster cannot ship task %s to a worker: %v", p.spec.Task.ID, err)}))
			return
		}
		pol, err := p.h.shippedPolicy(p.spec.Ref.PolicyVersion)
		if err != nil {
			p.finish(c, messages.Abandon(p.spec.Ref, p.spec.Task, messages.Failure{Kind: messages.FailGenerate,
				Cause: fmt.Sprintf("the policy of version %d cannot be shipped to a worker: %v", p.spec.Ref.PolicyVersion, err)}))
			return
		}
		p.wire = &wire.StartEpisode{Ref: wire.Ref(p.spec.Ref), Task: wire.Task(p.spec.Task), World: w,
			Config: episodeConfigOf(p.ep), Proxy: wirePID(p.self), Seed: p.spec.Seed, Policy: pol}
		p.place(c)
	case tryPlace:
		if !p.done && p.current.Attempt == 0 {
			p.place(c)
		}
	case nodeLost:
		if !p.done && p.current.Worker.ID == m.member {
			p.onLost(c, m.member, m.cause)
		}
	case noRecord:
		if !p.done && p.current.Attempt == m.attempt {
			id := p.current.Worker.ID
			p.h.table.Release(p.key, m.attempt)
			p.onLost(c, id, "no record within the episode's deadline and grace")
		}
	case *wire.GenerateRequest:
		p.onGenerate(c, m)
	case *wire.EpisodeDone:
		p.onDone(c, m)
	case *actor.Stopping:
		p.stop(c)
	case *actor.Stopped, *actor.Restarting:
	}
}

// place puts the episode on a worker as a new attempt, or waits for a free slot.
func (p *proxyActor) place(c actor.Context) {
	a, ok := p.h.table.Place(p.key)
	if !ok {
		p.h.wait(p.key, p.self)
		// Capacity may have grown (and the waiting been woken) between the two: look
		// once more now that we are on the list.
		a, ok = p.h.table.Place(p.key)
	}
	if ok {
		p.h.unwait(p.key, p.self)
	} else {
		self := p.self
		if p.retry != nil {
			p.retry.Stop()
		}
		p.retry = time.AfterFunc(p.h.cfg.PlaceRetry, func() { p.h.system.Root.Send(self, tryPlace{}) })
		return
	}
	p.current = a
	p.h.placed.Add(1)
	if p.lostFrom != "" {
		p.h.placedAgain(p.lostFrom)
		p.lostFrom = ""
	}
	start := proto.Clone(p.wire).(*wire.StartEpisode)
	start.Fence = p.h.fence(a.Attempt)
	c.Send(p.h.cfg.AgentPID(membership.Member{ID: a.Worker.ID, Address: a.Worker.Address, Role: membership.RoleWorker}), start)
	if p.deadline != nil {
		p.deadline.Stop()
	}
	self, attempt := p.self, a.Attempt
	p.deadline = time.AfterFunc(p.ep.EpisodeTimeout+3*p.ep.Grace+p.h.cfg.LeaseTTL, func() {
		p.h.system.Root.Send(self, noRecord{attempt: attempt})
	})
}

func (p *proxyActor) onLost(c actor.Context, member, cause string) {
	p.lost++
	p.h.nodeLost.Add(1)
	old := p.current
	p.current = placement.Assignment{}
	p.cancelOn(c, old, "placed again after its worker was lost")
	if p.lost > p.h.cfg.NodeLostBudget {
		p.h.gaveUp.Add(1)
		p.h.placedAgain(member)
		rec := messages.Abandon(p.spec.Ref, p.spec.Task, messages.Failure{Kind: messages.FailNodeLost, Retryable: true,
			Cause: fmt.Sprintf("worker %s %s; lost %d workers, more than the budget of %d", member, cause, p.lost, p.h.cfg.NodeLostBudget)})
		rec.Retries = p.lost
		p.finish(c, rec)
		return
	}
	p.rt.Log.Warn("episode's worker lost: placing it again",
		actors.EpisodeFields(p.spec.Ref, int(old.Attempt)+1, "worker", member, "cause", cause)...)
	p.lostFrom = member
	p.place(c)
}

// refuse answers a request of an attempt that is no longer current with a failure
// that ends it. Its worker may not know that the episode was placed again (the cancel
// was lost, or the worker came back to the member list): without an answer the stale
// attempt would hold its sandbox until its turn timeout, unseen by placement.
func (p *proxyActor) refuse(c actor.Context, m *wire.GenerateRequest) {
	shim := actorPID(m.Shim)
	if shim == nil {
		return
	}
	req := m.Msg()
	c.Send(shim, wire.GenerateFailedOf(m.Fence, messages.GenerateFailed{Ref: req.Ref, Attempt: req.Attempt, Turn: req.Turn,
		Failure: messages.Failure{Kind: messages.FailStale, Cause: "the head placed this episode again: this attempt is stale"}}))
}

// cancelOn tells a worker to stop an attempt (best effort: it may be gone).
func (p *proxyActor) cancelOn(c actor.Context, a placement.Assignment, reason string) {
	if a.Attempt == 0 {
		return
	}
	c.Send(p.h.cfg.AgentPID(membership.Member{ID: a.Worker.ID, Address: a.Worker.Address, Role: membership.RoleWorker}),
		&wire.CancelEpisode{Fence: p.h.fence(a.Attempt), Ref: wire.Ref(p.spec.Ref), Reason: reason})
}

// current reports whether a fence is this episode's live attempt.
func (p *proxyActor) fenced(f *wire.Fence) bool {
	return !p.done && f != nil && f.Head == p.h.epoch && p.current.Attempt != 0 && f.Attempt == int64(p.current.Attempt)
}

func (p *proxyActor) onGenerate(c actor.Context, m *wire.GenerateRequest) {
	if !p.fenced(m.Fence) {
		p.h.late.Add(1)
		p.refuse(c, m)
		return
	}
	req, shim, fence := m.Msg(), actorPID(m.Shim), m.Fence
	timeout := time.Until(req.Deadline) + p.ep.Grace
	if req.Deadline.IsZero() || timeout <= 0 {
		timeout = p.ep.TurnTimeout + p.ep.Grace
	}
	f := c.RequestFuture(p.spec.Inference, req, timeout)
	c.ReenterAfter(f, func(res any, err error) {
		if !p.fenced(fence) {
			p.h.late.Add(1) // the attempt changed while the policy was generating
			p.refuse(c, m)
			return
		}
		switch r := res.(type) {
		case messages.GenerateReply:
			c.Send(shim, wire.GenerateReplyOf(fence, r))
		case messages.GenerateFailed:
			c.Send(shim, wire.GenerateFailedOf(fence, r))
		default:
			cause := fmt.Sprintf("inference did not answer in %v", timeout)
			if err != nil {
				cause = fmt.Sprintf("inference did not answer: %v", err)
			}
			c.Send(shim, wire.GenerateFailedOf(fence, messages.GenerateFailed{Ref: req.Ref, Attempt: req.Attempt, Turn: req.Turn,
				Failure: messages.Failure{Kind: messages.FailGenerate, Retryable: true, Cause: cause}}))
		}
	})
}

func (p *proxyActor) onDone(c actor.Context, m *wire.EpisodeDone) {
	shim := actorPID(m.Shim)
	if shim != nil {
		// Acknowledge whatever the fence says, so that the worker stops resending.
		c.Send(shim, &wire.RecordAck{Fence: m.Fence, Ref: m.Record.GetRef()})
	}
	if p.done && p.final != nil && sameFence(m.Fence, p.final) {
		return // the worker resent the record before our acknowledgement reached it
	}
	if !p.fenced(m.Fence) {
		p.h.late.Add(1)
		return
	}
	rec := m.Record.Msg()
	if rec.Ref.Key() != p.spec.Ref.Key() {
		p.h.late.Add(1)
		return
	}
	if rec.Status == messages.Abandoned && rec.Failure.Kind == messages.FailNodeLost {
		// The worker gave the attempt back (cut off from us for a while, or it holds
		// no lease of ours): place it again, as for a lost worker.
		// Until it announces itself again, the worker takes no more work.
		id := p.current.Worker.ID
		p.h.table.Release(p.key, p.current.Attempt)
		p.h.loseWorker(c, id, "it gave an attempt back: "+rec.Failure.Cause)
		p.onLost(c, id, rec.Failure.Cause)
		return
	}
	rec.Ref, rec.Task = p.spec.Ref, p.spec.Task
	rec.Retries += p.lost
	p.final = m.Fence
	p.h.table.Release(p.key, p.current.Attempt)
	p.finish(c, rec)
}

// finish sends the one record to the coordinator, which stops this actor.
func (p *proxyActor) finish(c actor.Context, rec messages.EpisodeRecord) {
	p.done = true
	p.stopTimers()
	c.Send(p.spec.Coordinator, rec)
}

func (p *proxyActor) stop(c actor.Context) {
	p.stopTimers()
	if !p.done && p.current.Attempt != 0 {
		p.cancelOn(c, p.current, "the run stopped the episode")
		p.h.table.Release(p.key, p.current.Attempt)
	}
	p.done = true
	p.h.unregister(p.key, p.self)
}

func (p *proxyActor) stopTimers() {
	if p.deadline != nil {
		p.deadline.Stop()
	}
	if p.retry != nil {
		p.retry.Stop()
	}
}

func sameFence(a, b *wire.Fence) bool {
	return a.GetHead() == b.GetHead() && a.GetAttempt() == b.GetAttempt()
}

func episodeConfigOf(c actors.EpisodeConfig) *wire.EpisodeConfig {
	return &wire.EpisodeConfig{TurnCap: int64(c.TurnCap), LengthThreshold: int64(c.LengthThreshold),
		EpisodeTimeoutNs: int64(c.EpisodeTimeout), TurnTimeoutNs: int64(c.TurnTimeout), CommandTimeoutNs: int64(c.CommandTimeout),
		DiffTimeoutNs: int64(c.DiffTimeout), GradeTimeoutNs: int64(c.GradeTimeout), GraceNs: int64(c.Grace),
		RetryBudget: int64(c.RetryBudget)}
}

// episodeConfig is the worker's EpisodeConfig: the head's limits over the worker's
// defaults for what the wire does not carry (backoff, sandbox start).
func episodeConfig(w *wire.EpisodeConfig, base actors.EpisodeConfig) actors.EpisodeConfig {
	c := base
	set := func(dst *int, v int64) {
		if v > 0 {
			*dst = int(v)
		}
	}
	setD := func(dst *time.Duration, v int64) {
		if v > 0 {
			*dst = time.Duration(v)
		}
	}
	set(&c.TurnCap, w.GetTurnCap())
	set(&c.LengthThreshold, w.GetLengthThreshold())
	setD(&c.EpisodeTimeout, w.GetEpisodeTimeoutNs())
	setD(&c.TurnTimeout, w.GetTurnTimeoutNs())
	setD(&c.CommandTimeout, w.GetCommandTimeoutNs())
	setD(&c.DiffTimeout, w.GetDiffTimeoutNs())
	setD(&c.GradeTimeout, w.GetGradeTimeoutNs())
	setD(&c.Grace, w.GetGraceNs())
	c.RetryBudget = int(w.GetRetryBudget())
	return c
}
