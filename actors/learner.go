package actors

import (
	"fmt"
	"sync"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/policy"
)

// learnerActor owns the Trainer and performs the update at the barrier: TrainBatch{k}
// in, PolicyUpdated{k+1} out. Training runs in an owned goroutine. The handshake is
// idempotent, so the coordinator may resend a batch: a batch for a version already
// trained is answered without training again, and a duplicate of the batch in training
// is ignored. A panic in training reaches the supervisor; the restarted learner trains
// the batch when it is resent, so every iteration trains exactly once.
type learnerActor struct {
	rt      *Runtime
	trainer policy.Trainer
	lock    *sync.Mutex // serialises Train and Version across incarnations
	life    *lifetime
	busy    bool
	busyFor int
}

type trainDone struct {
	replyTo *actor.PID
	msg     any // messages.PolicyUpdated or messages.TrainFailed
}

type trainPanicked struct{ p Panic }

func newLearnerProps(rt *Runtime, t policy.Trainer) *actor.Props {
	lock, life := &sync.Mutex{}, newLifetime()
	return actor.PropsFromProducer(func() actor.Actor {
		return &learnerActor{rt: rt, trainer: t, lock: lock, life: life}
	})
}

func (l *learnerActor) Receive(c actor.Context) {
	switch m := c.Message().(type) {
	case messages.TrainBatch:
		if l.busy && l.busyFor == m.PolicyVersion {
			return // a resend of the batch in training: its reply is coming
		}
		l.busy, l.busyFor = true, m.PolicyVersion
		l.train(c, m)
	case trainDone:
		l.busy = false
		c.Send(m.replyTo, m.msg)
	case trainPanicked:
		// A bug in the trainer: hand it to the supervisor.
		panic(fmt.Sprintf("learner: training panicked: %v\n%s", m.p.Value, m.p.Stack))
	case *actor.Stopping:
		l.life.cancel()
	case *actor.Started, *actor.Restarting:
	case *actor.Stopped:
	default:
		l.rt.Log.Warn("learner: unknown message", "type", typeName(m))
	}
}

func (l *learnerActor) train(c actor.Context, b messages.TrainBatch) {
	replyTo, self, ctx := c.Sender(), c.Self(), l.life.ctx
	l.rt.Go(func() {
		l.lock.Lock()
		defer l.lock.Unlock()
		var msg any
		switch v := l.trainer.Version(); {
		case v > b.PolicyVersion:
			// Trained before (the reply was lost to a restart): answer again.
			msg = messages.PolicyUpdated{Iteration: b.Iteration, Version: v}
		case v < b.PolicyVersion:
			msg = messages.TrainFailed{Iteration: b.Iteration, Version: b.PolicyVersion,
				Cause: fmt.Sprintf("batch sampled from policy version %d but the learner is at version %d", b.PolicyVersion, v)}
		default:
			stats, err := l.trainer.Train(ctx, b)
			if err != nil {
				msg = messages.TrainFailed{Iteration: b.Iteration, Version: b.PolicyVersion, Cause: err.Error()}
			} else {
				msg = messages.PolicyUpdated{Iteration: b.Iteration, Version: l.trainer.Version(), Stats: stats}
			}
		}
		l.rt.Send(self, trainDone{replyTo: replyTo, msg: msg})
	}, func(p Panic) {
		l.rt.Send(self, trainPanicked{p: p})
	})
}
