package actors

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/swerl/swerl/actors/actorstest"
	"github.com/swerl/swerl/messages"
)

// A batch resent after its update finished (the reply was lost) is answered again
// without training twice; a stale batch is refused.
func TestLearnerIsIdempotent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sys := actorstest.NewTestSystem(t)
		rt := NewRuntime(sys, nil)
		tr := actorstest.NewFakeTrainer(0)
		learner := sys.Root.Spawn(newLearnerProps(rt, tr))
		replies := make(chan any, 8)
		probe := sys.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
			switch m := c.Message().(type) {
			case messages.PolicyUpdated, messages.TrainFailed:
				replies <- m
			}
		}))
		batch := messages.NewTrainBatch(0, 0, nil)
		for i := 0; i < 3; i++ {
			sys.Root.RequestWithCustomSender(learner, batch, probe)
			synctest.Wait()
		}
		for i := 0; i < 3; i++ {
			if r := <-replies; r != (messages.PolicyUpdated{Iteration: 0, Version: 1, Stats: r.(messages.PolicyUpdated).Stats}) {
				t.Fatalf("reply %d = %+v, want PolicyUpdated{Version: 1}", i, r)
			}
		}
		if got := tr.Trained()[0]; got != 1 {
			t.Fatalf("trained version 0 %d times, want 1", got)
		}
		// A batch from a version the learner has not reached is a protocol error.
		sys.Root.RequestWithCustomSender(learner, messages.NewTrainBatch(5, 5, nil), probe)
		if r, ok := (<-replies).(messages.TrainFailed); !ok || r.Version != 5 {
			t.Fatalf("future batch answered with %+v, want TrainFailed", r)
		}
		sys.Root.StopFuture(learner).Wait()
		sys.Root.StopFuture(probe).Wait()
		rt.Wait()
		time.Sleep(time.Second) // Proto.Actor's dead-letter throttle
	})
}
