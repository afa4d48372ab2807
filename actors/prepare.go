package actors

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/sandbox"
)

// preparer is a sandbox.Factory that starts sandboxes before their episodes exist.
// While the learner trains iteration k, the coordinator asks it to start the
// sandboxes of the first attempts of iteration k+1 (creating, copying and installing
// do not depend on the policy). When an episode of k+1 later starts its first
// attempt, Start hands it the prepared sandbox, waiting for it if it is still
// starting. Every other start goes straight to the wrapped factory. The episodes
// themselves are spawned only after PolicyUpdated{k+1}, so no turn is generated
// earlier and the run stays on-policy.
//
// A prepared sandbox that no episode takes (its iteration was superseded, or the run
// ended) is closed; so is one whose taker gave up before it was ready, and one that
// waited longer than maxPreparedAge (a backend may bound a sandbox's life from its
// creation, as Docker's MaxLifetime does, and a long update must not eat into the
// episode's share): its episode gets a fresh one. The preparer outlives restarts of
// the coordinator and ends with close.
type preparer struct {
	rt     *Runtime
	next   sandbox.Factory
	cfg    SandboxConfig
	life   *lifetime
	maxAge time.Duration

	mu      sync.Mutex
	entries map[messages.EpisodeKey]*preparedSandbox
	closed  bool
}

// preparedSandbox is one sandbox started ahead. Fields below ready are written
// before ready is closed; discarded is guarded by the preparer's mutex.
type preparedSandbox struct {
	spec      sandbox.Spec
	ready     chan struct{}
	sb        sandbox.Sandbox
	err       error
	readyAt   time.Time
	done      bool // start has returned (under mu)
	discarded bool // nobody will take it: close it when it is ready (under mu)
}

func newPreparer(rt *Runtime, next sandbox.Factory, cfg SandboxConfig) *preparer {
	return &preparer{rt: rt, next: next, cfg: cfg, life: newLifetime(), maxAge: maxPreparedAge,
		entries: map[messages.EpisodeKey]*preparedSandbox{}}
}

// maxPreparedAge is how long a prepared sandbox may wait for its episode.
const maxPreparedAge = 30 * time.Minute

// prepare starts the sandboxes of specs (first attempts of one iteration) that are
// not prepared yet, and closes those of earlier iterations that nobody took.
func (p *preparer) prepare(iteration int, specs []sandbox.Spec) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.dropBeforeLocked(iteration)
	for _, spec := range specs {
		k := spec.Ref.Key()
		if _, ok := p.entries[k]; ok {
			continue
		}
		e := &preparedSandbox{spec: spec, ready: make(chan struct{})}
		p.entries[k] = e
		p.rt.Go(func() { p.start(e) }, func(pn Panic) {
			p.finish(e, nil, errors.New("sandbox start panicked: "+pn.Error()))
			p.rt.episodeLog(spec.Ref, spec.Attempt).Error("prepared sandbox start panicked: a bug in the sandbox backend", "panic", pn.Error(), "stack", pn.Stack)
		})
	}
}

func (p *preparer) start(e *preparedSandbox) {
	ctx, cancel := context.WithTimeout(p.life.ctx, p.cfg.StartTimeout)
	defer cancel()
	sb, err := p.next.Start(ctx, e.spec)
	p.finish(e, sb, err)
}

func (p *preparer) finish(e *preparedSandbox, sb sandbox.Sandbox, err error) {
	p.mu.Lock()
	if e.done {
		p.mu.Unlock()
		return
	}
	e.sb, e.err, e.done, e.readyAt = sb, err, true, time.Now()
	discard := e.discarded
	p.mu.Unlock()
	close(e.ready)
	if discard {
		p.release(e)
	}
}

// release closes a prepared sandbox nobody will use.
func (p *preparer) release(e *preparedSandbox) {
	if e.sb == nil {
		return
	}
	p.rt.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), p.cfg.CloseTimeout)
		defer cancel()
		if err := e.sb.Close(ctx); err != nil {
			p.rt.episodeLog(e.spec.Ref, e.spec.Attempt).Warn("closing an unused prepared sandbox failed", "error", err,
				"fix", "remove it by hand if the backend kept it (docker: `docker ps -a`); a docker sandbox goes by itself when its lease ends")
		}
	}, nil)
}

// discardLocked gives up e: closed now if it is ready, else as soon as it is.
func (p *preparer) discardLocked(e *preparedSandbox) {
	e.discarded = true
	if e.done {
		p.release(e)
	}
}

func (p *preparer) dropBeforeLocked(iteration int) {
	for k, e := range p.entries {
		if k.Iteration < iteration {
			delete(p.entries, k)
			p.discardLocked(e)
		}
	}
}

// Start implements sandbox.Factory: the prepared sandbox of spec if there is one,
// else a fresh start.
func (p *preparer) Start(ctx context.Context, spec sandbox.Spec) (sandbox.Sandbox, error) {
	p.mu.Lock()
	e, ok := p.entries[spec.Ref.Key()]
	if ok && (e.spec.Ref != spec.Ref || e.spec.Attempt != spec.Attempt || e.spec.Purpose != spec.Purpose ||
		e.spec.Task.ID != spec.Task.ID) {
		ok = false
	}
	if ok {
		delete(p.entries, spec.Ref.Key())
	}
	p.mu.Unlock()
	if !ok {
		return p.next.Start(ctx, spec)
	}
	select {
	case <-e.ready:
		if e.err == nil && time.Since(e.readyAt) > p.maxAge {
			p.release(e)
			return p.next.Start(ctx, spec)
		}
		return e.sb, e.err
	case <-ctx.Done():
		p.mu.Lock()
		p.discardLocked(e)
		p.mu.Unlock()
		return nil, ctx.Err()
	}
}

// close stops preparing and closes every sandbox not taken yet.
func (p *preparer) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.closed = true
	p.life.cancel()
	for k, e := range p.entries {
		delete(p.entries, k)
		p.discardLocked(e)
	}
}
