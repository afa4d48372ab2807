// Package sandboxtest has helpers for tests of sandbox backends and their users: a
// git repository made on the spot and a resolver serving it.
package sandboxtest

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/sandbox"
	"github.com/swerl/swerl/swe/checkout"
)

// Repo makes a git repository holding files in one commit under a temporary
// directory and returns its directory and commit.
func Repo(t testing.TB, files map[string]string) (dir, commit string) {
	t.Helper()
	dir = t.TempDir()
	b := make(map[string][]byte, len(files))
	for k, v := range files {
		b[k] = []byte(v)
	}
	commit, err := checkout.Commit(context.Background(), dir, b)
	if err != nil {
		t.Fatal(err)
	}
	return dir, commit
}

// Resolver resolves every task to one workspace.
type Resolver struct{ Workspace sandbox.Workspace }

// Resolve implements sandbox.Resolver.
func (r Resolver) Resolve(context.Context, messages.TaskRef) (sandbox.Workspace, error) {
	return r.Workspace, nil
}

// Spec returns a sandbox spec for a task id.
func Spec(task string) sandbox.Spec {
	return sandbox.Spec{Task: messages.TaskRef{ID: task}, Ref: messages.EpisodeRef{TaskID: task}, Attempt: 1}
}

// Processes returns the command lines of live processes whose command line holds
// marker (from ps), to check that nothing outlives its sandbox.
func Processes(t testing.TB, marker string) []string {
	t.Helper()
	out, err := exec.Command("ps", "-eo", "pid=,args=").Output()
	if err != nil {
		t.Fatalf("ps: %v", err)
	}
	var found []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, marker) && !strings.Contains(l, "ps -eo") {
			found = append(found, strings.TrimSpace(l))
		}
	}
	return found
}
