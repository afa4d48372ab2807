package docker

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/moby/moby/client"

	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/sandbox"
)

// warmMaxAge is the longest a warm container waits in the pool: an older one is
// discarded rather than handed out, so that every sandbox has at least
// Config.MaxLifetime to live (a warm container's deadline is that much later).
const warmMaxAge = 10 * time.Minute

// poolKey identifies interchangeable warm containers: same image, same task (so
// same repository at the same commit).
type poolKey struct{ image, task string }

// pool keeps up to size started containers ready per key. Each holds a running slot;
// a Start that finds none free evicts warm containers of other tasks, and a fill
// that ends while a Start waits for a slot gives its container up.
type pool struct {
	f    *Factory
	size int

	mu      sync.Mutex
	ready   map[poolKey][]*ctr // oldest first
	filling map[poolKey]int
	changed chan struct{} // closed and replaced at every change (tests wait on it)
}

func newPool(f *Factory, size int) *pool {
	return &pool{f: f, size: size, ready: map[poolKey][]*ctr{}, filling: map[poolKey]int{}, changed: make(chan struct{})}
}

// notify wakes the waiters of changes; called with p.mu held.
func (p *pool) notify() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// take returns a warm container for key that still runs commands, or nil. Dead
// ones (killed behind the pool's back) and ones older than warmMaxAge are removed.
func (p *pool) take(ctx context.Context, key poolKey) *ctr {
	for {
		p.mu.Lock()
		list := p.ready[key]
		if len(list) == 0 {
			p.mu.Unlock()
			return nil
		}
		c := list[0]
		p.ready[key] = list[1:]
		p.notify()
		p.mu.Unlock()
		err := errTooOld
		if time.Since(c.created) <= warmMaxAge {
			err = p.check(ctx, c)
		}
		if err == nil {
			return c
		}
		if ctx.Err() == nil {
			p.f.log.Info("warm container discarded", "container", short(c.id), "error", err)
		}
		p.f.removeAsync(c.id)
		if ctx.Err() != nil {
			return nil
		}
	}
}

var errTooOld = errors.New("waited longer than the pool keeps containers")

// check tells whether a warm container is running and runs commands.
func (p *pool) check(ctx context.Context, c *ctr) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	r, err := p.f.cli.ContainerInspect(ctx, c.id, client.ContainerInspectOptions{})
	if err != nil {
		return err
	}
	if r.Container.State == nil || !r.Container.State.Running {
		return errors.New("not running")
	}
	idle, err := p.f.probe(ctx, c.id)
	if err != nil {
		return err
	}
	c.idle = idle
	return nil
}

// fill starts warm containers in the background until size are ready or coming
// for w's key.
func (p *pool) fill(w want) {
	key := w.key()
	p.mu.Lock()
	need := p.size - len(p.ready[key]) - p.filling[key]
	if need > 0 {
		p.filling[key] += need
	}
	p.mu.Unlock()
	for range need {
		if !p.f.begin() {
			p.mu.Lock()
			p.filling[key]--
			p.mu.Unlock()
			continue
		}
		go p.fillOne(w)
	}
}

func (p *pool) fillOne(w want) {
	defer p.f.work.done()
	key := w.key()
	spec := sandbox.Spec{Task: messages.TaskRef{ID: w.task}}
	c, err := p.f.create(p.f.bg, w, spec, true)
	p.mu.Lock()
	p.filling[key]--
	keep := err == nil && p.f.bg.Err() == nil && p.f.waiting.Load() == 0
	if keep {
		p.ready[key] = append(p.ready[key], c)
	}
	p.notify()
	p.mu.Unlock()
	switch {
	case keep:
		p.f.log.Debug("warm container ready", "task", w.task, "container", short(c.id))
	case err == nil:
		// Closing, or a Start waits for the slot this container holds.
		p.f.remove(context.Background(), c.id)
	case !errors.Is(err, errNoRoom) && p.f.bg.Err() == nil:
		p.f.log.Warn("could not start a warm container", "task", w.task, "error", err)
	}
}

// evict removes one warm container, freeing its running slot; false when the pool
// is empty.
func (p *pool) evict(ctx context.Context) bool {
	p.mu.Lock()
	var c *ctr
	for k, list := range p.ready {
		if len(list) > 0 {
			c, p.ready[k] = list[0], list[1:]
			break
		}
	}
	if c != nil {
		p.notify()
	}
	p.mu.Unlock()
	if c == nil {
		return false
	}
	p.f.log.Debug("warm container evicted for a new sandbox", "container", short(c.id))
	p.f.remove(ctx, c.id)
	return true
}

// drain empties the pool and returns what it held.
func (p *pool) drain() []*ctr {
	p.mu.Lock()
	defer p.mu.Unlock()
	var all []*ctr
	for k, list := range p.ready {
		all = append(all, list...)
		delete(p.ready, k)
	}
	p.notify()
	return all
}

// waitReady waits until key has n warm containers ready (for tests).
func (p *pool) waitReady(ctx context.Context, key poolKey, n int) error {
	for {
		p.mu.Lock()
		have, ch := len(p.ready[key]), p.changed
		p.mu.Unlock()
		if have >= n {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// WaitWarm waits until the warm pool holds at least n ready sandboxes for task (for
// harnesses that measure pool hits). It returns at once when the pool is off.
func (f *Factory) WaitWarm(ctx context.Context, task messages.TaskRef, n int) error {
	if f.pool == nil {
		return nil
	}
	ws, err := f.cfg.Resolver.Resolve(ctx, task)
	if err != nil {
		return err
	}
	return f.pool.waitReady(ctx, f.want(ws, task.ID).key(), n)
}
