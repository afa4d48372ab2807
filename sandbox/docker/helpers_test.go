package docker

import (
	"context"
	"os"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	"go.uber.org/goleak"

	"github.com/swerl/swerl/sandbox"
	"github.com/swerl/swerl/sandbox/sandboxtest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// requireDocker skips the test when no Docker daemon answers (fails under
// SWERL_REQUIRE_DOCKER=1), and fails when one answers without the base image.
func requireDocker(t *testing.T) {
	t.Helper()
	sandboxtest.RequireDocker(t, DefaultBaseImage)
}

// testClient returns a Docker client for the test's own checks, closed at its end.
func testClient(t *testing.T) *client.Client {
	t.Helper()
	cli, err := client.New(client.FromEnv)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// testRepo makes the repository every test starts from.
func testRepo(t *testing.T) (dir, commit string) {
	return sandboxtest.Repo(t, map[string]string{
		"a.txt":     "one\ntwo\n",
		"pkg/b.py":  "x = 1\n",
		"run.sh":    "#!/bin/sh\necho run\n",
		"README.md": "test repo\n",
	})
}

// newFactory returns a factory over testRepo with a RunID of its own; at the
// test's end it closes the factory and fails if any container of the run is left.
func newFactory(t *testing.T, mut func(*Config)) *Factory {
	t.Helper()
	requireDocker(t)
	dir, commit := testRepo(t)
	if err := os.Chmod(dir+"/run.sh", 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Resolver:    sandboxtest.Resolver{Workspace: sandbox.Workspace{Checkout: dir, BaseCommit: commit}},
		RunID:       "test-" + randomID(),
		OutputLimit: 64 << 10,
		KillGrace:   3 * time.Second,
	}
	if mut != nil {
		mut(&cfg)
	}
	f, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	cli := testClient(t)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := f.Close(ctx); err != nil {
			t.Errorf("factory close: %v", err)
		}
		if left := runContainers(t, cli, f.RunID()); len(left) > 0 {
			t.Errorf("containers of run %s left behind: %v", f.RunID(), left)
			for _, id := range left {
				cli.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true})
			}
		}
	})
	return f
}

// runContainers lists the containers (any state) labelled with a run id and
// every label=value of more.
func runContainers(t *testing.T, cli *client.Client, run string, more ...string) []string {
	t.Helper()
	r, err := cli.ContainerList(context.Background(), client.ContainerListOptions{
		All: true, Filters: client.Filters{}.Add("label", append([]string{LabelRun + "=" + run}, more...)...)})
	if err != nil {
		t.Fatalf("container list: %v", err)
	}
	var ids []string
	for _, c := range r.Items {
		ids = append(ids, short(c.ID))
	}
	return ids
}

// start starts a sandbox for task and closes it at the test's end.
func start(t *testing.T, f *Factory, task string) *Sandbox {
	t.Helper()
	sb, err := f.Start(context.Background(), sandboxtest.Spec(task))
	if err != nil {
		t.Fatal(err)
	}
	s := sb.(*Sandbox)
	t.Cleanup(func() {
		if err := s.Close(context.Background()); err != nil {
			t.Errorf("sandbox close: %v", err)
		}
	})
	return s
}

// run execs command and fails the test on an error.
func run(t *testing.T, s *Sandbox, command string) sandbox.Output {
	t.Helper()
	out, err := s.Exec(context.Background(), command)
	if err != nil {
		t.Fatalf("exec %q: %v (output %q)", command, err, out.Text)
	}
	return out
}

// mustRun execs command and fails the test unless it exits 0.
func mustRun(t *testing.T, s *Sandbox, command string) string {
	t.Helper()
	out := run(t, s, command)
	if out.ExitCode != 0 {
		t.Fatalf("exec %q exited %d: %s", command, out.ExitCode, out.Text)
	}
	return out.Text
}

// exists reports whether a container is still on the daemon.
func exists(t *testing.T, cli *client.Client, id string) bool {
	t.Helper()
	_, err := cli.ContainerInspect(context.Background(), id, client.ContainerInspectOptions{})
	if err != nil && !cerrdefs.IsNotFound(err) {
		t.Fatalf("inspect %s: %v", id, err)
	}
	return err == nil
}
