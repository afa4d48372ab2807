package docker

import (
	"context"
	"errors"
	"io/fs"
	"strings"
	"testing"

	"github.com/swerl/swerl/sandbox"
)

func TestReadFileAndWriteFile(t *testing.T) {
	t.Parallel()
	f := newFactory(t, nil)
	s := start(t, f, "files")
	ctx := context.Background()

	data, err := s.ReadFile(ctx, "a.txt", 100)
	if err != nil || string(data) != "one\ntwo\n" {
		t.Fatalf("ReadFile a.txt = %q, %v", data, err)
	}
	if data, err := s.ReadFile(ctx, "/testbed/pkg/b.py", 6); err != nil || string(data) != "x = 1\n" {
		t.Errorf("ReadFile at exactly its limit = %q, %v", data, err)
	}
	if _, err := s.ReadFile(ctx, "a.txt", 7); !errors.Is(err, sandbox.ErrTooLarge) {
		t.Errorf("ReadFile over its limit: err = %v, want ErrTooLarge", err)
	}
	if _, err := s.ReadFile(ctx, "missing.txt", 100); !errors.Is(err, fs.ErrNotExist) || errors.Is(err, sandbox.ErrDied) {
		t.Errorf("ReadFile of a missing file: err = %v, want fs.ErrNotExist", err)
	}
	if _, err := s.ReadFile(ctx, "no/such/dir/f", 100); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadFile under a missing directory: err = %v, want fs.ErrNotExist", err)
	}
	if _, err := s.ReadFile(ctx, "pkg", 100); err == nil || errors.Is(err, sandbox.ErrDied) {
		t.Errorf("ReadFile of a directory: err = %v, want an ordinary error", err)
	}

	// New file with new parents; an existing file keeps its mode; binary content.
	if err := s.WriteFile(ctx, "new/deep/dir/c.txt", []byte("fresh\n")); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteFile(ctx, "run.sh", []byte("#!/bin/sh\necho rewritten\n")); err != nil {
		t.Fatal(err)
	}
	bin := []byte{0, 1, 2, 255, '\n', 0}
	if err := s.WriteFile(ctx, "/tmp/bin.dat", bin); err != nil {
		t.Fatal(err)
	}
	got := mustRun(t, s, "cat new/deep/dir/c.txt; ./run.sh; stat -c '%a %U %n' new new/deep/dir/c.txt run.sh")
	if want := "fresh\nrewritten\n755 root new\n644 root new/deep/dir/c.txt\n755 root run.sh\n"; got != want {
		t.Errorf("after WriteFile:\n%s\nwant:\n%s", got, want)
	}
	if data, err := s.ReadFile(ctx, "/tmp/bin.dat", 6); err != nil || string(data) != string(bin) {
		t.Errorf("binary round trip = %v, %v", data, err)
	}

	// Symbolic links: read and written through.
	mustRun(t, s, "ln -s pkg/b.py link.py && ln -s /testbed/a.txt /tmp/abs-link")
	if data, err := s.ReadFile(ctx, "link.py", 100); err != nil || string(data) != "x = 1\n" {
		t.Errorf("ReadFile through a relative link = %q, %v", data, err)
	}
	if data, err := s.ReadFile(ctx, "/tmp/abs-link", 100); err != nil || string(data) != "one\ntwo\n" {
		t.Errorf("ReadFile through an absolute link = %q, %v", data, err)
	}
	if err := s.WriteFile(ctx, "link.py", []byte("x = 2\n")); err != nil {
		t.Fatal(err)
	}
	if got := mustRun(t, s, "cat pkg/b.py; test -L link.py && echo link"); got != "x = 2\nlink\n" {
		t.Errorf("WriteFile through a link: %q", got)
	}
	if err := s.WriteFile(ctx, "pkg", []byte("x")); err == nil {
		t.Errorf("WriteFile over a directory succeeded")
	}
}

func TestDiffShowsEverythingTheAgentChanged(t *testing.T) {
	t.Parallel()
	f := newFactory(t, nil)
	s := start(t, f, "diff")
	ctx := context.Background()
	if patch, err := s.Diff(ctx); err != nil || patch != "" {
		t.Fatalf("Diff of an untouched repo = %q, %v", patch, err)
	}
	mustRun(t, s, `set -e
echo three >> a.txt
echo committed > committed.txt && git add committed.txt && git commit -qm agent
mkdir -p sub && echo new > sub/new.txt
rm README.md`)
	patch, err := s.Diff(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"diff --git a/a.txt b/a.txt", "+three", "diff --git a/committed.txt b/committed.txt",
		"+committed", "diff --git a/sub/new.txt b/sub/new.txt", "+new", "deleted file mode", "-test repo"} {
		if !strings.Contains(patch, want) {
			t.Errorf("patch lacks %q:\n%s", want, patch)
		}
	}
}

func TestDiffLargerThanTheLimitFails(t *testing.T) {
	t.Parallel()
	f := newFactory(t, func(c *Config) { c.DiffLimit = 4096 })
	s := start(t, f, "bigdiff")
	mustRun(t, s, "seq 1 10000 > big.txt")
	if patch, err := s.Diff(context.Background()); err == nil || errors.Is(err, sandbox.ErrDied) || !strings.Contains(err.Error(), "limit") {
		t.Errorf("Diff over the limit = %d bytes, %v; want an error naming the limit", len(patch), err)
	}
}

func TestDiffWithoutRepositoryIsErrNoRepository(t *testing.T) {
	t.Parallel()
	f := newFactory(t, nil)
	for _, destroy := range []string{"rm -rf .git", "cd / && rm -rf /testbed"} {
		t.Run(destroy, func(t *testing.T) {
			s := start(t, f, "norepo")
			mustRun(t, s, destroy)
			if _, err := s.Diff(context.Background()); !errors.Is(err, sandbox.ErrNoRepository) {
				t.Errorf("Diff after %q: err = %v, want ErrNoRepository", destroy, err)
			}
			if got := mustRun(t, s, "echo alive"); got != "alive\n" {
				t.Errorf("Exec after %q: %q", destroy, got)
			}
		})
	}
}
