package checkout

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/swe"
)

// mirror makes dir/owner__name, a repository with two commits and a tag on the
// second, and returns the first commit (the task's base) and the second (the fix).
func mirror(t *testing.T, dir string) (base, fix string) {
	t.Helper()
	repo := filepath.Join(dir, "acme__widget")
	ctx := context.Background()
	var err error
	if base, err = Commit(ctx, repo, map[string][]byte{"w.py": []byte("x = 1\n")}); err != nil {
		t.Fatal(err)
	}
	if err := WriteFiles(repo, map[string][]byte{"w.py": []byte("x = 2  # the fix\n")}); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"add", "-A"}, {"-c", "commit.gpgsign=false", "commit", "-q", "-m", "fix"}, {"tag", "v1.0"}} {
		if _, err := Git(ctx, repo, args...); err != nil {
			t.Fatal(err)
		}
	}
	out, err := Git(ctx, repo, "rev-parse", "HEAD")
	if err != nil {
		t.Fatal(err)
	}
	return base, strings.TrimSpace(out)
}

// TestCheckoutFromRelativeMirrorHoldsTheBaseCommitOnly resolves a task from a
// mirror and a checkout directory both given as relative paths, and checks the
// checkout holds the base commit's tree and nothing later (no fix commit, no tag).
func TestCheckoutFromRelativeMirrorHoldsTheBaseCommitOnly(t *testing.T) {
	work := t.TempDir()
	t.Chdir(work)
	base, fix := mirror(t, filepath.Join(work, "mirrors"))
	task := swe.Task{InstanceID: "acme__widget-1", Repo: "acme/widget", BaseCommit: base, ProblemStatement: "x", FailToPass: swe.TestList{"t"},
		TestPatch: "diff --git a/test_w.py b/test_w.py\n"}
	r := NewResolver("checkouts", []swe.Task{task}, nil)
	r.Mirror = "mirrors"
	ws, err := r.Resolve(context.Background(), messages.TaskRef{ID: task.InstanceID})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if head, _ := Git(ctx, ws.Checkout, "rev-parse", "HEAD"); strings.TrimSpace(head) != base {
		t.Errorf("HEAD = %q, want the base commit %s", head, base)
	}
	if data, err := os.ReadFile(filepath.Join(ws.Checkout, "w.py")); err != nil || string(data) != "x = 1\n" {
		t.Errorf("w.py = %q, %v; want the base commit's", data, err)
	}
	if _, err := Git(ctx, ws.Checkout, "cat-file", "-e", fix); err == nil {
		t.Errorf("the fix commit %s is readable in the checkout", fix)
	}
	if tags, _ := Git(ctx, ws.Checkout, "tag"); strings.TrimSpace(tags) != "" {
		t.Errorf("the checkout has tags: %q", tags)
	}
	if ws.Env.Name != "python" || len(ws.Env.PythonModules) == 0 {
		t.Errorf("a Python task without a table entry got env %+v, want the default Python env", ws.Env)
	}
	// A second resolver (another process) reuses the checkout.
	r2 := NewResolver("checkouts", []swe.Task{task}, nil)
	ws2, err := r2.Resolve(context.Background(), messages.TaskRef{ID: task.InstanceID})
	if err != nil || ws2.Checkout != ws.Checkout {
		t.Errorf("second resolve = %q, %v; want %q reused without a mirror", ws2.Checkout, err, ws.Checkout)
	}
}

func TestCheckoutOfAnUnknownCommitNamesIt(t *testing.T) {
	work := t.TempDir()
	mirror(t, filepath.Join(work, "mirrors"))
	bad := strings.Repeat("ab", 20)
	task := swe.Task{InstanceID: "acme__widget-2", Repo: "acme/widget", BaseCommit: bad}
	r := NewResolver(filepath.Join(work, "checkouts"), []swe.Task{task}, nil)
	r.Mirror = filepath.Join(work, "mirrors")
	_, err := r.Resolve(context.Background(), messages.TaskRef{ID: task.InstanceID})
	if err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "acme/widget") {
		t.Errorf("Resolve = %v, want an error naming the commit and the repository", err)
	}
}
