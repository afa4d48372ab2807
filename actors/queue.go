package actors

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
)

// workerPool runs an actor's blocking jobs on long-lived goroutines owned by the
// runtime. A job goes to an idle worker if there is one; otherwise a new worker starts,
// up to limit (0: no limit); past the limit jobs wait, lowest key first and in
// arrival order among equal keys (submit uses key 0: plain FIFO). Workers live until the
// pool's context ends, so a busy actor pays no goroutine start (and stack growth) per
// job, and each worker derives per-job deadlines from a context of its own rather than
// contending on one shared parent.
//
// submit never blocks and may be called from Receive. The pool outlives restarts of
// its owner (it is built with the actor's props) and ends with its context.
type workerPool struct {
	rt    *Runtime
	ctx   context.Context
	limit int

	mu      sync.Mutex
	cond    *sync.Cond
	queue   jobHeap
	seq     uint64
	workers int
	idle    int
	closed  bool
}

// task is one unit of work. run gets the worker's context; a panic in run is
// recovered and passed to panicked, and the worker goes on.
type task interface {
	run(ctx context.Context)
	panicked(p Panic)
}

// funcTask is a task made of two functions.
type funcTask struct {
	fn      func(ctx context.Context)
	onPanic func(Panic)
}

func (t funcTask) run(ctx context.Context) { t.fn(ctx) }
func (t funcTask) panicked(p Panic)        { t.onPanic(p) }

// job is a queued task with its place in the queue.
type job struct {
	key  int
	seq  uint64
	task task
}

// jobHeap is a binary min-heap of waiting jobs by (key, seq). It is written out for
// the job type rather than through container/heap, whose any-typed Push and Pop
// would allocate on every generate request.
type jobHeap []job

func (h jobHeap) less(i, j int) bool {
	if h[i].key != h[j].key {
		return h[i].key < h[j].key
	}
	return h[i].seq < h[j].seq
}

func (h *jobHeap) push(j job) {
	*h = append(*h, j)
	q := *h
	for i := len(q) - 1; i > 0; {
		parent := (i - 1) / 2
		if !q.less(i, parent) {
			break
		}
		q[i], q[parent] = q[parent], q[i]
		i = parent
	}
}

func (h *jobHeap) pop() job {
	q := *h
	top := q[0]
	last := len(q) - 1
	q[0] = q[last]
	q[last] = job{}
	q = q[:last]
	for i := 0; ; {
		l, smallest := 2*i+1, i
		if l < len(q) && q.less(l, smallest) {
			smallest = l
		}
		if r := l + 1; r < len(q) && q.less(r, smallest) {
			smallest = r
		}
		if smallest == i {
			break
		}
		q[i], q[smallest] = q[smallest], q[i]
		i = smallest
	}
	*h = q
	return top
}

func newWorkerPool(rt *Runtime, ctx context.Context, limit int) *workerPool {
	p := &workerPool{rt: rt, ctx: ctx, limit: limit}
	p.cond = sync.NewCond(&p.mu)
	rt.wg.Add(1)
	context.AfterFunc(ctx, func() {
		defer rt.wg.Done()
		p.mu.Lock()
		p.closed = true
		p.cond.Broadcast()
		p.mu.Unlock()
	})
	return p
}

func (p *workerPool) submit(run func(ctx context.Context), onPanic func(Panic)) {
	p.submitTask(0, funcTask{fn: run, onPanic: onPanic})
}

// submitKeyed queues a job that waits behind every job with a lower key.
func (p *workerPool) submitKeyed(key int, run func(ctx context.Context), onPanic func(Panic)) {
	p.submitTask(key, funcTask{fn: run, onPanic: onPanic})
}

// submitTask queues t behind every waiting job with a lower key.
func (p *workerPool) submitTask(key int, t task) {
	p.mu.Lock()
	p.seq++
	p.queue.push(job{key: key, seq: p.seq, task: t})
	spawn := false
	if pending := len(p.queue); pending > p.idle && (p.limit <= 0 || p.workers < p.limit) {
		p.workers++
		spawn = true
	} else if p.idle > 0 {
		p.cond.Signal()
	}
	p.mu.Unlock()
	if spawn {
		p.rt.Go(p.work, nil)
	}
}

func (p *workerPool) work() {
	ctx, cancel := context.WithCancel(p.ctx)
	defer cancel()
	p.mu.Lock()
	for {
		for len(p.queue) == 0 && !p.closed {
			p.idle++
			p.cond.Wait()
			p.idle--
		}
		if p.closed {
			p.workers--
			p.mu.Unlock()
			return
		}
		j := p.queue.pop()
		p.mu.Unlock()
		p.runJob(ctx, j)
		p.mu.Lock()
	}
}

func (p *workerPool) runJob(ctx context.Context, j job) {
	defer func() {
		if v := recover(); v != nil {
			j.task.panicked(Panic{Value: v, Stack: string(debug.Stack())})
		}
	}()
	j.task.run(ctx)
}

func typeName(v any) string { return fmt.Sprintf("%T", v) }
