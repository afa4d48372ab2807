package actors

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/hashicorp/go-hclog"
)

// Runtime is what every swerl actor of one run shares: the actor system, the logger,
// and the group that owns every goroutine and timer an actor starts, so that the
// engine can wait for all of them before it returns.
type Runtime struct {
	System *actor.ActorSystem
	Log    hclog.Logger
	wg     sync.WaitGroup
	obs    Observer // nil: nobody watches
}

// NewRuntime wraps system. A nil log discards.
func NewRuntime(system *actor.ActorSystem, log hclog.Logger) *Runtime {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &Runtime{System: system, Log: log}
}

// Go runs fn in a goroutine owned by the runtime. A panic in fn is recovered and passed
// to onPanic (with the stack), which typically sends it to the owning actor so that the
// bug reaches the supervisor; a nil onPanic logs it.
func (rt *Runtime) Go(fn func(), onPanic func(p Panic)) {
	rt.wg.Add(1)
	go func() {
		defer rt.wg.Done()
		defer func() {
			if v := recover(); v != nil {
				p := Panic{Value: v, Stack: string(debug.Stack())}
				if onPanic == nil {
					rt.Log.Error("goroutine panicked", "panic", p.Error(), "stack", p.Stack)
					return
				}
				onPanic(p)
			}
		}()
		fn()
	}()
}

// Send delivers msg to pid from outside any actor (a worker goroutine or a timer).
func (rt *Runtime) Send(pid *actor.PID, msg any) { rt.System.Root.Send(pid, msg) }

// After sends msg to pid after d, unless the returned timer is stopped first.
func (rt *Runtime) After(d time.Duration, pid *actor.PID, msg any) *Timer {
	return rt.AfterFunc(d, func() { rt.Send(pid, msg) })
}

// AfterFunc runs f after d in a goroutine owned by the runtime, unless stopped first.
func (rt *Runtime) AfterFunc(d time.Duration, f func()) *Timer {
	rt.wg.Add(1)
	t := &Timer{wg: &rt.wg}
	t.t = time.AfterFunc(d, func() {
		defer rt.wg.Done()
		f()
	})
	return t
}

// Wait blocks until every goroutine started by Go and every pending timer has ended.
func (rt *Runtime) Wait() { rt.wg.Wait() }

// Timer is a runtime-owned timer.
type Timer struct {
	t  *time.Timer
	wg *sync.WaitGroup
}

// Stop cancels the timer if it has not fired. Safe on a nil timer.
func (t *Timer) Stop() {
	if t != nil && t.t.Stop() {
		t.wg.Done()
	}
}

// Panic is a recovered panic value with the stack where it happened.
type Panic struct {
	Value any
	Stack string
}

func (p Panic) Error() string { return fmt.Sprint(p.Value) }

// lifetime is a context that spans every incarnation of one actor: a supervisor
// restart keeps it (work in flight survives the restart), Stopping cancels it.
type lifetime struct {
	ctx    context.Context
	cancel context.CancelFunc
}

func newLifetime() *lifetime {
	ctx, cancel := context.WithCancel(context.Background())
	return &lifetime{ctx: ctx, cancel: cancel}
}
