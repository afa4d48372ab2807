// Package checkout prepares task repositories on the host: a git repository at the
// task's base commit, made once per task and copied by the sandbox backends. Built-in
// tasks are materialised from their embedded snapshots with a deterministic commit (so
// base_commit in the JSONL is reproducible); other tasks are cloned from a local mirror
// directory (no network is assumed).
package checkout

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// gitEnv makes git independent of the user's configuration and its commits
// reproducible.
var gitEnv = []string{
	"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
	"GIT_AUTHOR_NAME=swerl", "GIT_AUTHOR_EMAIL=tasks@swerl.invalid", "GIT_AUTHOR_DATE=2026-01-01T00:00:00Z",
	"GIT_COMMITTER_NAME=swerl", "GIT_COMMITTER_EMAIL=tasks@swerl.invalid", "GIT_COMMITTER_DATE=2026-01-01T00:00:00Z",
	"GIT_TERMINAL_PROMPT=0", "LC_ALL=C",
}

// Git runs git in dir and returns its standard output.
func Git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), gitEnv...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("git %s (in %s): %w: %s", strings.Join(args, " "), dir, err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// WriteFiles writes files (slash paths relative to dir) under dir.
func WriteFiles(dir string, files map[string][]byte) error {
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if !strings.HasPrefix(p, filepath.Clean(dir)+string(filepath.Separator)) {
			return fmt.Errorf("file %q escapes the repository", name)
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Commit makes dir a git repository holding files in one deterministic commit and
// returns the commit's hash: the same files always give the same hash.
func Commit(ctx context.Context, dir string, files map[string][]byte) (string, error) {
	if err := WriteFiles(dir, files); err != nil {
		return "", err
	}
	for _, args := range [][]string{
		{"init", "-q", "-b", "main"},
		{"add", "-A"},
		{"-c", "commit.gpgsign=false", "commit", "-q", "--no-verify", "-m", "base"},
	} {
		if _, err := Git(ctx, dir, args...); err != nil {
			return "", err
		}
	}
	out, err := Git(ctx, dir, "rev-parse", "HEAD")
	return strings.TrimSpace(out), err
}

// Diff returns the patch turning the committed tree of the repository in dir into
// the tree with files overlaid (new files included), and restores the commit after.
func Diff(ctx context.Context, dir string, files map[string][]byte) (string, error) {
	if err := WriteFiles(dir, files); err != nil {
		return "", err
	}
	if _, err := Git(ctx, dir, "add", "-A"); err != nil {
		return "", err
	}
	patch, err := Git(ctx, dir, "diff", "--cached", "--no-color", "--no-ext-diff", "HEAD")
	if err != nil {
		return "", err
	}
	if _, err := Git(ctx, dir, "reset", "-q", "--hard", "HEAD"); err != nil {
		return "", err
	}
	if _, err := Git(ctx, dir, "clean", "-q", "-fdx"); err != nil {
		return "", err
	}
	return patch, nil
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
