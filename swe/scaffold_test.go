package swe_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/swerl/swerl/sandbox"
	"github.com/swerl/swerl/sandbox/local"
	"github.com/swerl/swerl/sandbox/sandboxtest"
	"github.com/swerl/swerl/swe"
)

const calc = `def add(a, b):
    return a - b


def mul(a, b):
    return a * b


def div(a, b):
    return a / b
`

func newSession(t *testing.T, cfg swe.ScaffoldConfig) (*swe.Session, func(string) string) {
	t.Helper()
	repo, commit := sandboxtest.Repo(t, map[string]string{"calc/ops.py": calc, "README.md": "calc\n"})
	f, err := local.New(local.Config{Resolver: sandboxtest.Resolver{Workspace: sandbox.Workspace{Checkout: repo, BaseCommit: commit}}, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	sb, err := swe.ScaffoldFactory{Inner: f, Config: cfg}.Start(context.Background(), sandboxtest.Spec("t"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close(context.Background()) })
	s := sb.(*swe.Session)
	run := func(cmd string) string {
		t.Helper()
		out, err := s.Exec(context.Background(), cmd)
		if err != nil {
			t.Fatalf("%s: %v", cmd, err)
		}
		if !strings.HasSuffix(out.Text, s.Prompt()) {
			t.Fatalf("%s: observation does not end with the prompt line:\n%s", cmd, out.Text)
		}
		return strings.TrimSuffix(out.Text, s.Prompt())
	}
	return s, run
}

func file(t *testing.T, s *swe.Session, p string) string {
	t.Helper()
	b, err := s.ReadFile(context.Background(), p, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestShellTracksDirectoryAndPrompt(t *testing.T) {
	s, run := newSession(t, swe.ScaffoldConfig{})
	root := s.Root()
	if want := "(Current directory: " + root + ", current file: n/a) bash-$"; s.Prompt() != want {
		t.Fatalf("prompt %q, want %q", s.Prompt(), want)
	}
	if got := run("cd calc"); !strings.Contains(got, "did not produce any output") {
		t.Errorf("silent command: %q", got)
	}
	if got := run("pwd"); strings.TrimSpace(got) != root+"/calc" {
		t.Errorf("pwd after cd = %q", got)
	}
	if !strings.Contains(s.Prompt(), "Current directory: "+root+"/calc,") {
		t.Errorf("prompt did not follow cd: %s", s.Prompt())
	}
	run("open ops.py")
	if !strings.Contains(s.Prompt(), "current file: "+root+"/calc/ops.py)") {
		t.Errorf("prompt does not name the open file: %s", s.Prompt())
	}
	if out, _ := s.Exec(context.Background(), "exit 3"); out.ExitCode != 3 {
		t.Errorf("exit code %d", out.ExitCode)
	}
}

func TestWindowTools(t *testing.T) {
	_, run := newSession(t, swe.ScaffoldConfig{WindowLines: 4})
	got := run("open calc/ops.py 9")
	if !strings.Contains(got, "(10 lines total)") || !strings.Contains(got, "9:def div(a, b):") || strings.Contains(got, "1:def add") {
		t.Errorf("open at line 9:\n%s", got)
	}
	got = run("goto 1")
	if !strings.Contains(got, "(0 more lines above)") || !strings.Contains(got, "2:    return a - b") || !strings.Contains(got, "(6 more lines below)") {
		t.Errorf("goto 1:\n%s", got)
	}
	if got = run("scroll_down"); !strings.Contains(got, "5:def mul") {
		t.Errorf("scroll_down:\n%s", got)
	}
	if got = run("scroll_up"); !strings.Contains(got, "1:def add") {
		t.Errorf("scroll_up:\n%s", got)
	}
	if got = run("goto 99"); !strings.Contains(got, "Error") {
		t.Errorf("goto past the end: %s", got)
	}
	if got = run("search_file return"); !strings.Contains(got, "Found 3 matches") || !strings.Contains(got, "Line 10:    return a / b") {
		t.Errorf("search_file:\n%s", got)
	}
	if got = run("search_file nothing-like-this README.md"); !strings.Contains(got, "No matches") {
		t.Errorf("search_file miss: %s", got)
	}
	if got = run("open nope.py"); !strings.Contains(got, "not found") {
		t.Errorf("open missing: %s", got)
	}
}

func TestEdit(t *testing.T) {
	s, run := newSession(t, swe.ScaffoldConfig{})
	run("open calc/ops.py")
	run("edit 2:2\n    return a + b\nend_of_edit")
	if got := file(t, s, "calc/ops.py"); !strings.Contains(got, "return a + b\n") || strings.Contains(got, "a - b") {
		t.Fatalf("end_of_edit form:\n%s", got)
	}
	run("edit --file calc/ops.py 10:10 <<'EOF'\n    if b == 0:\n        raise ZeroDivisionError(\"b is zero\")\n    return a / b\nEOF")
	if got := file(t, s, "calc/ops.py"); !strings.Contains(got, "    if b == 0:\n        raise ZeroDivisionError(\"b is zero\")\n    return a / b\n") {
		t.Fatalf("heredoc form:\n%s", got)
	}
	run("edit 1:0 <<EOF\nimport math\nEOF")
	if got := file(t, s, "calc/ops.py"); !strings.HasPrefix(got, "import math\ndef add") {
		t.Fatalf("insert:\n%s", got)
	}
	run("edit 1:1\nend_of_edit")
	if got := file(t, s, "calc/ops.py"); !strings.HasPrefix(got, "def add") {
		t.Fatalf("delete:\n%s", got)
	}
	if got := run("edit 50:60\nx\nend_of_edit"); !strings.Contains(got, "outside") {
		t.Errorf("range outside the file: %s", got)
	}
	if got := run("edit 1:1 <<EOF\nnever closed"); !strings.Contains(got, "heredoc is not closed") {
		t.Errorf("unclosed heredoc: %s", got)
	}
	if got := run("create calc/ops.py"); !strings.Contains(got, "already exists") {
		t.Errorf("create over a file: %s", got)
	}
	run("create calc/new.py")
	run("edit 1:0\nVALUE = 1\nend_of_edit")
	if got := file(t, s, "calc/new.py"); got != "VALUE = 1\n" {
		t.Fatalf("created file holds %q", got)
	}
}

func TestReplace(t *testing.T) {
	s, run := newSession(t, swe.ScaffoldConfig{})
	run("open calc/ops.py")
	if got := run("replace 'return a - b' 'return a + b'"); !strings.Contains(got, "Replaced 1") {
		t.Fatalf("replace: %s", got)
	}
	if got := run(`replace "(a, b):" "(a, b=1):"`); !strings.Contains(got, "found 3 times") {
		t.Errorf("ambiguous replace: %s", got)
	}
	run(`replace --replace-all "(a, b):" "(a, b=1):"`)
	if got := file(t, s, "calc/ops.py"); strings.Count(got, "(a, b=1):") != 3 {
		t.Fatalf("--replace-all:\n%s", got)
	}
	run("replace 'def div(a, b=1):\n    return a / b' \"def div(a, b=1):\n    '''division'''\n    return a / b\"")
	if got := file(t, s, "calc/ops.py"); !strings.Contains(got, "def div(a, b=1):\n    '''division'''\n    return a / b\n") {
		t.Fatalf("multi-line replace:\n%s", got)
	}
	if got := run("replace 'no such text' 'x'"); !strings.Contains(got, "not found") {
		t.Errorf("missing search text: %s", got)
	}
}

func TestObservationCapAndTimeout(t *testing.T) {
	s, run := newSession(t, swe.ScaffoldConfig{ObservationCap: 200})
	got := run("seq 1 10000")
	if len(got) > 600 || !strings.Contains(got, "observation truncated") || !strings.HasPrefix(got, "1\n2\n") || !strings.Contains(got, "10000") {
		t.Fatalf("cap: %d chars:\n%s", len(got), got)
	}
	// The deadline passes once "begun" is printed (the command then makes a file),
	// however long the machine took to get there.
	out, _, err := sandboxtest.ExecExpiring(t, s, "echo begun; : > began; sleep 300", func() bool {
		_, err := os.Stat(filepath.Join(s.Root(), "began"))
		return err == nil
	})
	if err != nil || !out.TimedOut || !strings.Contains(out.Text, "begun") || !strings.Contains(out.Text, "timed out") || !strings.HasSuffix(out.Text, s.Prompt()) {
		t.Fatalf("timeout: err %v, out %+v", err, out)
	}
}
