package local

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/swerl/swerl/sandbox"
	"github.com/swerl/swerl/sandbox/sandboxtest"
)

func newSandbox(t *testing.T) (*Factory, *Sandbox) {
	t.Helper()
	repo, commit := sandboxtest.Repo(t, map[string]string{"a.txt": "one\ntwo\n", "pkg/b.py": "x = 1\n"})
	f, err := New(Config{Resolver: sandboxtest.Resolver{Workspace: sandbox.Workspace{Checkout: repo, BaseCommit: commit}},
		Dir: t.TempDir(), OutputLimit: 4096})
	if err != nil {
		t.Fatal(err)
	}
	sb, err := f.Start(context.Background(), sandboxtest.Spec("t1"))
	if err != nil {
		t.Fatal(err)
	}
	s := sb.(*Sandbox)
	t.Cleanup(func() {
		if _, err := os.Stat(s.dir); err == nil {
			s.Close(context.Background())
		}
	})
	return f, s
}

func TestExecRunsInRepoWithScrubbedEnv(t *testing.T) {
	t.Setenv("SWERL_SECRET_TOKEN", "hunter2")
	_, s := newSandbox(t)
	ctx := context.Background()
	out, err := s.Exec(ctx, "pwd; cat a.txt; env; echo err >&2; exit 7")
	if err != nil {
		t.Fatal(err)
	}
	if out.ExitCode != 7 {
		t.Errorf("exit code %d, want 7", out.ExitCode)
	}
	for _, want := range []string{s.Root() + "\n", "one\ntwo\n", "err\n", "HOME=" + filepath.Join(s.dir, "home")} {
		if !strings.Contains(out.Text, want) {
			t.Errorf("output lacks %q:\n%s", want, out.Text)
		}
	}
	if strings.Contains(out.Text, "hunter2") {
		t.Errorf("the host environment leaked into the sandbox")
	}
}

func TestTimeoutKillsTheCommandAndItsChildren(t *testing.T) {
	_, s := newSandbox(t)
	marker := "swerl-local-timeout-" + RandomID()
	child := "bash -c sleep 300; : " + marker
	// The deadline passes once "started" is printed and the child runs, however long
	// the machine took to get there.
	out, took, err := sandboxtest.ExecExpiring(t, s, "echo started; bash -c 'sleep 300; : "+marker+"' & sleep 300 # "+marker, func() bool {
		for _, p := range sandboxtest.Processes(t, marker) {
			if strings.HasSuffix(p, " "+child) {
				return true
			}
		}
		return false
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	if took > sandboxtest.WaitLimit {
		t.Fatalf("took %s after the deadline to give up", took)
	}
	if !strings.Contains(out.Text, "started") {
		t.Errorf("partial output lost: %q", out.Text)
	}
	if ps := sandboxtest.Processes(t, marker); len(ps) > 0 {
		t.Fatalf("processes survived the timeout: %v", ps)
	}
	if out, err := s.Exec(context.Background(), "echo still here"); err != nil || !strings.Contains(out.Text, "still here") {
		t.Fatalf("sandbox unusable after a timeout: %v %q", err, out.Text)
	}
}

func TestBackgroundChildrenDieWithTheirCommand(t *testing.T) {
	_, s := newSandbox(t)
	marker := "swerl-local-bg-" + RandomID()
	begin := time.Now()
	if _, err := s.Exec(context.Background(), "(sleep 300; : "+marker+") & echo left it"); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(begin); d > sandboxtest.WaitLimit {
		t.Fatalf("a background child held the command for %s", d)
	}
	if ps := sandboxtest.Processes(t, marker); len(ps) > 0 {
		t.Fatalf("background child survived: %v", ps)
	}
}

func TestHugeOutputIsCappedWhileRead(t *testing.T) {
	_, s := newSandbox(t)
	out, err := s.Exec(context.Background(), "head -c 100000000 /dev/zero | tr '\\0' x; echo; echo END")
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Text) > 4096+200 {
		t.Fatalf("kept %d bytes, limit 4096", len(out.Text))
	}
	if !strings.Contains(out.Text, "bytes of output dropped") || !strings.HasSuffix(out.Text, "END\n") {
		t.Fatalf("no truncation notice or tail lost: %q", out.Text[len(out.Text)-100:])
	}
}

func TestFiles(t *testing.T) {
	_, s := newSandbox(t)
	ctx := context.Background()
	if err := s.WriteFile(ctx, "new/dir/c.txt", []byte("hello\n")); err != nil {
		t.Fatal(err)
	}
	got, err := s.ReadFile(ctx, filepath.Join(s.Root(), "new/dir/c.txt"), 100)
	if err != nil || string(got) != "hello\n" {
		t.Fatalf("read back %q, %v", got, err)
	}
	if _, err := s.ReadFile(ctx, "new/dir/c.txt", 3); !errors.Is(err, sandbox.ErrTooLarge) {
		t.Fatalf("limit: err = %v", err)
	}
	if _, err := s.ReadFile(ctx, "missing.txt", 100); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing: err = %v", err)
	}
}

func TestDiff(t *testing.T) {
	_, s := newSandbox(t)
	ctx := context.Background()
	if d, err := s.Diff(ctx); err != nil || d != "" {
		t.Fatalf("untouched repo: diff %q, %v", d, err)
	}
	s.Exec(ctx, "echo three >> a.txt && echo new > n.txt && git add -A && git -c user.name=a -c user.email=a@b commit -qm agent && echo more > m.txt")
	d, err := s.Diff(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"+three", "b/n.txt", "b/m.txt"} {
		if !strings.Contains(d, want) {
			t.Errorf("diff lacks %q (commits and new files count):\n%s", want, d)
		}
	}
	s.Exec(ctx, "rm -rf .git")
	if _, err := s.Diff(ctx); !errors.Is(err, sandbox.ErrNoRepository) {
		t.Fatalf("after rm -rf .git: err = %v, want ErrNoRepository", err)
	}
	s.Exec(ctx, "cd .. && rm -rf repo")
	if _, err := s.Diff(ctx); !errors.Is(err, sandbox.ErrNoRepository) {
		t.Fatalf("after deleting the repo: err = %v, want ErrNoRepository", err)
	}
	if out, err := s.Exec(ctx, "echo alive"); err != nil || !strings.Contains(out.Text, "alive") {
		t.Fatalf("sandbox should still run commands: %v", err)
	}
}

func TestCloseAndSweepLeaveNothing(t *testing.T) {
	f, s := newSandbox(t)
	marker := "swerl-local-close-" + RandomID()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		// Not "sleep 300 # marker", which bash replaces with sleep, marker and all.
		s.Exec(ctx, "sleep 300; : "+marker)
		close(done)
	}()
	// Close once the command runs, however long it took to start.
	for limit := time.Now().Add(sandboxtest.WaitLimit); len(sandboxtest.Processes(t, marker)) == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(limit) {
			cancel()
			<-done
			t.Fatalf("the command did not start in %s", sandboxtest.WaitLimit)
		}
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	<-done
	cancel()
	if _, err := os.Stat(s.dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("sandbox directory left behind: %v", err)
	}
	if ps := sandboxtest.Processes(t, marker); len(ps) > 0 {
		t.Fatalf("process survived Close: %v", ps)
	}
	// A crashed run's sandbox: an owner pid that is not alive.
	dead := filepath.Join(f.cfg.Dir, dirPrefix+"crashed")
	os.MkdirAll(filepath.Join(dead, "repo"), 0o755)
	os.WriteFile(filepath.Join(dead, "owner.pid"), []byte("999999999"), 0o644)
	live := filepath.Join(f.cfg.Dir, dirPrefix+"live")
	os.MkdirAll(live, 0o755)
	os.WriteFile(filepath.Join(live, "owner.pid"), []byte("1"), 0o644)
	starting := filepath.Join(f.cfg.Dir, dirPrefix+"starting") // no owner.pid yet
	os.MkdirAll(starting, 0o755)
	if n := f.Sweep(); n != 1 {
		t.Fatalf("swept %d, want 1", n)
	}
	if _, err := os.Stat(dead); err == nil {
		t.Fatal("crashed run's sandbox not swept")
	}
	if _, err := os.Stat(live); err != nil {
		t.Fatal("a live run's sandbox was swept")
	}
	if _, err := os.Stat(starting); err != nil {
		t.Fatal("a sandbox still starting (no owner.pid yet) was swept")
	}
}
