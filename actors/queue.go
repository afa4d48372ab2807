package actors

import (
	"container/heap"
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

// job is one unit of work. run gets the worker's context; a panic in run is
// recovered and passed to onPanic, and the worker goes on.
type job struct {
	key     int
	seq     uint64
	run     func(ctx context.Context)
	onPanic func(Panic)
}

// jobHeap orders waiting jobs by (key, seq).
type jobHeap []job

func (h jobHeap) Len() int { return len(h) }
func (h jobHeap) Less(i, j int) bool {
	if h[i].key != h[j].key {
		return h[i].key < h[j].key
	}
	return h[i].seq < h[j].seq
}
func (h jobHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *jobHeap) Push(x any)   { *h = append(*h, x.(job)) }
func (h *jobHeap) Pop() any {
	old := *h
	j := old[len(old)-1]
	old[len(old)-1] = job{}
	*h = old[:len(old)-1]
	return j
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
	p.submitKeyed(0, run, onPanic)
}

// submitKeyed queues a job that waits behind every job with a lower key.
func (p *workerPool) submitKeyed(key int, run func(ctx context.Context), onPanic func(Panic)) {
	p.mu.Lock()
	p.seq++
	heap.Push(&p.queue, job{key: key, seq: p.seq, run: run, onPanic: onPanic})
	spawn := false
	if pending := p.queue.Len(); pending > p.idle && (p.limit <= 0 || p.workers < p.limit) {
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
		for p.queue.Len() == 0 && !p.closed {
			p.idle++
			p.cond.Wait()
			p.idle--
		}
		if p.closed {
			p.workers--
			p.mu.Unlock()
			return
		}
		j := heap.Pop(&p.queue).(job)
		p.mu.Unlock()
		p.runJob(ctx, j)
		p.mu.Lock()
	}
}

func (p *workerPool) runJob(ctx context.Context, j job) {
	defer func() {
		if v := recover(); v != nil {
			j.onPanic(Panic{Value: v, Stack: string(debug.Stack())})
		}
	}()
	j.run(ctx)
}

func typeName(v any) string { return fmt.Sprintf("%T", v) }
