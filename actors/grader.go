package actors

import (
	"context"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/swe"
)

// gradersActor is the grader pool: each GradeRequest runs on the actor's worker pool,
// at most Concurrency at once, and is answered straight to the episode. A verdict of "not
// resolved" is a GradeResult; only a grader that could not judge sends GradeFailed.
type gradersActor struct {
	rt     *Runtime
	grader swe.Grader
	pool   *workerPool
	life   *lifetime
}

// NewGradersProps makes the props of a grader pool of the given concurrency (0: no cap),
// as the guardian spawns it; a cluster worker spawns its own.
func NewGradersProps(rt *Runtime, g swe.Grader, concurrency int) *actor.Props {
	return newGradersProps(rt, g, concurrency)
}

func newGradersProps(rt *Runtime, g swe.Grader, concurrency int) *actor.Props {
	life := newLifetime()
	pool := newWorkerPool(rt, life.ctx, concurrency)
	return actor.PropsFromProducer(func() actor.Actor {
		return &gradersActor{rt: rt, grader: g, life: life, pool: pool}
	})
}

func (a *gradersActor) Receive(c actor.Context) {
	switch m := c.Message().(type) {
	case messages.GradeRequest:
		a.grade(c, m)
	case *actor.Stopping:
		a.life.cancel()
	case *actor.Started, *actor.Restarting:
	case *actor.Stopped:
	default:
		a.rt.Log.Warn("graders: unknown message", "type", typeName(m))
	}
}

func (a *gradersActor) grade(c actor.Context, m messages.GradeRequest) {
	replyTo := c.Sender()
	failed := func(cause string) messages.GradeFailed {
		return messages.GradeFailed{Ref: m.Ref, Attempt: m.Attempt, Try: m.Try,
			Failure: messages.Failure{Kind: messages.FailGrade, Retryable: true, Cause: cause}}
	}
	a.pool.submit(func(ctx context.Context) {
		gctx, cancel := context.WithDeadline(ctx, m.Deadline)
		defer cancel()
		begin := time.Now()
		v, err := a.grader.Grade(gctx, m)
		if err != nil {
			a.rt.Send(replyTo, failed(err.Error()))
			return
		}
		a.rt.Send(replyTo, messages.GradeResult{Ref: m.Ref, Attempt: m.Attempt, Try: m.Try,
			Resolved: v.Resolved, Detail: v.Detail, Elapsed: time.Since(begin)})
	}, func(p Panic) {
		a.rt.Send(replyTo, failed("grader panicked: "+p.Error()))
		a.rt.episodeLog(m.Ref, m.Attempt).Error("grader panicked: a bug in the grader", "try", m.Try, "panic", p.Error(), "stack", p.Stack)
	})
}
