package sim

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"

	"github.com/swerl/swerl/messages"
	"github.com/swerl/swerl/sandbox"
)

// handTask is a small task written by hand: f2 should return a + b.
func handTask() Task {
	files := map[string]string{
		"mod0.py": "def f1 ( a ) :\nt = a * 2\nreturn t + 1\ndef f2 ( a , b ) :\nreturn a - b\n",
		"mod1.py": "def f3 ( a ) :\nreturn a + 5\n",
	}
	tests := []Test{
		{Func: "f1", Cases: []Case{{Args: []int{3}, Want: 7}}},
		{Func: "f2", Cases: []Case{{Args: []int{5, 2}, Want: 7}, {Args: []int{4, 0}, Want: 4}}},
		{Func: "f3", Cases: []Case{{Args: []int{1}, Want: 6}}},
	}
	return Task{ID: "hand", Statement: "f2 ( 5 , 2 ) gives 3 , but the right answer is 7 .", files: files, tests: tests,
		window: 5, Bug: Bug{Kind: OpSwap, Func: "f2", Issue: "f2", File: "mod0.py", Line: 5, Buggy: "return a - b", Fix: "return a + b"}}
}

func TestSandboxCommands(t *testing.T) {
	ctx := context.Background()
	sb := handTask().NewSandbox()
	defer sb.Close(ctx)
	if sb.Root() != "/sim" {
		t.Errorf("Root = %q", sb.Root())
	}
	steps := []struct {
		cmd  string
		want string
		code int
	}{
		{"ls", "mod0.py\nmod1.py", 0},
		{"run_tests", "ok f1\nok f3\nFAIL f2 ( 5 , 2 ) gave 3 want 7\nok f2 ( 4 , 0 ) gave 4 want 4\n1 failed 2 passed", 1},
		{"grep def f2 (", "mod0.py 4 : def f2 ( a , b ) :", 0},
		{"grep return", "mod0.py 3 : return t + 1\nmod0.py 5 : return a - b\nmod1.py 2 : return a + 5", 0},
		{"grep nothing here", "no matches", 1},
		{"show mod0.py 4", "4 : def f2 ( a , b ) :\n5 : return a - b", 0},
		{"show mod0.py", "1 : def f1 ( a ) :\n2 : t = a * 2\n3 : return t + 1\n4 : def f2 ( a , b ) :\n5 : return a - b", 0},
		{"show /sim/mod1.py 99", "2 : return a + 5", 0},
		{"show mod9.py 1", "error : no such file", 1},
		{"show mod0.py x", "usage : show FILE LINE", 2},
		{"show", "usage : show FILE LINE", 2},
		{"fix mod0.py 5 return a +", "error : syntax error", 1},
		{"fix mod0.py 9 return a + b", "error : no such line", 1},
		{"fix mod7.py 1 return a + b", "error : no such file", 1},
		{"fix mod0.py five return a + b", "usage : fix FILE LINE TEXT", 2},
		{"fix mod0.py 5", "usage : fix FILE LINE TEXT", 2},
		{"fix mod0.py 5 return a + b", "3 : return t + 1\n4 : def f2 ( a , b ) :\n5 : return a + b", 0},
		{"run_tests", "ok f1\nok f2\nok f3\n0 failed 3 passed", 0},
		{"ls -la", "usage : ls", 2},
		{"run_tests now", "usage : run_tests", 2},
		{"grep", "usage : grep TEXT", 2},
		{"cat mod0.py", "error : command not found", 127},
		{"submit", "error : command not found", 127},
		{"", "", 0},
	}
	for _, s := range steps {
		out, err := sb.Exec(ctx, s.cmd)
		if err != nil {
			t.Fatalf("Exec(%q): %v", s.cmd, err)
		}
		if out.Text != s.want || out.ExitCode != s.code {
			t.Errorf("Exec(%q) = %q (exit %d), want %q (exit %d)", s.cmd, out.Text, out.ExitCode, s.want, s.code)
		}
	}
	patch, err := sb.Diff(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := "diff --git a/mod0.py b/mod0.py\n--- a/mod0.py\n+++ b/mod0.py\n@@ -5 +5 @@\n-return a - b\n+return a + b\n"
	if patch != want {
		t.Errorf("Diff =\n%s\nwant\n%s", patch, want)
	}
	if v := handTask().Grade(patch); !v.Resolved {
		t.Errorf("the sandbox's own diff does not resolve: %s", v.Detail)
	}
}

func TestSandboxGrepCap(t *testing.T) {
	sb := Generate(Hard(), 1)[0].NewSandbox()
	out, _ := sb.Exec(context.Background(), "grep return")
	lines := strings.Split(out.Text, "\n")
	if len(lines) != maxGrepHits+1 || lines[maxGrepHits] != obsMoreMatches {
		t.Errorf("grep return: %d lines, last %q", len(lines), lines[len(lines)-1])
	}
}

func TestSandboxFiles(t *testing.T) {
	ctx := context.Background()
	task := handTask()
	sb := task.NewSandbox()
	if d, err := sb.Diff(ctx); err != nil || d != "" {
		t.Errorf("fresh Diff = %q, %v", d, err)
	}
	for _, p := range []string{"mod0.py", "/sim/mod0.py", "./mod0.py", "x/../mod0.py"} {
		b, err := sb.ReadFile(ctx, p, 1<<20)
		if err != nil || string(b) != task.files["mod0.py"] {
			t.Errorf("ReadFile(%q) = %q, %v", p, b, err)
		}
	}
	if _, err := sb.ReadFile(ctx, "nope.py", 100); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadFile(missing) = %v, want fs.ErrNotExist", err)
	}
	for _, p := range []string{"/etc/passwd", "../x", "/sim", "."} {
		if _, err := sb.ReadFile(ctx, p, 100); !errors.Is(err, fs.ErrPermission) {
			t.Errorf("ReadFile(%q) = %v, want fs.ErrPermission", p, err)
		}
		if err := sb.WriteFile(ctx, p, []byte("x")); !errors.Is(err, fs.ErrPermission) {
			t.Errorf("WriteFile(%q) = %v, want fs.ErrPermission", p, err)
		}
	}
	b, err := sb.ReadFile(ctx, "mod1.py", 4)
	if !errors.Is(err, sandbox.ErrTooLarge) || string(b) != "def " {
		t.Errorf("ReadFile over the limit = %q, %v", b, err)
	}
	// The scaffold's way of editing: write the whole file back.
	fixed := strings.Replace(task.files["mod0.py"], "return a - b", "return a + b", 1)
	if err := sb.WriteFile(ctx, "/sim/mod0.py", []byte(fixed)); err != nil {
		t.Fatal(err)
	}
	if err := sb.WriteFile(ctx, "extra/mod9.py", []byte("def f9 ( a ) :\nreturn a\n")); err != nil {
		t.Fatal(err)
	}
	if out, _ := sb.Exec(ctx, "ls"); out.Text != "extra/mod9.py\nmod0.py\nmod1.py" {
		t.Errorf("ls after WriteFile = %q", out.Text)
	}
	if out, _ := sb.Exec(ctx, "run_tests"); out.ExitCode != 0 {
		t.Errorf("run_tests after the fix: %q", out.Text)
	}
	patch, _ := sb.Diff(ctx)
	if !strings.Contains(patch, "--- /dev/null\n+++ b/extra/mod9.py\n@@ -0,0 +1,2 @@\n+def f9 ( a ) :\n+return a\n") {
		t.Errorf("Diff misses the new file:\n%s", patch)
	}
	if v := task.Grade(patch); !v.Resolved {
		t.Errorf("patch with a new file not resolved: %s", v.Detail)
	}
	// A fresh sandbox starts from the base again.
	if d, _ := task.NewSandbox().Diff(ctx); d != "" {
		t.Errorf("a new sandbox shares state: %q", d)
	}
}

func TestSandboxContextAndClose(t *testing.T) {
	sb := handTask().NewSandbox()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := sb.Exec(ctx, "ls"); !errors.Is(err, context.Canceled) {
		t.Errorf("Exec(canceled) = %v", err)
	}
	if _, err := sb.ReadFile(ctx, "mod0.py", 10); !errors.Is(err, context.Canceled) {
		t.Errorf("ReadFile(canceled) = %v", err)
	}
	if err := sb.WriteFile(ctx, "mod0.py", nil); !errors.Is(err, context.Canceled) {
		t.Errorf("WriteFile(canceled) = %v", err)
	}
	if _, err := sb.Diff(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Diff(canceled) = %v", err)
	}
	bg := context.Background()
	if err := sb.Close(bg); err != nil {
		t.Fatal(err)
	}
	if _, err := sb.Exec(bg, "ls"); !errors.Is(err, sandbox.ErrDied) {
		t.Errorf("Exec after Close = %v, want ErrDied", err)
	}
	if _, err := sb.Diff(bg); !errors.Is(err, sandbox.ErrDied) {
		t.Errorf("Diff after Close = %v, want ErrDied", err)
	}
}

func TestFactory(t *testing.T) {
	tasks := Generate(Easy(), 3)
	f := NewFactory(tasks)
	ctx := context.Background()
	spec := func(id string) sandbox.Spec {
		return sandbox.Spec{Task: messages.TaskRef{ID: id}, Ref: messages.EpisodeRef{TaskID: id}, Attempt: 1}
	}
	a, err := f.Start(ctx, spec(tasks[1].ID))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := f.Start(ctx, spec(tasks[1].ID))
	if _, err := a.Exec(ctx, "fix "+tasks[1].Bug.File+" "+itoa(tasks[1].Bug.Line)+" "+tasks[1].Bug.Fix); err != nil {
		t.Fatal(err)
	}
	da, _ := a.Diff(ctx)
	db, _ := b.Diff(ctx)
	if da == "" || db != "" {
		t.Errorf("sandboxes of one task share files: %q / %q", da, db)
	}
	if _, err := f.Start(ctx, spec("sim-nope")); !errors.Is(err, sandbox.ErrPermanent) {
		t.Errorf("Start(unknown) = %v, want ErrPermanent", err)
	}
}

func TestTraceLine(t *testing.T) {
	task := Generate(Guided(), 1)[0]
	s := task.NewSandbox()
	ctx := context.Background()
	run := func(cmd string) string {
		t.Helper()
		out, err := s.Exec(ctx, cmd)
		if err != nil {
			t.Fatal(err)
		}
		return out.Text
	}
	b := task.Bug
	tr := func(file string, n int, cur, fix string) string {
		return fmt.Sprintf("trace %s %d %s\nwant %s %d %s", file, n, cur, file, n, fix)
	}
	want := tr(b.File, b.Line, b.Buggy, b.Fix)
	report := run("run_tests")
	if !strings.HasSuffix(report, "passed\n"+want) {
		t.Fatalf("report does not end with the summary line and %q:\n%s", want, report)
	}
	// A wrong edit of mod0.py's first body line that is not the bug: the trace
	// points at whichever of the two comes first.
	gold := strings.Split(task.Files()["mod0.py"], "\n")
	other := 2
	if b.File == "mod0.py" && b.Line == 2 {
		other = 3
	}
	if strings.HasPrefix(gold[other-1], "def") {
		t.Skipf("mod0.py line %d is a def line", other)
	}
	orig := gold[other-1]
	wrong := "return a"
	if orig == wrong {
		wrong = "return b"
	}
	run(fmt.Sprintf("fix mod0.py %d %s", other, wrong))
	want = tr("mod0.py", other, wrong, orig)
	if b.File == "mod0.py" && b.Line < other {
		want = tr(b.File, b.Line, b.Buggy, b.Fix)
	}
	if got := run("run_tests"); !strings.HasSuffix(got, want) {
		t.Errorf("after a wrong edit of mod0.py %d the report lacks %q:\n%s", other, want, got)
	}
	run(fmt.Sprintf("fix mod0.py %d %s", other, orig))
	run(fmt.Sprintf("fix %s %d %s", b.File, b.Line, b.Fix))
	if got := run("run_tests"); strings.Contains(got, "trace") || strings.Contains(got, "FAIL") {
		t.Errorf("fixed repository still reports:\n%s", got)
	}
	// Without Trace there is never a trace line.
	plain := Generate(Default(), 1)[0].NewSandbox()
	if out, _ := plain.Exec(ctx, "run_tests"); strings.Contains(out.Text, "trace") {
		t.Errorf("Default world printed a trace:\n%s", out.Text)
	}
}
