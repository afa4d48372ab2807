package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/swerl/swerl/swe"
	"github.com/swerl/swerl/swe/checkout"
)

// writeTaskFile makes a mirror holding a clone of swerl/clamp and a task file with
// one good task, one task whose gold patch is wrong, and one malformed line.
func writeTaskFile(t *testing.T) (file, mirror string) {
	t.Helper()
	ctx := context.Background()
	mirror = t.TempDir()
	repo := filepath.Join(mirror, "swerl__clamp")
	files := map[string][]byte{
		"clamp/__init__.py":   []byte("def clamp(x, lo, hi):\n    if x < lo:\n        return lo\n    return x\n"),
		"tests/test_clamp.py": []byte("from clamp import clamp\n\n\ndef test_low():\n    assert clamp(-5, 0, 10) == 0\n"),
	}
	if err := os.MkdirAll(repo, 0o755); err != nil {
		t.Fatal(err)
	}
	base, err := checkout.Commit(ctx, repo, files)
	if err != nil {
		t.Fatal(err)
	}
	gold, err := checkout.Diff(ctx, repo, map[string][]byte{
		"clamp/__init__.py": []byte("def clamp(x, lo, hi):\n    if x < lo:\n        return lo\n    if x > hi:\n        return hi\n    return x\n")})
	if err != nil {
		t.Fatal(err)
	}
	tests, err := checkout.Diff(ctx, repo, map[string][]byte{
		"tests/test_clamp.py": append(files["tests/test_clamp.py"], "\n\ndef test_high():\n    assert clamp(50, 0, 10) == 10\n"...)})
	if err != nil {
		t.Fatal(err)
	}
	task := swe.Task{InstanceID: "swerl__clamp-1", Repo: "swerl/clamp", BaseCommit: base, Patch: gold, TestPatch: tests,
		ProblemStatement: "clamp ignores hi", FailToPass: swe.TestList{"tests/test_clamp.py::test_high"},
		PassToPass: swe.TestList{"tests/test_clamp.py::test_low"}, Meta: json.RawMessage(`{"language":"python"}`)}
	wrong := task
	wrong.InstanceID, wrong.Patch = "swerl__clamp-2", strings.Replace(gold, "return hi", "return lo", 1)
	var buf bytes.Buffer
	for _, tk := range []swe.Task{task, wrong} {
		line, _ := json.Marshal(tk)
		buf.Write(append(line, '\n'))
	}
	buf.WriteString(`{"instance_id": "swerl__clamp-3", "repo": "swerl/clamp", "FAIL_TO_PASS": 7}` + "\n")
	file = filepath.Join(t.TempDir(), "tasks.jsonl")
	if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return file, mirror
}

func TestTasksValidate(t *testing.T) {
	file, mirror := writeTaskFile(t)
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"tasks", "validate", file, "--sandbox", "local", "--repos", mirror,
		"--checkouts", t.TempDir()}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "1 of 2 tasks gave a wrong result") {
		t.Fatalf("err = %v\n%s\n%s", err, out.String(), errOut.String())
	}
	table := out.String()
	for _, want := range []string{"swerl__clamp-1", "resolved  unresolved", "swerl__clamp-2", "gold: FAIL_TO_PASS 0/1", "gold resolved 1/2 (50%), empty resolved 0/2 (0%)"} {
		if !strings.Contains(table, want) {
			t.Errorf("output lacks %q:\n%s", want, table)
		}
	}
	if !strings.Contains(errOut.String(), "tasks.jsonl:3") || !strings.Contains(errOut.String(), "FAIL_TO_PASS") {
		t.Errorf("the malformed line is not named by file, line and field:\n%s", errOut.String())
	}
	if err := run(context.Background(), []string{"tasks", "validate"}, &out, &errOut); err == nil {
		t.Error("validate without a file succeeded")
	}
	if err := run(context.Background(), []string{"tasks", "validate", file, "--repos", t.TempDir(), "--checkouts", t.TempDir()}, &bytes.Buffer{}, &errOut); err == nil {
		t.Error("validate without the repositories succeeded")
	}
}

// taskRow is a task file row as the hub's SWE-rebench Parquet files lay it out.
type taskRow struct {
	InstanceID       string   `parquet:"instance_id"`
	Repo             string   `parquet:"repo"`
	BaseCommit       string   `parquet:"base_commit"`
	Patch            string   `parquet:"patch"`
	TestPatch        string   `parquet:"test_patch"`
	ProblemStatement string   `parquet:"problem_statement"`
	FailToPass       []string `parquet:"FAIL_TO_PASS,list"`
	PassToPass       []string `parquet:"PASS_TO_PASS,list"`
	Meta             struct {
		Language string `parquet:"language"`
	} `parquet:"meta"`
}

// A Parquet task file validates as its JSON Lines twin does, and --instances and
// --limit pick its tasks in file order before any is graded; an id the file lacks
// is named.
func TestTasksValidateParquetSelect(t *testing.T) {
	jsonl, mirror := writeTaskFile(t)
	tasks, _ := swe.LoadTasks(jsonl) // line 3 is malformed; the two good tasks load
	var rows []taskRow
	for _, tk := range tasks {
		r := taskRow{InstanceID: tk.InstanceID, Repo: tk.Repo, BaseCommit: tk.BaseCommit, Patch: tk.Patch, TestPatch: tk.TestPatch,
			ProblemStatement: tk.ProblemStatement, FailToPass: tk.FailToPass, PassToPass: tk.PassToPass}
		r.Meta.Language = "python"
		rows = append(rows, r)
	}
	file := filepath.Join(t.TempDir(), "train-00000-of-00001.parquet")
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[taskRow](&buf)
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"tasks", "validate", file, "--sandbox", "local", "--repos", mirror,
		"--checkouts", t.TempDir(), "--instances", "swerl__clamp-2, swerl__clamp-1", "--limit", "1"}, &out, &errOut)
	if err != nil {
		t.Fatalf("validate swerl__clamp-1 only: %v\n%s\n%s", err, out.String(), errOut.String())
	}
	table := out.String()
	if !strings.Contains(table, "swerl__clamp-1") || strings.Contains(table, "swerl__clamp-2") ||
		!strings.Contains(table, "gold resolved 1/1 (100%), empty resolved 0/1 (0%)") {
		t.Errorf("want swerl__clamp-1 alone, graded right:\n%s", table)
	}

	out.Reset()
	err = run(context.Background(), []string{"tasks", "validate", file, "--repos", mirror, "--checkouts", t.TempDir(),
		"--instances", "swerl__clamp-1,swerl__nope-9"}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "swerl__nope-9") || strings.Contains(out.String(), "TASK") {
		t.Errorf("unknown instance: %v (output %q), want an error naming swerl__nope-9 before any grading", err, out.String())
	}
}

func TestBenchSandboxLocal(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"bench", "sandbox", "--sandbox", "local", "--count", "3", "--execs", "3"}, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"local (cold)", "ready median", "exec p99"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
