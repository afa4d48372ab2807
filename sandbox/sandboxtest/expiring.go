package sandboxtest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/swerl/swerl/sandbox"
)

// WaitLimit bounds a test's waits for a command to get under way and for one to give
// up after its deadline: far beyond what a slow, loaded machine needs, far below the
// 300 s that the commands of such tests hang for.
const WaitLimit = 2 * time.Minute

// Expiring is a context whose deadline the test fires by hand with Expire: it ends
// with context.DeadlineExceeded, as a timeout does, but at the moment the test picks
// (once the command is seen under way), not at one a clock picks, so what the test
// checks does not depend on how fast the machine runs the command.
type Expiring struct {
	context.Context
	done chan struct{}
	once sync.Once
}

// NewExpiring returns a context that has not expired yet.
func NewExpiring() *Expiring {
	return &Expiring{Context: context.Background(), done: make(chan struct{})}
}

// Done is closed by Expire.
func (c *Expiring) Done() <-chan struct{} { return c.done }

// Err is context.DeadlineExceeded once Expire was called, nil before.
func (c *Expiring) Err() error {
	select {
	case <-c.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

// Expire makes the deadline pass; later calls do nothing.
func (c *Expiring) Expire() { c.once.Do(func() { close(c.done) }) }

// Execer runs a command: a sandbox.Sandbox or a scaffold session.
type Execer interface {
	Exec(ctx context.Context, command string) (sandbox.Output, error)
}

// ExecExpiring runs command with a deadline that passes once ready (polled every
// 20 ms) reports the command under way, and returns Exec's result and how long Exec
// took to return after the deadline. It fails the test if the command returns before
// the deadline or does not get under way within WaitLimit.
func ExecExpiring(t testing.TB, s Execer, command string, ready func() bool) (sandbox.Output, time.Duration, error) {
	t.Helper()
	type result struct {
		out sandbox.Output
		err error
	}
	ctx := NewExpiring()
	done := make(chan result, 1)
	go func() {
		out, err := s.Exec(ctx, command)
		done <- result{out, err}
	}()
	returned := false
	defer func() {
		if !returned { // the test failed while waiting: end the command first
			ctx.Expire()
			<-done
		}
	}()
	for limit := time.Now().Add(WaitLimit); !ready(); {
		select {
		case r := <-done:
			returned = true
			t.Fatalf("the command returned before the deadline: %q exit %d, %v", r.out.Text, r.out.ExitCode, r.err)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(limit) {
			t.Fatalf("the command did not get under way in %s", WaitLimit)
		}
	}
	ctx.Expire()
	expired := time.Now()
	r := <-done
	returned = true
	return r.out, time.Since(expired), r.err
}
