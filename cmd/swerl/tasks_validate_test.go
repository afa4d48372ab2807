package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/swerl/swerl/swe"
	"github.com/swerl/swerl/swe/builtin"
)

// oneTaskFile is writeTaskFile's good task alone, changed by edit.
func oneTaskFile(t *testing.T, edit func(*swe.Task)) (file, mirror string) {
	t.Helper()
	all, mirror := writeTaskFile(t)
	tasks, _ := swe.LoadTasks(all) // its third line is malformed on purpose
	task := tasks[0]
	if edit != nil {
		edit(&task)
	}
	line, err := json.Marshal(task)
	if err != nil {
		t.Fatal(err)
	}
	file = filepath.Join(t.TempDir(), "one.jsonl")
	if err := os.WriteFile(file, append(line, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	return file, mirror
}

func validate(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = run(context.Background(), append([]string{"tasks", "validate"}, args...), &out, &errOut)
	return out.String(), errOut.String(), err
}

func wantIn(t *testing.T, out string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}

// A test runner that cannot start: both grades are errors (not "unresolved", and
// the empty patch's error is not counted as resolved), with the log's tail in the
// detail, every log kept with --keep-logs, and a non-zero exit.
func TestTasksValidateRunnerError(t *testing.T) {
	file, mirror := oneTaskFile(t, func(task *swe.Task) {
		task.InstallConfig = &swe.InstallConfig{TestCmd: "no-such-runner -rA", LogParser: "pytest"}
	})
	logs := filepath.Join(t.TempDir(), "logs")
	out, errOut, err := validate(t, file, "--repos", mirror, "--checkouts", t.TempDir(), "--keep-logs", logs)
	if err == nil || !strings.Contains(err.Error(), "1 of 1 tasks gave a wrong result or an error (2 grading errors") {
		t.Fatalf("err = %v\n%s\n%s", err, out, errOut)
	}
	wantIn(t, out, "error  error", "gold: error: exit 127: command not found:", "no-such-runner",
		"empty: error: exit 127", "grading errors:", "swerl__clamp-1, empty patch: grader: task swerl__clamp-1",
		"fix: ", "gold resolved 0/1 (0%), empty resolved 0/1 (0%), errors 2", "test logs in "+logs)
	for _, name := range []string{"swerl__clamp-1.a1.t1.log", "swerl__clamp-1.a1.t1.control.log", "swerl__clamp-1.a2.t1.log"} {
		b, err := os.ReadFile(filepath.Join(logs, name))
		if err != nil || !strings.Contains(string(b), "no-such-runner") {
			t.Errorf("kept log %s: %v %q", name, err, b)
		}
	}
}

// Right results show both grades' counts, and --repos and --checkouts may be
// relative to the working directory.
func TestTasksValidateCountsAndRelativeDirs(t *testing.T) {
	file, mirror := oneTaskFile(t, nil)
	t.Chdir(filepath.Dir(mirror))
	out, errOut, err := validate(t, file, "--repos", filepath.Base(mirror), "--checkouts", "checkouts")
	if err != nil {
		t.Fatalf("%v\n%s\n%s", err, out, errOut)
	}
	wantIn(t, out, "gold F2P 1/1 P2P 1/1; empty F2P 0/1 P2P 1/1", "gold resolved 1/1 (100%), empty resolved 0/1 (0%), errors 0")
	if _, err := os.Stat(filepath.Join(filepath.Dir(mirror), "checkouts")); err != nil {
		t.Errorf("checkouts not made under the working directory: %v", err)
	}
}

// The built-in suite's own JSONL given by path resolves like `builtin` (one of its
// Python tasks: pytest runs faster than a cold go build).
func TestTasksValidateBuiltinFileByPath(t *testing.T) {
	var line []byte
	for _, l := range bytes.Split(builtin.JSONL(), []byte("\n")) {
		if bytes.Contains(l, []byte(`"language":"python"`)) {
			line = l
			break
		}
	}
	if line == nil {
		t.Fatal("no Python task in the built-in suite")
	}
	file := filepath.Join(t.TempDir(), "tasks.jsonl")
	if err := os.WriteFile(file, append(line, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, err := validate(t, file, "--checkouts", t.TempDir())
	if err != nil {
		t.Fatalf("%v\n%s\n%s", err, out, errOut)
	}
	wantIn(t, out, "gold resolved 1/1 (100%), empty resolved 0/1 (0%), errors 0")
}

// --concurrency defaults to the machine's CPUs.
func TestTasksValidateConcurrencyDefault(t *testing.T) {
	_, errOut, _ := validate(t, "-h")
	wantIn(t, errOut, fmt.Sprintf("tasks graded at once (one per CPU unless set) (default %d)", runtime.NumCPU()), "-keep-logs")
}
