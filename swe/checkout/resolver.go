package checkout

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/sync/singleflight"

	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/sandbox"
	"github.com/swerl/swerl/swe"
)

// Resolver maps tasks to workspaces (sandbox.Resolver). A task with a docker_image
// runs in that image; otherwise its repository is prepared once under Dir, from the
// built-in snapshots or from a clone in Mirror, and shared read-only by every
// sandbox of the task.
type Resolver struct {
	// Dir holds the prepared checkouts (Dir/<instance>/<base_commit>).
	Dir string
	// Tasks are the tasks it can resolve, by instance id.
	Tasks map[string]swe.Task
	// Snapshots are the built-in tasks' base files by instance id.
	Snapshots map[string]map[string][]byte
	// Mirror is a directory of local clones, Mirror/<owner>__<name> or
	// Mirror/<owner>/<name> (bare or not), for tasks that are not built in.
	Mirror string
	// PreferCheckout ignores docker_image (a local sandbox cannot use an image).
	PreferCheckout bool

	flight singleflight.Group
	mu     sync.Mutex
	done   map[string]string // instance -> checkout dir
}

// NewResolver returns a resolver for tasks with its checkouts under dir.
func NewResolver(dir string, tasks []swe.Task, snapshots map[string]map[string][]byte) *Resolver {
	m := make(map[string]swe.Task, len(tasks))
	for _, t := range tasks {
		m[t.InstanceID] = t
	}
	return &Resolver{Dir: dir, Tasks: m, Snapshots: snapshots}
}

// DefaultDir is where checkouts live unless configured: the user's cache directory.
func DefaultDir() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "swerl", "checkouts")
	}
	return filepath.Join(os.TempDir(), "swerl-checkouts")
}

// Resolve implements sandbox.Resolver.
func (r *Resolver) Resolve(ctx context.Context, ref messages.TaskRef) (sandbox.Workspace, error) {
	t, ok := r.Tasks[ref.ID]
	if !ok {
		return sandbox.Workspace{}, fmt.Errorf("task %q is not in the task file", ref.ID)
	}
	if t.DockerImage != "" && !r.PreferCheckout {
		return sandbox.Workspace{Image: t.DockerImage, ImageRoot: "/testbed", BaseCommit: t.BaseCommit}, nil
	}
	r.mu.Lock()
	dir, ok := r.done[t.InstanceID]
	r.mu.Unlock()
	if !ok {
		v, err, _ := r.flight.Do(t.InstanceID, func() (any, error) { return r.prepare(context.WithoutCancel(ctx), t) })
		if err != nil {
			return sandbox.Workspace{}, err
		}
		dir = v.(string)
		r.mu.Lock()
		if r.done == nil {
			r.done = map[string]string{}
		}
		r.done[t.InstanceID] = dir
		r.mu.Unlock()
	}
	return sandbox.Workspace{Checkout: dir, BaseCommit: t.BaseCommit, Env: swe.EnvFor(t)}, nil
}

// prepare makes the checkout of t, or reuses one made earlier (by this or another
// process) whose HEAD is the base commit. It builds in a temporary directory and
// renames, so a crash never leaves a half-made checkout in place.
func (r *Resolver) prepare(ctx context.Context, t swe.Task) (string, error) {
	if t.BaseCommit == "" {
		return "", fmt.Errorf("task %s has no base_commit", t.InstanceID)
	}
	dir, err := filepath.Abs(r.Dir)
	if err != nil {
		return "", err
	}
	final := filepath.Join(dir, safeName(t.InstanceID), safeName(t.BaseCommit))
	if head, err := Git(ctx, final, "rev-parse", "HEAD"); err == nil && strings.TrimSpace(head) == t.BaseCommit {
		return final, nil
	}
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return "", fmt.Errorf("checkout directory: %w (set a writable cache directory)", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(final), ".tmp-*")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	if files, ok := r.Snapshots[t.InstanceID]; ok {
		got, err := Commit(ctx, tmp, files)
		if err != nil {
			return "", fmt.Errorf("task %s: %w", t.InstanceID, err)
		}
		if got != t.BaseCommit {
			return "", fmt.Errorf("task %s: its snapshot commits as %s but base_commit is %s: regenerate the task file (go generate ./swe/builtin)", t.InstanceID, got, t.BaseCommit)
		}
	} else {
		src, err := r.mirrorOf(t.Repo)
		if err != nil {
			return "", fmt.Errorf("task %s: %w", t.InstanceID, err)
		}
		if err := fetchCommit(ctx, tmp, src, t.BaseCommit); err != nil {
			return "", fmt.Errorf("task %s: base_commit %s from the mirror of %s: %w", t.InstanceID, t.BaseCommit, t.Repo, err)
		}
	}
	os.RemoveAll(final)
	if err := os.Rename(tmp, final); err != nil {
		return "", err
	}
	return final, nil
}

// fetchCommit makes dir a repository holding commit alone, fetched from src with
// depth 1 and checked out detached: the base commit's tree and nothing else (sympy:
// about 7 MB of objects instead of a 330 MB full clone), no later commit or tag the
// agent could read the fix from, and self-contained, so a backend may copy it
// anywhere (a container has no path to the mirror that alternates would need).
func fetchCommit(ctx context.Context, dir, src, commit string) error {
	if _, err := Git(ctx, dir, "init", "-q"); err != nil {
		return err
	}
	// upload-pack serves a commit by its id only if allowed; a local mirror is ours.
	up := "git -c uploadpack.allowAnySHA1InWant=true upload-pack"
	if _, err := Git(ctx, dir, "fetch", "-q", "--no-tags", "--depth", "1", "--upload-pack", up, src, commit); err != nil {
		return err
	}
	if _, err := Git(ctx, dir, "checkout", "-q", "--detach", "FETCH_HEAD"); err != nil {
		return err
	}
	head, err := Git(ctx, dir, "rev-parse", "HEAD")
	if err != nil {
		return err
	}
	if strings.TrimSpace(head) != commit {
		return fmt.Errorf("fetched %s, want %s (give the full 40-hex base_commit)", strings.TrimSpace(head), commit)
	}
	return nil
}

func (r *Resolver) mirrorOf(repo string) (string, error) {
	if r.Mirror == "" {
		return "", fmt.Errorf("no repository for %s: give a mirror directory (--repos DIR) holding a clone of it, or a docker_image in the task", repo)
	}
	owner, name, _ := strings.Cut(repo, "/")
	for _, p := range []string{
		filepath.Join(r.Mirror, owner+"__"+name), filepath.Join(r.Mirror, owner+"__"+name+".git"),
		filepath.Join(r.Mirror, owner, name), filepath.Join(r.Mirror, owner, name+".git"),
	} {
		if _, err := os.Stat(p); err == nil {
			// git runs in the checkout's directory: a relative path would not resolve.
			return filepath.Abs(p)
		}
	}
	return "", fmt.Errorf("no clone of %s in %s (looked for %s__%s and %s/%s)", repo, r.Mirror, owner, name, owner, name)
}

func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == 0 || r == ':' {
			return '_'
		}
		return r
	}, s)
}

var _ sandbox.Resolver = (*Resolver)(nil)
