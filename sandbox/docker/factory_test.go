package docker

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/sandbox"
	"github.com/swerl/swerl/sandbox/sandboxtest"
)

func TestNewFailsClearly(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	res := sandboxtest.Resolver{}
	_, err := New(context.Background(), Config{Resolver: res, Host: "unix:///nonexistent/docker.sock"})
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/docker.sock") || !strings.Contains(err.Error(), "start dockerd, or use --sandbox local") {
		t.Errorf("New without a daemon: %v", err)
	}
	_, err = New(context.Background(), Config{Resolver: res, BaseImage: "swerl-no-such-base:latest"})
	if !errors.Is(err, ErrImageNotFound) || !strings.Contains(err.Error(), "image not found: swerl-no-such-base:latest: build it with scripts/build-base-image.sh") {
		t.Errorf("New without the base image: %v", err)
	}
	if _, err := New(context.Background(), Config{}); err == nil {
		t.Errorf("New without a resolver succeeded")
	}
}

func TestStartWithAMissingImageFailsClearly(t *testing.T) {
	t.Parallel()
	f := newFactory(t, func(c *Config) {
		c.Resolver = sandboxtest.Resolver{Workspace: sandbox.Workspace{Image: "swerl-no-such-task-image:v1", BaseCommit: "HEAD"}}
	})
	_, err := f.Start(context.Background(), sandboxtest.Spec("missing-image"))
	if !errors.Is(err, ErrImageNotFound) || !strings.Contains(err.Error(), "swerl-no-such-task-image:v1") {
		t.Errorf("err = %v, want ErrImageNotFound naming the image", err)
	}
}

func TestTaskImageRunsInItsOwnRoot(t *testing.T) {
	t.Parallel()
	// The base image stands in for a task image: its repository is what the image
	// holds at ImageRoot (here /etc, not a git repository).
	f := newFactory(t, func(c *Config) {
		c.Resolver = sandboxtest.Resolver{Workspace: sandbox.Workspace{Image: DefaultBaseImage, ImageRoot: "/etc", BaseCommit: "HEAD"}}
	})
	s := start(t, f, "image")
	if s.Root() != "/etc" {
		t.Errorf("root %q", s.Root())
	}
	if got := mustRun(t, s, "pwd; test -e /testbed/a.txt || echo no-checkout"); got != "/etc\nno-checkout\n" {
		t.Errorf("got %q", got)
	}
	if _, err := s.Diff(context.Background()); !errors.Is(err, sandbox.ErrNoRepository) {
		t.Errorf("Diff outside a repository: %v", err)
	}
}

func TestLabels(t *testing.T) {
	t.Parallel()
	f := newFactory(t, nil)
	spec := sandbox.Spec{Task: messages.TaskRef{ID: "labels"}, Ref: messages.EpisodeRef{Iteration: 3, Group: 12, Sample: 4, TaskID: "labels"},
		Attempt: 2, Purpose: sandbox.ForGrade}
	sb, err := f.Start(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close(context.Background())
	r, err := testClient(t).ContainerInspect(context.Background(), sb.(*Sandbox).ID(), client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	want := map[string]string{LabelManaged: "true", LabelRun: f.RunID(), LabelEpisode: "k3/g12/s4", LabelAttempt: "2",
		LabelPurpose: "grade", LabelTask: "labels", LabelHost: host, LabelPID: strconv.Itoa(os.Getpid())}
	for k, v := range want {
		if got := r.Container.Config.Labels[k]; got != v {
			t.Errorf("label %s = %q, want %q", k, got, v)
		}
	}
	hc := r.Container.HostConfig
	if hc.NetworkMode != "none" || hc.Init == nil || !*hc.Init || hc.PidsLimit == nil || *hc.PidsLimit != 512 ||
		hc.Memory != 2<<30 || hc.NanoCPUs != 1e9 || len(hc.SecurityOpt) != 1 || hc.SecurityOpt[0] != "no-new-privileges" {
		t.Errorf("host config: network %s init %v pids %v memory %d cpus %d security %v",
			hc.NetworkMode, hc.Init, hc.PidsLimit, hc.Memory, hc.NanoCPUs, hc.SecurityOpt)
	}
}

// createLabelled creates (without starting) a container that looks like one of a
// run of process pid on this host.
func createLabelled(t *testing.T, cli *client.Client, run string, pid int) string {
	t.Helper()
	host, _ := os.Hostname()
	r, err := cli.ContainerCreate(context.Background(), client.ContainerCreateOptions{
		Config: &container.Config{Image: DefaultBaseImage, Entrypoint: []string{"sleep", "infinity"}, Labels: map[string]string{
			LabelManaged: "true", LabelRun: run, LabelHost: host, LabelPID: strconv.Itoa(pid)}},
		HostConfig: &container.HostConfig{NetworkMode: "none"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.ContainerRemove(context.Background(), r.ID, client.ContainerRemoveOptions{Force: true}) })
	return r.ID
}

// deadPID returns the pid of a process that has exited.
func deadPID(t *testing.T) int {
	t.Helper()
	for range 10 {
		cmd := exec.Command("true")
		if err := cmd.Run(); err != nil {
			t.Fatal(err)
		}
		if pid := cmd.Process.Pid; errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
			return pid
		}
	}
	t.Fatal("no dead pid found")
	return 0
}

func TestSweepRemovesOnlyContainersOfDeadProcesses(t *testing.T) {
	t.Parallel()
	f := newFactory(t, nil)
	cli := testClient(t)
	run := f.RunID() + "-crashed"
	dead := createLabelled(t, cli, run, deadPID(t))
	live := createLabelled(t, cli, run, os.Getppid())
	self := createLabelled(t, cli, run, os.Getpid())
	n, err := f.Sweep(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// Other tests of this package (and of others) sweep the same host at the
	// same time, so the dead container may be gone by another's hand: the
	// count is not checked, only what is left.
	if exists(t, cli, dead) {
		t.Errorf("Sweep removed %d, dead run's container still there", n)
	}
	if !exists(t, cli, live) || !exists(t, cli, self) {
		t.Errorf("Sweep removed a live run's container (parent %v, self %v)", exists(t, cli, live), exists(t, cli, self))
	}
	// New sweeps too.
	dead2 := createLabelled(t, cli, run, deadPID(t))
	f2, err := New(context.Background(), Config{Resolver: sandboxtest.Resolver{}, RunID: run})
	if err != nil {
		t.Fatal(err)
	}
	f2.Close(context.Background())
	if exists(t, cli, dead2) || !exists(t, cli, live) {
		t.Errorf("New's sweep: dead still there %v, live gone %v", exists(t, cli, dead2), !exists(t, cli, live))
	}
}

func TestStartCancelledMidwayLeavesNothing(t *testing.T) {
	t.Parallel()
	// A large file makes the copy take a while.
	dir, commit := sandboxtest.Repo(t, map[string]string{"big.bin": strings.Repeat("0123456789abcdef", 2<<20)})
	f := newFactory(t, func(c *Config) {
		c.Resolver = sandboxtest.Resolver{Workspace: sandbox.Workspace{Checkout: dir, BaseCommit: commit}}
	})
	// Cancelled right after the create, deterministically.
	ctx, cancel := context.WithCancel(context.Background())
	var created string
	f.testHookCreated = func(id string) { created = id; cancel() }
	if _, err := f.Start(ctx, sandboxtest.Spec("cancel")); !errors.Is(err, context.Canceled) {
		t.Errorf("Start cancelled after create: err = %v", err)
	}
	if created == "" || exists(t, testClient(t), created) {
		t.Errorf("container %q left by a cancelled Start", created)
	}
	f.testHookCreated = nil
	// Cancelled at assorted moments: create, copy, start, probe.
	for _, after := range []time.Duration{0, time.Millisecond, 10 * time.Millisecond, 30 * time.Millisecond,
		60 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond} {
		ctx, cancel := context.WithTimeout(context.Background(), after)
		sb, err := f.Start(ctx, sandboxtest.Spec("cancel"))
		cancel()
		if err == nil {
			sb.Close(context.Background()) // too late to cancel
		} else if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Start cancelled after %s: err = %v", after, err)
		}
	}
	// The factory's cleanup checks that nothing of the run is left.
}

func TestCloseRacingStartsLeavesNothing(t *testing.T) {
	t.Parallel()
	f := newFactory(t, func(c *Config) { c.MaxStarting = 2 })
	first := make(chan struct{})
	var once sync.Once
	f.testHookCreated = func(string) { once.Do(func() { close(first) }) }
	var wg sync.WaitGroup
	sandboxes := make(chan sandbox.Sandbox, 6)
	for range 6 {
		wg.Go(func() {
			sb, err := f.Start(context.Background(), sandboxtest.Spec("race"))
			if err == nil {
				sandboxes <- sb
			} else if !errors.Is(err, context.Canceled) && !errors.Is(err, ErrClosed) {
				t.Errorf("Start racing Close: %v", err)
			}
		})
	}
	<-first // Close while Starts are under way (any interleaving after that is valid)
	if err := f.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(sandboxes)
	for sb := range sandboxes {
		sb.Close(context.Background())
	}
	if _, err := f.Start(context.Background(), sandboxtest.Spec("late")); !errors.Is(err, ErrClosed) {
		t.Errorf("Start after Close: err = %v, want ErrClosed", err)
	}
}

func TestConcurrentSandboxes(t *testing.T) {
	t.Parallel()
	f := newFactory(t, func(c *Config) { c.MaxStarting, c.MaxRunning = 2, 3 })
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Go(func() {
			spec := sandboxtest.Spec("many")
			spec.Ref.Sample = i
			sb, err := f.Start(context.Background(), spec)
			if err != nil {
				t.Error(err)
				return
			}
			defer sb.Close(context.Background())
			out, err := sb.Exec(context.Background(), "echo "+strconv.Itoa(i)+" >> a.txt; cat a.txt")
			if err != nil || out.Text != "one\ntwo\n"+strconv.Itoa(i)+"\n" {
				t.Errorf("sandbox %d: %q %v", i, out.Text, err)
			}
		})
	}
	wg.Wait()
}

func TestWarmPool(t *testing.T) {
	t.Parallel()
	f := newFactory(t, func(c *Config) {
		c.WarmPool = 1
		c.Logger = hclog.New(&hclog.LoggerOptions{Output: tWriter{t}, Level: hclog.Debug})
	})
	cli := testClient(t)
	// Bounds the waits for the pool to refill (container starts): far beyond what a
	// slow, loaded machine needs.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	key := poolKey{image: DefaultBaseImage, task: "warm"}
	peek := func() string {
		if err := f.pool.waitReady(ctx, key, 1); err != nil {
			t.Fatalf("pool never refilled: %v", err)
		}
		f.pool.mu.Lock()
		defer f.pool.mu.Unlock()
		return f.pool.ready[key][0].id
	}

	a := start(t, f, "warm")
	warm := peek()
	r, err := cli.ContainerInspect(ctx, warm, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if l := r.Container.Config.Labels; l[LabelPurpose] != PurposePool || l[LabelRun] != f.RunID() || l[LabelPID] != strconv.Itoa(os.Getpid()) {
		t.Errorf("warm container labels: %v", l)
	}
	b := start(t, f, "warm")
	if b.ID() != warm {
		t.Errorf("second Start got %s, not the warm %s", short(b.ID()), short(warm))
	}
	if !strings.Contains(b.Name(), "-k0-g0-s0-a1") {
		t.Errorf("taken warm container not renamed after its episode: %s", b.Name())
	}
	if got := mustRun(t, b, "pwd; cat a.txt"); got != "/testbed\none\ntwo\n" {
		t.Errorf("warm sandbox: %q", got)
	}
	if a.ID() == b.ID() {
		t.Fatal("two sandboxes share a container")
	}

	// Killed behind the pool's back: detected, discarded, replaced.
	dead := peek()
	if _, err := cli.ContainerKill(ctx, dead, client.ContainerKillOptions{Signal: "KILL"}); err != nil {
		t.Fatal(err)
	}
	c := start(t, f, "warm")
	if c.ID() == dead {
		t.Fatalf("Start handed out the dead warm container")
	}
	if got := mustRun(t, c, "cat a.txt"); got != "one\ntwo\n" {
		t.Errorf("replacement sandbox: %q", got)
	}
	if next := peek(); next == dead {
		t.Errorf("the pool kept its dead container")
	}
	// The factory's cleanup checks that Close removed the warm containers.
}

func TestWarmPoolGivesWayWhenFull(t *testing.T) {
	t.Parallel()
	f := newFactory(t, func(c *Config) { c.WarmPool, c.MaxRunning = 1, 2 })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start(t, f, "x")
	if err := f.pool.waitReady(ctx, poolKey{image: DefaultBaseImage, task: "x"}, 1); err != nil {
		t.Fatal(err)
	}
	// Both slots are taken (one sandbox, one warm): a sandbox of another task evicts
	// the warm container rather than waiting for ever (the bound is far beyond a
	// container start on a slow, loaded machine).
	sctx, scancel := context.WithTimeout(ctx, sandboxtest.WaitLimit)
	defer scancel()
	sb, err := f.Start(sctx, sandboxtest.Spec("y"))
	if err != nil {
		t.Fatalf("Start with the slots held by the pool: %v", err)
	}
	sb.Close(context.Background())
}
