package actors

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/sandbox"
)

// slowSandboxes starts a sandbox in 10 s and counts starts and closes.
type slowSandboxes struct{ started, closed atomic.Int64 }

type slowSandbox struct {
	sandbox.Sandbox
	f *slowSandboxes
}

func (s slowSandbox) Close(context.Context) error { s.f.closed.Add(1); return nil }

func (f *slowSandboxes) Start(ctx context.Context, spec sandbox.Spec) (sandbox.Sandbox, error) {
	select {
	case <-time.After(10 * time.Second):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	f.started.Add(1)
	return slowSandbox{f: f}, nil
}

func prepSpec(k, g int) sandbox.Spec {
	return sandbox.Spec{Ref: messages.EpisodeRef{Iteration: k, PolicyVersion: k, Group: g, TaskID: "t"},
		Task: messages.TaskRef{ID: "t"}, Attempt: 1}
}

// A prepared sandbox is handed to its first attempt (waiting for it if need be), a
// later attempt starts afresh, and every sandbox nobody takes is closed: superseded,
// given up by a taker whose context ended, or left when the preparer closes.
func TestPreparer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &slowSandboxes{}
		rt := NewRuntime(nil, nil)
		p := newPreparer(rt, f, SandboxConfig{StartTimeout: time.Minute, CloseTimeout: time.Minute})
		p.prepare(1, []sandbox.Spec{prepSpec(1, 0), prepSpec(1, 1), prepSpec(1, 2)})

		time.Sleep(4 * time.Second)
		begin := time.Now()
		sb, err := p.Start(context.Background(), prepSpec(1, 0)) // still starting: waits 6 s
		if err != nil || sb == nil || time.Since(begin) != 6*time.Second {
			t.Fatalf("take: %v, %v after %v", sb, err, time.Since(begin))
		}
		again := prepSpec(1, 0)
		again.Attempt = 2
		if _, err := p.Start(context.Background(), again); err != nil || f.started.Load() != 4 {
			t.Fatalf("second attempt: %v, %d starts", err, f.started.Load())
		}

		ctx, cancel := context.WithCancel(context.Background())
		p.prepare(2, []sandbox.Spec{prepSpec(2, 0)}) // supersedes iteration 1: g1 and g2 are closed
		go func() { time.Sleep(time.Second); cancel() }()
		if _, err := p.Start(ctx, prepSpec(2, 0)); !errors.Is(err, context.Canceled) {
			t.Fatalf("take with a cancelled context: %v", err)
		}
		p.prepare(3, []sandbox.Spec{prepSpec(3, 0)})
		time.Sleep(time.Minute)
		synctest.Wait()
		if got := f.closed.Load(); got != 3 {
			t.Errorf("%d unused sandboxes closed, want 3 (two superseded, one given up)", got)
		}
		// Iteration 3's sandbox has waited a minute; past maxAge it is replaced.
		p.maxAge = 30 * time.Second
		p.prepare(3, []sandbox.Spec{prepSpec(3, 1)})
		time.Sleep(15 * time.Second)
		begin = time.Now()
		if _, err := p.Start(context.Background(), prepSpec(3, 0)); err != nil || time.Since(begin) != 10*time.Second {
			t.Fatalf("take of a stale prepared sandbox: %v after %v, want a fresh start (10 s)", err, time.Since(begin))
		}
		if _, err := p.Start(context.Background(), prepSpec(3, 1)); err != nil || time.Since(begin) != 10*time.Second {
			t.Fatalf("take of a fresh prepared sandbox: %v after %v, want it at once", err, time.Since(begin))
		}
		synctest.Wait()
		if f.closed.Load() != 4 {
			t.Errorf("the stale prepared sandbox was not closed: %d closed, want 4", f.closed.Load())
		}
		p.close()
		rt.Wait()
		if f.closed.Load() != 4 || f.started.Load() != 8 {
			t.Errorf("after close: %d started, %d closed; want 8 started, 4 closed (4 taken)", f.started.Load(), f.closed.Load())
		}
	})
}
