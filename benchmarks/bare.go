package benchmarks

import (
	"log/slog"
	"sync"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
)

// Reference (2): the bare Proto.Actor traffic of a turn, with swerl's topology (one
// shared inference actor, one sandbox actor per episode) and nothing else: per turn an
// episode actor makes one request/reply round trip to inference and one to its
// sandbox. No parsing, no transcript, no grading: the framework's own cost.

type (
	bareGen     struct{ turn int }
	bareGenRep  struct{ turn int }
	bareExec    struct{ turn int }
	bareExecRep struct{ turn int }
)

type bareEpisode struct {
	inference, sandbox *actor.PID
	turn, turns        int
	done               *sync.WaitGroup
}

func (e *bareEpisode) Receive(c actor.Context) {
	switch m := c.Message().(type) {
	case *actor.Started:
		e.sandbox = c.Spawn(bareSandboxProps)
		c.Request(e.inference, bareGen{turn: 0})
	case bareGenRep:
		c.Request(e.sandbox, bareExec{turn: m.turn})
	case bareExecRep:
		e.turn++
		if e.turn == e.turns {
			e.done.Done()
			c.Stop(c.Self())
			return
		}
		c.Request(e.inference, bareGen{turn: e.turn})
	}
}

var bareSandboxProps = actor.PropsFromFunc(func(c actor.Context) {
	if m, ok := c.Message().(bareExec); ok {
		c.Respond(bareExecRep(m))
	}
})

// Actors is reference (2).
func Actors(b *testing.B, p Params) {
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.DiscardHandler)
	}))
	defer system.Shutdown()
	inference := system.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		if m, ok := c.Message().(bareGen); ok {
			c.Respond(bareGenRep(m))
		}
	}))
	run := func() {
		var wg sync.WaitGroup
		wg.Add(p.Episodes)
		for i := 0; i < p.Episodes; i++ {
			system.Root.Spawn(actor.PropsFromProducer(func() actor.Actor {
				return &bareEpisode{inference: inference, turns: p.Turns, done: &wg}
			}))
		}
		wg.Wait()
	}
	run()
	measure(b, p, 0, run)
}
