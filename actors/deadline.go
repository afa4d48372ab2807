package actors

import (
	"context"
	"sync"
	"time"
)

// deadlineCtx is context.WithDeadline for the calls of the hot path (a generation, a
// command, a diff): it ends at its deadline, when its parent ends, or when it is
// released, with the errors and causes of WithDeadline. Unlike WithDeadline it arms
// its timer and its watch on the parent only when Done is first called. A call that
// returns without waiting on Done (one that polls Err, or none) costs one allocation
// and leaves the timer heap and the parent's children alone.
//
// Err, Value and context.Cause read the clock and the parent, so the context reports
// its end at the deadline whether or not anything waits on Done. The owner calls
// release when the call returns (as it would call WithDeadline's cancel): it ends the
// context with context.Canceled and stops the timer and the watch. All methods may be
// called concurrently. A context is never reused: a callee that keeps it sees it ended.
type deadlineCtx struct {
	parent   context.Context
	deadline time.Time

	mu    sync.Mutex
	done  chan struct{}   // made by the first Done; closed when the context ends
	err   error           // nil until the context ends
	cause error           // the cause it ended with
	ended context.Context // a cancelled context carrying cause, made for Value once ended
	timer *time.Timer     // armed by Done
	watch func() bool     // stops the watch on the parent, armed by Done
}

// withDeadline returns a context that ends at d or when parent ends. A deadline of the
// parent that comes earlier than d is the context's deadline.
func withDeadline(parent context.Context, d time.Time) *deadlineCtx {
	if pd, ok := parent.Deadline(); ok && pd.Before(d) {
		d = pd
	}
	return &deadlineCtx{parent: parent, deadline: d}
}

func (c *deadlineCtx) Deadline() (time.Time, bool) { return c.deadline, true }

func (c *deadlineCtx) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done != nil {
		return c.done
	}
	if c.pollLocked() {
		c.done = closedChan
		return c.done
	}
	c.done = make(chan struct{})
	c.timer = time.AfterFunc(time.Until(c.deadline), func() {
		c.end(context.DeadlineExceeded, context.DeadlineExceeded)
	})
	c.watch = context.AfterFunc(c.parent, func() {
		c.end(c.parent.Err(), context.Cause(c.parent))
	})
	return c.done
}

func (c *deadlineCtx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pollLocked()
	return c.err
}

// Value looks key up in the parent. Once the context has ended it answers from a
// cancelled context carrying the cause, so that context.Cause (which finds the nearest
// cancelled context through Value) reports this context's cause, not the parent's.
func (c *deadlineCtx) Value(key any) any {
	c.mu.Lock()
	if !c.pollLocked() {
		c.mu.Unlock()
		return c.parent.Value(key)
	}
	if c.ended == nil {
		ctx, cancel := context.WithCancelCause(context.WithoutCancel(c.parent))
		cancel(c.cause)
		c.ended = ctx
	}
	ended := c.ended
	c.mu.Unlock()
	return ended.Value(key)
}

// release ends the context with context.Canceled unless it has ended already, and
// stops its timer and its watch on the parent.
func (c *deadlineCtx) release() { c.end(context.Canceled, context.Canceled) }

// pollLocked ends the context if its parent has ended or its deadline has passed, and
// reports whether it has ended. c.mu is held.
func (c *deadlineCtx) pollLocked() bool {
	if c.err != nil {
		return true
	}
	if err := c.parent.Err(); err != nil {
		c.endLocked(err, context.Cause(c.parent))
	} else if !time.Now().Before(c.deadline) {
		c.endLocked(context.DeadlineExceeded, context.DeadlineExceeded)
	}
	return c.err != nil
}

func (c *deadlineCtx) end(err, cause error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.endLocked(err, cause)
}

// endLocked ends the context with err, unless it has ended already. c.mu is held; the
// timer's and the watch's functions run in goroutines of their own, so stopping them
// here cannot wait on c.mu.
func (c *deadlineCtx) endLocked(err, cause error) {
	if c.err != nil {
		return
	}
	c.err, c.cause = err, cause
	if c.done != nil {
		close(c.done)
	}
	if c.timer != nil {
		c.timer.Stop()
		c.watch()
	}
}

// closedChan is the Done channel of a context that had ended before Done was called.
var closedChan = func() chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}()

func (c *deadlineCtx) String() string { return "actors.deadlineCtx(" + c.deadline.String() + ")" }
