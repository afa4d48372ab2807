package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/sandbox"
	"github.com/swerl/swerl/swe"
	"github.com/swerl/swerl/swe/builtin"
	"github.com/swerl/swerl/swe/checkout"
)

// headOf starts a plain sandbox of task in w and returns its `git rev-parse HEAD`.
func headOf(t *testing.T, w *World, task swe.Task) string {
	t.Helper()
	ctx := context.Background()
	sb, err := w.Backend.Start(ctx, sandbox.Spec{Task: task.Ref(), Ref: messages.EpisodeRef{TaskID: task.InstanceID}, Attempt: 1})
	if err != nil {
		t.Fatalf("starting a sandbox of %s: %v", task.InstanceID, err)
	}
	defer sb.Close(ctx)
	out, err := sb.Exec(ctx, "git rev-parse HEAD")
	if err != nil || out.ExitCode != 0 {
		t.Fatalf("git rev-parse: %v %+v", err, out)
	}
	return strings.TrimSpace(out.Text)
}

// The built-in suite's own tasks.jsonl, given by path, resolves as "builtin" does;
// a task that only shares a built-in id does not get the built-in snapshot.
func TestLoadTaskFileBuiltinByPath(t *testing.T) {
	suite, err := builtin.Tasks()
	if err != nil {
		t.Fatal(err)
	}
	impostor := suite[1]
	impostor.BaseCommit = strings.Repeat("0", 40)
	line, _ := json.Marshal(impostor)
	lines := bytes.SplitAfter(builtin.JSONL(), []byte("\n"))
	var file bytes.Buffer
	file.Write(lines[0])
	file.Write(append(line, '\n'))
	path := filepath.Join(t.TempDir(), "tasks.jsonl")
	if err := os.WriteFile(path, file.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	tasks, snaps, err := LoadTaskFile(path)
	if err != nil || len(tasks) != 2 {
		t.Fatalf("%d tasks, %v", len(tasks), err)
	}
	if len(snaps) != 1 || snaps[suite[0].InstanceID] == nil {
		t.Fatalf("snapshots for %d tasks, want only %s's", len(snaps), suite[0].InstanceID)
	}
	wc := WorldConfig{Tasks: tasks[:1], Snapshots: snaps, CheckoutDir: t.TempDir()}
	wc.Local.Dir = t.TempDir()
	w, err := OpenWorld(context.Background(), wc)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close(context.Background())
	if got := headOf(t, w, tasks[0]); got != suite[0].BaseCommit {
		t.Fatalf("HEAD %s, want the built-in base commit %s", got, suite[0].BaseCommit)
	}
}

// --repos and --checkouts given relative to the working directory work, though
// git runs elsewhere.
func TestOpenWorldRelativeDirs(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	repo := filepath.Join("mirror", "swerl__tiny")
	if err := os.MkdirAll(repo, 0o755); err != nil {
		t.Fatal(err)
	}
	base, err := checkout.Commit(context.Background(), repo, map[string][]byte{"tiny.py": []byte("x = 1\n")})
	if err != nil {
		t.Fatal(err)
	}
	task := swe.Task{InstanceID: "swerl__tiny-1", Repo: "swerl/tiny", BaseCommit: base}
	wc := WorldConfig{Tasks: []swe.Task{task}, CheckoutDir: "checkouts", Mirror: "mirror"}
	wc.Local.Dir = t.TempDir()
	w, err := OpenWorld(context.Background(), wc)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close(context.Background())
	if got := headOf(t, w, task); got != base {
		t.Fatalf("HEAD %s, want %s", got, base)
	}
	if _, err := os.Stat(filepath.Join(dir, "checkouts")); err != nil {
		t.Errorf("the checkouts are not under the working directory: %v", err)
	}
}
