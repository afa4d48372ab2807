package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/swerl/swerl/policy/openai/openaitest"
	"github.com/swerl/swerl/sandbox/docker"
	"github.com/swerl/swerl/sandbox/sandboxtest"
)

// dockerClient returns a client for the test's own checks, closed at its end.
func dockerClient(t *testing.T) *client.Client {
	t.Helper()
	cli, err := client.New(client.FromEnv)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// containers lists the containers (any state) carrying every label=value given.
func containers(t *testing.T, cli *client.Client, labels ...string) []string {
	t.Helper()
	r, err := cli.ContainerList(context.Background(), client.ContainerListOptions{All: true,
		Filters: client.Filters{}.Add("label", labels...)})
	if err != nil {
		t.Fatalf("container list: %v", err)
	}
	var ids []string
	for _, c := range r.Items {
		ids = append(ids, c.ID[:12])
	}
	return ids
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

// leftover creates a container labelled as one of run's, by process pid of this
// host, the way a run that died before sandboxes had leases left them: running
// `sleep infinity` with no auto-remove, or created and never started. It is removed
// at the test's end whatever happens.
func leftover(t *testing.T, cli *client.Client, run string, pid int, started bool) string {
	t.Helper()
	host, _ := os.Hostname()
	ctx := context.Background()
	r, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Config: &container.Config{Image: docker.DefaultBaseImage, Entrypoint: []string{"sleep", "infinity"}, Labels: map[string]string{
			docker.LabelManaged: "true", docker.LabelRun: run, docker.LabelHost: host, docker.LabelPID: strconv.Itoa(pid)}},
		HostConfig: &container.HostConfig{NetworkMode: "none"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.ContainerRemove(ctx, r.ID, client.ContainerRemoveOptions{Force: true}) })
	if started {
		if _, err := cli.ContainerStart(ctx, r.ID, client.ContainerStartOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	return r.ID[:12]
}

func TestSandboxSweep(t *testing.T) {
	sandboxtest.RequireDocker(t, docker.DefaultBaseImage)
	cli := dockerClient(t)
	runID := "sweeptest-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	dead := deadPID(t)
	running := leftover(t, cli, runID, dead, true)
	created := leftover(t, cli, runID, dead, false)
	live := leftover(t, cli, runID, os.Getpid(), true)

	var stdout, stderr bytes.Buffer
	if err := runCLI(t, &stdout, &stderr, "sandbox", "sweep"); err != nil {
		t.Fatalf("sandbox sweep: %v\n%s", err, stderr.String())
	}
	// Other packages' tests may sweep the same host at the same time: the count
	// printed is not checked, only what is left.
	if !strings.Contains(stdout.String(), "removed ") {
		t.Errorf("sweep printed %q, want how many it removed", stdout.String())
	}
	left := containers(t, cli, docker.LabelRun+"="+runID)
	if strings.Join(left, " ") != live {
		t.Errorf("after sweep: containers %v left, want only the live run's %s (the dead run's were %s running, %s created)",
			left, live, running, created)
	}

	// --all takes live runs' containers too (limited to this test's run: others
	// run beside it).
	stdout.Reset()
	if err := runCLI(t, &stdout, &stderr, "sandbox", "sweep", "--all", "--run", runID); err != nil {
		t.Fatalf("sandbox sweep --all: %v\n%s", err, stderr.String())
	}
	if got := stdout.String(); !strings.Contains(got, "removed 1 container") {
		t.Errorf("sweep --all printed %q, want 1 removed", got)
	}
	if left := containers(t, cli, docker.LabelRun+"="+runID); len(left) > 0 {
		t.Errorf("after sweep --all: containers %v left", left)
	}
}

func TestSandboxSweepErrors(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := runCLI(t, &stdout, &stderr, "sandbox", "sweep", "--docker-host", "unix:///nonexistent/docker.sock")
	if err == nil || !strings.Contains(err.Error(), "no Docker daemon answers at unix:///nonexistent/docker.sock") {
		t.Errorf("sweep without a daemon: %v", err)
	}
	for _, args := range [][]string{{"sandbox"}, {"sandbox", "sweeep"}, {"sandbox", "sweep", "extra"}} {
		stderr.Reset()
		if err := runCLI(t, &stdout, &stderr, args...); err == nil || !strings.Contains(stderr.String(), "usage: swerl sandbox sweep") {
			t.Errorf("%q: err %v, stderr %q, want an error and the usage", args, err, stderr.String())
		}
	}
	stdout.Reset()
	if err := runCLI(t, &stdout, &stderr, "help"); err != nil || !strings.Contains(stdout.String(), "sandbox sweep") {
		t.Errorf("help does not list sandbox sweep: %v %q", err, stdout.String())
	}
}

// runCLI runs the CLI with args.
func runCLI(t *testing.T, stdout, stderr io.Writer, args ...string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	return run(ctx, args, stdout, stderr)
}

// The acceptance test of the lease: a single-node `swerl rollout` with Docker
// sandboxes is killed with SIGKILL mid-iteration (every episode started, its
// sandbox running, waiting for the policy), and every one of its containers goes
// by itself within the lease (plus slack for a loaded machine) with no swerl
// running. The killed process is not reaped until the end: its pid stays taken (a
// zombie), so no sweep by another process (other packages' tests open Docker
// factories, which sweep) can remove its containers in the lease's stead, and each
// container's exit status shows it ended by itself.
func TestKill9LeavesNoContainers(t *testing.T) {
	if testing.Short() {
		t.Skip("builds swerl and runs a rollout with Docker sandboxes")
	}
	sandboxtest.RequireDocker(t, docker.DefaultBaseImage)
	const lease = 5 * time.Second
	const tasks, samples = 4, 2 // the first 4 built-in tasks, a group of 2 each
	dir := t.TempDir()
	bin := filepath.Join(dir, "swerl")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	// Every generation hangs until the client goes away: the episodes stay in
	// their first turn, sandboxes running.
	srv := openaitest.NewServer(t, func(openaitest.Call) openaitest.Response { return openaitest.Response{Delay: time.Hour} })
	logf, err := os.Create(filepath.Join(dir, "swerl.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(bin, "rollout", "--tasks", "builtin", "--endpoint", srv.URL, "--model", openaitest.DefaultModel,
		"--sandbox", "docker", "--limit", strconv.Itoa(tasks), "-n", strconv.Itoa(samples), "--concurrency", "0", "--out", filepath.Join(dir, "out"),
		"--sandbox-lease", lease.String())
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	reaped := false
	cli := dockerClient(t)
	host, _ := os.Hostname()
	mine := []string{docker.LabelManaged + "=true", docker.LabelHost + "=" + host, docker.LabelPID + "=" + strconv.Itoa(pid)}
	t.Cleanup(func() {
		if !reaped {
			cmd.Process.Kill()
			cmd.Wait()
		}
		for _, id := range containers(t, cli, mine...) {
			cli.ContainerRemove(context.Background(), id, client.ContainerRemoveOptions{Force: true})
		}
	})
	log := func() string {
		data, _ := os.ReadFile(logf.Name())
		return tail(string(data), 30)
	}

	// Wait for every episode's sandbox to run (the first run on a machine prepares
	// the built-in checkouts first).
	want := tasks * samples
	for begin := time.Now(); ; time.Sleep(200 * time.Millisecond) {
		if exited(pid) {
			t.Fatalf("swerl exited before its sandboxes ran; its log:\n%s", log())
		}
		r, err := cli.ContainerList(context.Background(), client.ContainerListOptions{
			Filters: client.Filters{}.Add("label", mine...).Add("status", "running")})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Items) >= want {
			break
		}
		if time.Since(begin) > 5*time.Minute {
			t.Fatalf("%d of %d sandboxes running after 5 minutes; swerl's log:\n%s", len(r.Items), want, log())
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	for !exited(pid) {
		time.Sleep(10 * time.Millisecond)
	}
	ids := containers(t, cli, mine...)
	t.Logf("killed swerl (pid %d) with %d containers: %v", pid, len(ids), ids)

	limit := lease + 30*time.Second
	for {
		left := containers(t, cli, mine...)
		if len(left) == 0 {
			break
		}
		if time.Since(killed) > limit {
			t.Fatalf("containers %v still there %s after kill -9 (lease %s)", left, limit, lease)
		}
		time.Sleep(200 * time.Millisecond)
	}
	took := time.Since(killed)
	t.Logf("every container gone %s after kill -9 (lease %s; bound lease + 2s + removal)", took.Round(100*time.Millisecond), lease)

	// Each ended by itself (its lease ran out), not killed by a sweep (137).
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ev := cli.Events(ctx, client.EventsListOptions{
		Since: strconv.FormatInt(killed.Add(-time.Second).Unix(), 10), Until: strconv.FormatInt(time.Now().Add(time.Second).Unix(), 10),
		Filters: client.Filters{}.Add("type", "container").Add("event", "die").Add("label", mine...)})
	died := map[string]string{}
	for done := false; !done; {
		select {
		case m := <-ev.Messages:
			died[m.Actor.ID[:12]] = m.Actor.Attributes["exitCode"]
		case err := <-ev.Err:
			if err != nil && !errors.Is(err, io.EOF) {
				t.Fatalf("events: %v", err)
			}
			done = true
		}
	}
	for _, id := range ids {
		if code, ok := died[id]; !ok || code != strconv.Itoa(docker.ExitLeaseLapsed) {
			t.Errorf("container %s: exit %q, want %d (its lease ran out); all: %v", id, code, docker.ExitLeaseLapsed, died)
		}
	}
	reaped = true
	cmd.Wait()
}

// exited reports whether process pid has exited (a zombie, not yet reaped, or gone).
func exited(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] == 'Z' || s[i+2] == 'X'
}
