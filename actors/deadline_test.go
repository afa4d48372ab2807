package actors

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// checkEnded fails unless ctx has ended with err and cause, Done included.
func checkEnded(t *testing.T, ctx context.Context, err, cause error) {
	t.Helper()
	if got := ctx.Err(); !errors.Is(got, err) || got != err {
		t.Errorf("Err = %v, want %v", got, err)
	}
	if got := context.Cause(ctx); got != cause {
		t.Errorf("Cause = %v, want %v", got, cause)
	}
	if !isClosed(ctx.Done()) {
		t.Error("Done is open after the context ended")
	}
}

// checkLive fails unless ctx has not ended.
func checkLive(t *testing.T, ctx context.Context) {
	t.Helper()
	if err := ctx.Err(); err != nil {
		t.Errorf("Err = %v before the end", err)
	}
	if cause := context.Cause(ctx); cause != nil {
		t.Errorf("Cause = %v before the end", cause)
	}
}

// checkStopped fails unless the timer and the watch on the parent armed by Done are
// stopped (nothing is left to fire).
func checkStopped(t *testing.T, c *deadlineCtx) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.timer != nil && c.timer.Stop() {
		t.Error("the deadline timer was still armed")
	}
	if c.watch != nil && c.watch() {
		t.Error("the watch on the parent was still armed")
	}
}

func TestDeadlineDoneClosesAtDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := withDeadline(context.Background(), time.Now().Add(time.Second))
		if d, ok := c.Deadline(); !ok || !d.Equal(time.Now().Add(time.Second)) {
			t.Errorf("Deadline = %v, %v", d, ok)
		}
		done := c.Done()
		time.Sleep(time.Second - time.Nanosecond)
		synctest.Wait()
		if isClosed(done) {
			t.Fatal("Done closed before the deadline")
		}
		checkLive(t, c)
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		if !isClosed(done) {
			t.Fatal("Done still open at the deadline")
		}
		checkEnded(t, c, context.DeadlineExceeded, context.DeadlineExceeded)
		c.release() // ended already: the error stays
		checkEnded(t, c, context.DeadlineExceeded, context.DeadlineExceeded)
		checkStopped(t, c)
	})
}

func TestDeadlineErrWithoutDone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := withDeadline(context.Background(), time.Now().Add(time.Second))
		time.Sleep(time.Second)
		// Nothing waited on Done: the clock alone ends the context, and Done called
		// afterwards is closed.
		checkEnded(t, c, context.DeadlineExceeded, context.DeadlineExceeded)
		if c.timer != nil {
			t.Error("a timer was armed without Done")
		}
	})
}

func TestDeadlineParentCancelPropagates(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cause := errors.New("the actor stopped")
		for _, wait := range []bool{true, false} {
			parent, cancel := context.WithCancelCause(context.Background())
			c := withDeadline(parent, time.Now().Add(time.Hour))
			var done <-chan struct{}
			if wait {
				done = c.Done()
			}
			checkLive(t, c)
			cancel(cause)
			synctest.Wait()
			if wait && !isClosed(done) {
				t.Fatal("Done still open after the parent ended")
			}
			checkEnded(t, c, context.Canceled, cause)
			checkStopped(t, c)
		}
	})
}

func TestDeadlineParentEndedBeforeDone(t *testing.T) {
	parent, cancel := context.WithCancel(context.Background())
	cancel()
	c := withDeadline(parent, time.Now().Add(time.Hour))
	if !isClosed(c.Done()) {
		t.Fatal("Done open under an ended parent")
	}
	checkEnded(t, c, context.Canceled, context.Canceled)
}

func TestDeadlineRelease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		parent, cancel := context.WithCancel(context.Background())
		defer cancel()
		for _, wait := range []bool{true, false} {
			c := withDeadline(parent, time.Now().Add(time.Second))
			var done <-chan struct{}
			if wait {
				done = c.Done()
			}
			c.release()
			if wait && !isClosed(done) {
				t.Fatal("Done still open after release")
			}
			checkEnded(t, c, context.Canceled, context.Canceled)
			checkStopped(t, c)
			// Past the deadline the released context keeps its error.
			time.Sleep(2 * time.Second)
			checkEnded(t, c, context.Canceled, context.Canceled)
		}
		if parent.Err() != nil {
			t.Error("release ended the parent")
		}
	})
}

func TestDeadlineParentDeadlineFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		parent, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		c := withDeadline(parent, time.Now().Add(time.Hour))
		if d, _ := c.Deadline(); !d.Equal(time.Now().Add(time.Second)) {
			t.Errorf("Deadline = %v, want the parent's", d)
		}
		done := c.Done()
		time.Sleep(time.Second)
		synctest.Wait()
		if !isClosed(done) {
			t.Fatal("Done still open at the parent's deadline")
		}
		checkEnded(t, c, context.DeadlineExceeded, context.DeadlineExceeded)
	})
}

func TestDeadlineDerivedContexts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := withDeadline(context.Background(), time.Now().Add(time.Second))
		d, cancel := context.WithCancel(c)
		defer cancel()
		e, cancelE := context.WithTimeout(c, time.Hour)
		defer cancelE()
		if dl, _ := e.Deadline(); !dl.Equal(time.Now().Add(time.Second)) {
			t.Errorf("derived Deadline = %v, want ours", dl)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		checkEnded(t, d, context.DeadlineExceeded, context.DeadlineExceeded)
		checkEnded(t, e, context.DeadlineExceeded, context.DeadlineExceeded)

		// A derived context ends with a release too.
		c = withDeadline(context.Background(), time.Now().Add(time.Second))
		d, cancel = context.WithCancel(c)
		defer cancel()
		c.release()
		synctest.Wait()
		checkEnded(t, d, context.Canceled, context.Canceled)
	})
}

func TestDeadlineValue(t *testing.T) {
	type key struct{}
	parent := context.WithValue(context.Background(), key{}, "v")
	c := withDeadline(parent, time.Now().Add(time.Hour))
	if got := c.Value(key{}); got != "v" {
		t.Errorf("Value = %v before the end", got)
	}
	c.release()
	if got := c.Value(key{}); got != "v" {
		t.Errorf("Value = %v after the end", got)
	}
}

func TestDeadlineAllocs(t *testing.T) {
	parent, cancel := context.WithCancel(context.Background())
	defer cancel()
	d := time.Now().Add(time.Hour)
	n := testing.AllocsPerRun(100, func() {
		c := withDeadline(parent, d)
		_ = c.Err()
		c.release()
	})
	if n > 1 {
		t.Errorf("%v allocations per call without Done, want 1", n)
	}
}
