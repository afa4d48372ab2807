package docker

import (
	"context"
	"errors"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/swerl/swerl/sandbox"
)

// goneWithin is how long a test waits for a container to remove itself: far beyond
// the lease and the daemon's removal on a slow, loaded machine.
const goneWithin = 30 * time.Second

// waitGone polls the daemon until the container is gone, and fails the test if it
// is still there after limit. It returns how long it took.
func waitGone(t *testing.T, cli *client.Client, id string, limit time.Duration) time.Duration {
	t.Helper()
	begin := time.Now()
	for exists(t, cli, id) {
		if time.Since(begin) > limit {
			t.Fatalf("container %s still there after %s", short(id), limit)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return time.Since(begin)
}

// exitStatus returns the exit status the daemon's die event gave container id
// since begin ("" when there was none).
func exitStatus(t *testing.T, cli *client.Client, id string, begin time.Time) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ev := cli.Events(ctx, client.EventsListOptions{
		Since: strconv.FormatInt(begin.Add(-time.Second).Unix(), 10), Until: strconv.FormatInt(time.Now().Add(time.Second).Unix(), 10),
		Filters: client.Filters{}.Add("type", "container").Add("event", "die").Add("container", id)})
	code := ""
	for {
		select {
		case m := <-ev.Messages:
			code = m.Actor.Attributes["exitCode"]
		case err := <-ev.Err:
			if err != nil && !errors.Is(err, io.EOF) {
				t.Fatalf("events: %v", err)
			}
			return code
		}
	}
}

// A container whose lease nobody renews (its owner is gone, as far as it can tell)
// ends and is removed by the daemon; closing its sandbox afterwards is no error.
func TestUnrenewedContainerRemovesItself(t *testing.T) {
	t.Parallel()
	// Leases and lifetimes here leave room for a daemon slowed by a loaded CI
	// machine: a create, start or renewal can take seconds there.
	f := newFactory(t, func(c *Config) { c.LeaseTTL = 6 * time.Second })
	s := start(t, f, "lease")
	cli := testClient(t)
	if !exists(t, cli, s.ID()) {
		t.Fatal("the container is not there after Start")
	}
	mustRun(t, s, "true")
	begin := time.Now()
	f.dropLease(s.ID()) // the owner stops renewing, as if killed
	took := waitGone(t, cli, s.ID(), goneWithin)
	t.Logf("gone %s after the renewals stopped (lease %s)", took.Round(100*time.Millisecond), f.cfg.LeaseTTL)
	if code := exitStatus(t, cli, s.ID(), begin); code != strconv.Itoa(ExitLeaseLapsed) {
		t.Errorf("exit status %q, want %d (lease lapsed)", code, ExitLeaseLapsed)
	}
	if _, err := s.Exec(context.Background(), "true"); !errors.Is(err, sandbox.ErrDied) {
		t.Errorf("exec in the expired container: err = %v, want ErrDied", err)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Errorf("closing a sandbox whose container removed itself: %v", err)
	}
}

// A container whose lease is renewed outlives its lease many times over, until
// its sandbox is closed.
func TestRenewedContainerOutlivesItsLease(t *testing.T) {
	t.Parallel()
	f := newFactory(t, func(c *Config) { c.LeaseTTL = 6 * time.Second })
	s := start(t, f, "renewed")
	cli := testClient(t)
	for end := time.Now().Add(15 * time.Second); time.Now().Before(end); time.Sleep(500 * time.Millisecond) {
		if !exists(t, cli, s.ID()) {
			t.Fatalf("renewed container gone after %s", 15*time.Second-time.Until(end))
		}
	}
	if got := mustRun(t, s, "echo alive"); got != "alive\n" {
		t.Errorf("got %q", got)
	}
	data, err := s.ReadFile(context.Background(), leaseFile, 100)
	if err != nil {
		t.Fatal(err)
	}
	expiry, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	if err != nil || expiry <= time.Now().Unix() {
		t.Errorf("lease file holds %q, want a later unix time (renewed)", data)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if exists(t, cli, s.ID()) {
		t.Errorf("container still there after Close")
	}
}

// The hard deadline ends a container however its lease is renewed (the lease,
// longer than the container's whole life, cannot be what ends it).
func TestHardDeadlineEndsARenewedContainer(t *testing.T) {
	t.Parallel()
	f := newFactory(t, func(c *Config) { c.LeaseTTL, c.MaxLifetime = 30*time.Second, 10*time.Second })
	s := start(t, f, "deadline")
	cli := testClient(t)
	begin := time.Now()
	took := waitGone(t, cli, s.ID(), goneWithin)
	t.Logf("gone %s after Start returned (max lifetime %s)", took.Round(100*time.Millisecond), f.cfg.MaxLifetime)
	if code := exitStatus(t, cli, s.ID(), begin); code != strconv.Itoa(ExitDeadline) {
		t.Errorf("exit status %q, want %d (deadline passed)", code, ExitDeadline)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Errorf("closing a sandbox whose container passed its deadline: %v", err)
	}
}

// A renewal that races the container's removal, or finds it gone, is no error and
// drops it from the renewed set.
func TestRenewalOfAGoneContainer(t *testing.T) {
	t.Parallel()
	f := newFactory(t, func(c *Config) { c.LeaseTTL = 3 * time.Second })
	s := start(t, f, "gone")
	// Removed behind the factory's back, with retries: a renewal may race it.
	if err := f.removeContainer(context.Background(), s.ID()); err != nil {
		t.Fatal(err)
	}
	held := func() bool {
		f.leases.mu.Lock()
		defer f.leases.mu.Unlock()
		_, ok := f.leases.live[s.ID()]
		return ok
	}
	// The renewal goroutine's own renewal may be in flight: this one then
	// returns at once, and that one drops the container.
	for begin := time.Now(); held(); time.Sleep(100 * time.Millisecond) {
		if time.Since(begin) > goneWithin {
			t.Fatal("a container gone is still renewed")
		}
		f.renewLease(s.ID())
	}
	if err := s.Close(context.Background()); err != nil {
		t.Errorf("close: %v", err)
	}
}

// Sweep removes only what it is asked to: a dead process's containers by default,
// every container of a run with All.
func TestSweepOptions(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	cli := testClient(t)
	run := "test-" + randomID() + "-sweep"
	dead := createLabelled(t, cli, run, deadPID(t))
	live := createLabelled(t, cli, run, os.Getpid())
	ctx := context.Background()
	if _, err := Sweep(ctx, SweepOptions{Run: run}); err != nil {
		t.Fatal(err)
	}
	if exists(t, cli, dead) || !exists(t, cli, live) {
		t.Errorf("sweep: dead run's container there %v, live run's gone %v", exists(t, cli, dead), !exists(t, cli, live))
	}
	n, err := Sweep(ctx, SweepOptions{Run: run, All: true})
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 || exists(t, cli, live) {
		t.Errorf("sweep --all removed %d, live run's container there %v", n, exists(t, cli, live))
	}
	_, err = Sweep(ctx, SweepOptions{Host: "unix:///nonexistent/docker.sock"})
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/docker.sock") || !strings.Contains(err.Error(), "no Docker daemon answers") {
		t.Errorf("sweep without a daemon: %v", err)
	}
}
