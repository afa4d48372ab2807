package actors

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/sandbox"
)

// SandboxConfig bounds the sandbox's own calls.
type SandboxConfig struct {
	StartTimeout time.Duration // creating the sandbox
	CloseTimeout time.Duration // releasing it
}

// DefaultSandboxConfig: 5 minutes to start (an image may be built), 1 minute to close.
func DefaultSandboxConfig() SandboxConfig {
	return SandboxConfig{StartTimeout: 5 * time.Minute, CloseTimeout: time.Minute}
}

// sandboxActor owns one sandbox of one attempt. A worker goroutine starts the sandbox,
// runs the episode's requests one at a time and replies straight to the episode; when
// the actor stops (its episode ended or was stopped) the worker's context is cancelled,
// the running command dies with it, and the worker closes the sandbox before it exits.
//
// The episode puts its ExecRequest and DiffRequest straight on the worker's queue (a
// sandboxWork it gets with the props), not through the actor's mailbox: a turn then
// costs one actor message less. The actor still owns the worker and its lifetime, and
// the episode still learns of the actor's end from its Terminated.
type sandboxActor struct {
	rt      *Runtime
	cfg     SandboxConfig
	factory sandbox.Factory
	spec    sandbox.Spec
	episode *actor.PID

	cancel context.CancelFunc
	work   sandboxWork
}

// sandboxWork is the queue of a sandbox actor's worker: the episode's ExecRequest and
// DiffRequest. The episode has one request in flight at a time; the buffer holds two,
// so that put never blocks, even when the worker has already exited (its actor stopped
// or its sandbox died: the request is then dropped with the queue, and the episode hears
// of the end from SandboxFailed or Terminated). Only the episode that spawned the actor
// (and the actor's own Receive) puts on it.
type sandboxWork chan any

// put queues m for the worker without blocking. A full queue is a protocol bug (the
// episode sends one request at a time): m is dropped and logged.
func (w sandboxWork) put(rt *Runtime, ref messages.EpisodeRef, m any) {
	select {
	case w <- m:
	default:
		rt.episodeLog(ref, attemptOf(m)).Error("sandbox busy: request dropped (a bug: an episode sends one request at a time)", "message", typeName(m))
	}
}

// newSandboxProps makes the props of a sandbox actor and the queue of its worker.
// Every incarnation of the actor serves the same queue.
func newSandboxProps(rt *Runtime, cfg SandboxConfig, f sandbox.Factory, spec sandbox.Spec, episode *actor.PID) (*actor.Props, sandboxWork) {
	work := make(sandboxWork, 2)
	return actor.PropsFromProducer(func() actor.Actor {
		return &sandboxActor{rt: rt, cfg: cfg, factory: f, spec: spec, episode: episode, work: work}
	}), work
}

func (s *sandboxActor) Receive(c actor.Context) {
	switch m := c.Message().(type) {
	case *actor.Started:
		var ctx context.Context
		ctx, s.cancel = context.WithCancel(context.Background())
		self := c.Self()
		s.rt.Go(func() { s.run(ctx, s.work) }, func(p Panic) {
			s.rt.Send(s.episode, messages.SandboxFailed{Ref: s.spec.Ref, Attempt: s.spec.Attempt,
				Failure: messages.Failure{Kind: messages.FailSandboxDied, Retryable: true, Cause: "sandbox worker panicked: " + p.Error()}})
			s.rt.episodeLog(s.spec.Ref, s.spec.Attempt).Error("sandbox worker panicked: the attempt is retried with a fresh sandbox",
				"sandbox", self.Id, "panic", p.Error(), "stack", p.Stack)
		})
	case messages.ExecRequest, messages.DiffRequest:
		s.work.put(s.rt, s.spec.Ref, m) // as if the episode had put it on the queue
	case *actor.Stopping, *actor.Restarting:
		s.cancel()
	case *actor.Stopped:
	default:
		s.rt.episodeLog(s.spec.Ref, s.spec.Attempt).Warn("sandbox: unknown message", "type", typeName(m))
	}
}

func (s *sandboxActor) run(ctx context.Context, work <-chan any) {
	ref, attempt := s.spec.Ref, s.spec.Attempt
	begin := time.Now()
	sctx, cancel := context.WithTimeout(ctx, s.cfg.StartTimeout)
	sb, err := s.factory.Start(sctx, s.spec)
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			s.rt.observe(Event{Kind: EventSandboxFailed, Ref: ref, Attempt: attempt, Failure: messages.FailSandboxStart, Elapsed: time.Since(begin)})
			s.rt.Send(s.episode, messages.SandboxFailed{Ref: ref, Attempt: attempt,
				Failure: messages.Failure{Kind: messages.FailSandboxStart, Retryable: !errors.Is(err, sandbox.ErrPermanent), Cause: err.Error()}})
		}
		return
	}
	s.rt.observe(Event{Kind: EventSandboxStarted, Ref: ref, Attempt: attempt, Elapsed: time.Since(begin)})
	defer func() {
		defer s.rt.observe(Event{Kind: EventSandboxClosed, Ref: ref, Attempt: attempt})
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.CloseTimeout)
		defer cancel()
		if err := sb.Close(cctx); err != nil {
			s.rt.episodeLog(ref, attempt).Warn("sandbox close failed", "error", err,
				"fix", "remove it by hand if the backend kept it (docker: `docker ps -a`); a docker sandbox goes by itself when its lease ends")
		}
	}()
	s.rt.Send(s.episode, messages.SandboxReady{Ref: ref, Attempt: attempt, Elapsed: time.Since(begin), Prompt: promptOf(sb)})
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-work:
			var reply any
			switch m := m.(type) {
			case messages.ExecRequest:
				reply = s.exec(ctx, sb, m)
			case messages.DiffRequest:
				reply = s.diff(ctx, sb, m)
			}
			if ctx.Err() != nil {
				return // the episode is gone; nobody waits for the reply
			}
			s.rt.Send(s.episode, reply)
			if _, died := reply.(messages.SandboxFailed); died {
				return
			}
		}
	}
}

func (s *sandboxActor) exec(ctx context.Context, sb sandbox.Sandbox, m messages.ExecRequest) any {
	ectx := withDeadline(ctx, m.Deadline)
	defer ectx.release()
	begin := time.Now()
	out, err := sb.Exec(ectx, m.Command)
	elapsed := time.Since(begin)
	res := messages.ExecResult{Ref: m.Ref, Attempt: m.Attempt, Turn: m.Turn, Output: out.Text, ExitCode: out.ExitCode,
		TimedOut: out.TimedOut, Elapsed: elapsed, Prompt: promptOf(sb)}
	switch {
	case err == nil:
		return res
	case ctx.Err() == nil && errors.Is(ectx.Err(), context.DeadlineExceeded) && !errors.Is(err, sandbox.ErrDied):
		res.TimedOut = true
		res.Output += fmt.Sprintf("\n[command timed out after %s and was killed]", elapsed.Round(time.Millisecond))
		return res
	default:
		return messages.SandboxFailed{Ref: m.Ref, Attempt: m.Attempt,
			Failure: messages.Failure{Kind: messages.FailSandboxDied, Retryable: true, Cause: err.Error()}}
	}
}

func (s *sandboxActor) diff(ctx context.Context, sb sandbox.Sandbox, m messages.DiffRequest) any {
	dctx := withDeadline(ctx, m.Deadline)
	defer dctx.release()
	patch, err := sb.Diff(dctx)
	if errors.Is(err, sandbox.ErrNoRepository) {
		// The agent destroyed the repository: its answer is the empty patch.
		return messages.DiffResult{Ref: m.Ref, Attempt: m.Attempt, Patch: ""}
	}
	if err != nil {
		return messages.SandboxFailed{Ref: m.Ref, Attempt: m.Attempt,
			Failure: messages.Failure{Kind: messages.FailSandboxDied, Retryable: true, Cause: "diff: " + err.Error()}}
	}
	return messages.DiffResult{Ref: m.Ref, Attempt: m.Attempt, Patch: patch}
}

// promptOf returns the scaffold's prompt line, if sb has one.
func promptOf(sb sandbox.Sandbox) string {
	if p, ok := sb.(sandbox.Prompter); ok {
		return p.Prompt()
	}
	return ""
}
