package local

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/swerl/swerl/sandbox"
	"github.com/swerl/swerl/sandbox/sandboxtest"
)

// startWithEnv starts a sandbox of a one-file repository with env, commands seeing
// path (the factory's PATH).
func startWithEnv(t *testing.T, env sandbox.Env, path string) (*Sandbox, error) {
	t.Helper()
	repo, commit := sandboxtest.Repo(t, map[string]string{"a.txt": "one\n"})
	f, err := New(Config{Resolver: sandboxtest.Resolver{Workspace: sandbox.Workspace{Checkout: repo, BaseCommit: commit, Env: env}},
		Dir: t.TempDir(), Path: path})
	if err != nil {
		t.Fatal(err)
	}
	sb, err := f.Start(context.Background(), sandboxtest.Spec("t1"))
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { sb.Close(context.Background()) })
	return sb.(*Sandbox), nil
}

// fakeDir makes a directory holding a python3 that imports nothing (it fails every
// script, as an interpreter without the task's modules would).
func fakeDir(t *testing.T) string {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "python3"), []byte("#!/bin/sh\necho \"ModuleNotFoundError: No module named 'json'\" >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestEnvPicksThePython3ThatImportsTheModules(t *testing.T) {
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skip("no /usr/bin/python3 on this machine")
	}
	// The first python3 on PATH lacks the module; /usr/bin's has it (json is in
	// every python3's standard library).
	path := fakeDir(t) + ":/usr/bin:/bin"
	env := sandbox.Env{Name: "test/repo", Links: map[string]string{"python": "python3", "runtests": "python3 -m json.tool"},
		PythonModules: []string{"json"}, Vars: map[string]string{"SWERL_ENV_VAR": "set"}}
	s, err := startWithEnv(t, env, path)
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.Exec(context.Background(), `command -v python; python -c 'import sys, json; print("exe", sys.executable)'; python3 -c 'print("py3 ok")'; echo '{"a":1}' | runtests --compact; echo "var=$SWERL_ENV_VAR"`)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{filepath.Join(s.dir, "bin", "python") + "\n", "exe /usr/bin/python3", "py3 ok\n", `{"a":1}` + "\n", "var=set\n"} {
		if !strings.Contains(out.Text, want) {
			t.Errorf("output lacks %q:\n%s", want, out.Text)
		}
	}
}

func TestEnvWithoutAnInterpreterIsAPermanentStartError(t *testing.T) {
	env := sandbox.Env{Name: "test/repo", Packages: []string{"python3-nosuchmodule"}, PythonModules: []string{"swerl_no_such_module"}}
	_, err := startWithEnv(t, env, fakeDir(t)+":/usr/bin:/bin")
	if err == nil {
		t.Fatal("Start succeeded without an interpreter that imports the module")
	}
	if !errors.Is(err, sandbox.ErrPermanent) {
		t.Errorf("error is not permanent: %v", err)
	}
	for _, want := range []string{"test/repo", "swerl_no_such_module", "apt-get install python3-nosuchmodule", "No module named"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

func TestZeroEnvKeepsTheUsersPath(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "swerl-user-tool"), []byte("#!/bin/sh\necho user tool\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+":"+os.Getenv("PATH"))
	s, err := startWithEnv(t, sandbox.Env{}, "")
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.Exec(context.Background(), "swerl-user-tool; ls ../bin 2>&1 | head -1")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.Text, "user tool\n") {
		t.Errorf("a tool on the user's PATH is not found in the sandbox:\n%s", out.Text)
	}
	if !strings.Contains(out.Text, "No such file") {
		t.Errorf("a zero Env made a bin directory:\n%s", out.Text)
	}
}
