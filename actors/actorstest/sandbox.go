package actorstest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync/atomic"
	"time"

	"github.com/swerl/swerl/sandbox"
)

// SandboxKnobs are the faults of one fake sandbox.
type SandboxKnobs struct {
	StartLatency time.Duration
	Latency      time.Duration // per command
	StartErr     error         // Start fails with it
	FailAtExec   int           // the n-th command (1-based) crashes the sandbox; 0 never
	HangAtExec   int           // the n-th command hangs until its deadline; 0 never
	ExitCode     int           // exit code of every command
}

// FakeSandboxes is a sandbox.Factory of in-memory sandboxes. Knobs applies to every
// sandbox unless PerSandbox is set, which picks knobs per spec (fault plans).
type FakeSandboxes struct {
	Knobs      SandboxKnobs
	PerSandbox func(spec sandbox.Spec) SandboxKnobs

	started, closed, live, doubleClose atomic.Int64
}

// Started, Closed and Live count sandboxes; DoubleClosed counts Close calls on a
// sandbox already closed (a bug in the caller).
func (f *FakeSandboxes) Started() int64      { return f.started.Load() }
func (f *FakeSandboxes) Closed() int64       { return f.closed.Load() }
func (f *FakeSandboxes) Live() int64         { return f.live.Load() }
func (f *FakeSandboxes) DoubleClosed() int64 { return f.doubleClose.Load() }

// Start implements sandbox.Factory.
func (f *FakeSandboxes) Start(ctx context.Context, spec sandbox.Spec) (sandbox.Sandbox, error) {
	k := f.Knobs
	if f.PerSandbox != nil {
		k = f.PerSandbox(spec)
	}
	if err := Sleep(ctx, k.StartLatency); err != nil {
		return nil, err
	}
	if k.StartErr != nil {
		return nil, k.StartErr
	}
	f.started.Add(1)
	f.live.Add(1)
	return &fakeSandbox{f: f, k: k, who: spec.Ref.String()}, nil
}

type fakeSandbox struct {
	f      *FakeSandboxes
	k      SandboxKnobs
	who    string
	execs  int
	fixed  bool
	dead   bool
	closed atomic.Bool
}

// ErrCrashed is what a fake sandbox returns when FailAtExec strikes.
var ErrCrashed = errors.New("fake sandbox crashed (injected)")

func (s *fakeSandbox) Exec(ctx context.Context, command string) (sandbox.Output, error) {
	if s.dead {
		return sandbox.Output{}, sandbox.Died(ErrCrashed)
	}
	s.execs++
	if s.execs == s.k.FailAtExec {
		s.dead = true
		return sandbox.Output{}, sandbox.Died(ErrCrashed)
	}
	if s.execs == s.k.HangAtExec {
		<-ctx.Done()
		return sandbox.Output{Text: "(partial output)"}, ctx.Err()
	}
	if err := Sleep(ctx, s.k.Latency); err != nil {
		return sandbox.Output{}, err
	}
	if strings.HasPrefix(command, "fix") {
		s.fixed = true
	}
	return sandbox.Output{Text: "ok: " + command, ExitCode: s.k.ExitCode}, nil
}

func (s *fakeSandbox) Root() string { return "/repo" }

// ReadFile and WriteFile are not used by the engine tests; the fake has no files.
func (s *fakeSandbox) ReadFile(context.Context, string, int64) ([]byte, error) {
	return nil, fs.ErrNotExist
}

func (s *fakeSandbox) WriteFile(context.Context, string, []byte) error {
	return fs.ErrPermission
}

func (s *fakeSandbox) Diff(ctx context.Context) (string, error) {
	if s.dead {
		return "", sandbox.Died(ErrCrashed)
	}
	if !s.fixed {
		return "", nil
	}
	return fmt.Sprintf("--- a/bug.py\n+++ b/bug.py\n@@ -1 +1 @@\n-bug\n+%s %s\n", FixMarker, s.who), nil
}

func (s *fakeSandbox) Close(context.Context) error {
	if s.closed.Swap(true) {
		s.f.doubleClose.Add(1)
		return errors.New("fake sandbox closed twice")
	}
	s.f.closed.Add(1)
	s.f.live.Add(-1)
	return nil
}

// FixMarker is the line the fake grader looks for in a patch.
const FixMarker = "fixed"

func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// CrashFirstSandboxes is a factory whose every episode's first sandbox crashes at its
// n-th command, so that the episode retries in a fresh one, which works. Every command
// takes latency.
func CrashFirstSandboxes(latency time.Duration, n int) *FakeSandboxes {
	return &FakeSandboxes{PerSandbox: func(s sandbox.Spec) SandboxKnobs {
		k := SandboxKnobs{Latency: latency}
		if s.Attempt == 1 {
			k.FailAtExec = n
		}
		return k
	}}
}
