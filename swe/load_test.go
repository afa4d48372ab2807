package swe

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/swerl/swerl/messages"
)

// taskLine builds one JSONL line from a base SWE-bench row with fields replaced
// (a nil value deletes the key).
func taskLine(t testing.TB, over map[string]any) string {
	t.Helper()
	row := map[string]any{
		"instance_id":              "octo__widgets-1",
		"repo":                     "octo/widgets",
		"base_commit":              "0123456789abcdef0123456789abcdef01234567",
		"patch":                    "diff --git a/w.py b/w.py\n",
		"test_patch":               "diff --git a/tests/test_w.py b/tests/test_w.py\n",
		"problem_statement":        "Widget.resize drops the border.",
		"hints_text":               "",
		"version":                  "1.2",
		"FAIL_TO_PASS":             `["tests/test_w.py::test_resize_keeps_border"]`,
		"PASS_TO_PASS":             `["tests/test_w.py::test_resize"]`,
		"environment_setup_commit": "0123456789abcdef0123456789abcdef01234567",
		"created_at":               "2023-05-01T12:00:00Z",
	}
	for k, v := range over {
		if v == nil {
			delete(row, k)
		} else {
			row[k] = v
		}
	}
	b, err := json.Marshal(row)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestReadTasksSWEBenchRow(t *testing.T) {
	tasks, err := ReadTasks(strings.NewReader(taskLine(t, nil)+"\n"), "tasks.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	want := Task{
		InstanceID:             "octo__widgets-1",
		Repo:                   "octo/widgets",
		BaseCommit:             "0123456789abcdef0123456789abcdef01234567",
		Patch:                  "diff --git a/w.py b/w.py\n",
		TestPatch:              "diff --git a/tests/test_w.py b/tests/test_w.py\n",
		ProblemStatement:       "Widget.resize drops the border.",
		Version:                "1.2",
		FailToPass:             TestList{"tests/test_w.py::test_resize_keeps_border"},
		PassToPass:             TestList{"tests/test_w.py::test_resize"},
		EnvironmentSetupCommit: "0123456789abcdef0123456789abcdef01234567",
		CreatedAt:              "2023-05-01T12:00:00Z",
	}
	if len(tasks) != 1 || !reflect.DeepEqual(tasks[0], want) {
		t.Errorf("got %+v\nwant %+v", tasks, want)
	}
	if ref := tasks[0].Ref(); ref != (messages.TaskRef{ID: "octo__widgets-1", Statement: "Widget.resize drops the border."}) {
		t.Errorf("Ref() = %+v", ref)
	}
}

func TestReadTasksSWERebenchRow(t *testing.T) {
	line := taskLine(t, map[string]any{
		"FAIL_TO_PASS": []string{"tests/test_w.py::test_a", "tests/test_w.py::test_b"},
		"PASS_TO_PASS": []string{},
		"docker_image": "swerebench/sweb.eval.x86_64.octo_1776_widgets-1",
		"install_config": map[string]any{
			"python":       "3.9",
			"packages":     "requirements.txt",
			"pip_packages": []string{"pytest", "hypothesis"},
			"pre_install":  []string{"apt-get update", "apt-get install -y gcc"},
			"install":      "pip install -e .",
			"test_cmd":     "pytest --no-header -rA --tb=line --color=no -p no:cacheprovider -W ignore::DeprecationWarning",
			"log_parser":   "parse_log_pytest",
			"env":          map[string]any{"TZ": "UTC", "WORKERS": 2, "CI": true},
			"no_use_env":   nil,
		},
		"meta": map[string]any{"llm_score": map[string]int{"difficulty_score": 1}, "num_modified_files": 2},
	})
	tasks, err := ReadTasks(strings.NewReader(line), "rebench.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	task := tasks[0]
	if !reflect.DeepEqual(task.FailToPass, TestList{"tests/test_w.py::test_a", "tests/test_w.py::test_b"}) || len(task.PassToPass) != 0 {
		t.Errorf("lists: %v %v", task.FailToPass, task.PassToPass)
	}
	ic := task.InstallConfig
	if ic == nil {
		t.Fatal("no install_config")
	}
	if ic.TestCmd != "pytest --no-header -rA --tb=line --color=no -p no:cacheprovider -W ignore::DeprecationWarning" ||
		ic.LogParser != "parse_log_pytest" || ic.Install != "pip install -e ." ||
		ic.PreInstall != "apt-get update && apt-get install -y gcc" {
		t.Errorf("install_config: %+v", ic)
	}
	if !reflect.DeepEqual(ic.Env, map[string]string{"TZ": "UTC", "WORKERS": "2", "CI": "true"}) {
		t.Errorf("env: %v", ic.Env)
	}
	var keys []string
	for k := range ic.Extra {
		keys = append(keys, k)
	}
	for _, k := range []string{"python", "packages", "pip_packages", "no_use_env"} {
		if _, ok := ic.Extra[k]; !ok {
			t.Errorf("Extra lacks %q (has %v)", k, keys)
		}
	}
	if _, ok := ic.Extra["pre_install"]; ok {
		t.Errorf("pre_install, a known field, is also in Extra")
	}
	if string(ic.Extra["pip_packages"]) != `["pytest","hypothesis"]` {
		t.Errorf("Extra[pip_packages] = %s", ic.Extra["pip_packages"])
	}
	if task.DockerImage != "swerebench/sweb.eval.x86_64.octo_1776_widgets-1" {
		t.Errorf("docker_image = %q", task.DockerImage)
	}
	if !strings.Contains(string(task.Meta), `"num_modified_files":2`) {
		t.Errorf("meta = %s", task.Meta)
	}
}

func TestInstallConfigForms(t *testing.T) {
	tests := []struct {
		name, json string
		want       InstallConfig
	}{
		{"test_cmd list", `{"test_cmd": ["go build ./...", "go test -v ./..."]}`,
			InstallConfig{TestCmd: "go build ./... && go test -v ./..."}},
		{"install list", `{"install": ["pip install -e .", "", "pip install pytest"]}`,
			InstallConfig{Install: "pip install -e . && pip install pytest"}},
		{"pre_install list", `{"pre_install": ["apt-get update", "apt-get install -y gcc"]}`,
			InstallConfig{PreInstall: "apt-get update && apt-get install -y gcc"}},
		{"pre_install string", `{"pre_install": "apt-get update"}`, InstallConfig{PreInstall: "apt-get update"}},
		{"nulls", `{"test_cmd": null, "log_parser": null, "pre_install": null, "env": null}`, InstallConfig{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got InstallConfig
			if err := json.Unmarshal([]byte(tt.json), &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	// A JSON string holding the object (as some dataset exports write it).
	line := taskLine(t, map[string]any{"install_config": `{"test_cmd": "pytest -rA", "log_parser": "parse_log_pytest_v2"}`})
	tasks, err := ReadTasks(strings.NewReader(line), "x.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	if ic := tasks[0].InstallConfig; ic == nil || ic.TestCmd != "pytest -rA" || ic.LogParser != "parse_log_pytest_v2" {
		t.Errorf("install_config = %+v", ic)
	}
}

func TestRoundTrip(t *testing.T) {
	in := taskLine(t, map[string]any{
		"FAIL_TO_PASS":   `["a", "b"]`,
		"install_config": map[string]any{"test_cmd": "pytest -rA", "python": "3.11", "env": map[string]string{"A": "1"}},
	})
	tasks, err := ReadTasks(strings.NewReader(in), "x.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(tasks[0])
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out, []byte(`"FAIL_TO_PASS":["a","b"]`)) || !bytes.Contains(out, []byte(`"install_config":{"env":{"A":"1"},"python":"3.11","test_cmd":"pytest -rA"}`)) {
		t.Errorf("marshalled: %s", out)
	}
	again, err := ReadTasks(bytes.NewReader(out), "y.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(again[0], tasks[0]) {
		t.Errorf("round trip changed the task:\n%+v\n%+v", again[0], tasks[0])
	}
	if b, _ := json.Marshal(TestList(nil)); string(b) != "[]" {
		t.Errorf("nil TestList marshals as %s", b)
	}
}

func TestTestListForms(t *testing.T) {
	tests := []struct {
		json string
		want TestList
		err  string
	}{
		{`["a", "b"]`, TestList{"a", "b"}, ""},
		{`"[\"a\", \"b\"]"`, TestList{"a", "b"}, ""},
		{`[]`, TestList{}, ""},
		{`"[]"`, TestList{}, ""},
		{`""`, nil, ""},
		{`null`, nil, ""},
		{`7`, nil, "want a list of strings or a JSON string holding one, got number"},
		{`{"a": 1}`, nil, "got object"},
		{`[1, "a"]`, nil, "got a list with a number at index 0"},
		{`"tests/test_a.py::test_x"`, nil, `got a string that is not a JSON list: "tests/test_a.py::test_x"`},
		{`"[1]"`, nil, "got a list with a number at index 0"},
		{`"[\"a\""`, nil, "malformed list"},
	}
	for _, tt := range tests {
		var got TestList
		err := json.Unmarshal([]byte(tt.json), &got)
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("%s: %v", tt.json, err)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("%s: error %v, want one containing %q", tt.json, err, tt.err)
		case tt.err == "" && !reflect.DeepEqual(got, tt.want):
			t.Errorf("%s: got %#v, want %#v", tt.json, got, tt.want)
		}
	}
}

func TestReadTasksBadLines(t *testing.T) {
	good := func(id string) string { return taskLine(t, map[string]any{"instance_id": id}) }
	lines := []string{
		good("ok-1"),                 // 1
		"",                           // 2: blank, skipped
		`{"instance_id": "broken", `, // 3
		taskLine(t, map[string]any{"instance_id": "bad-f2p", "FAIL_TO_PASS": 7}),      // 4
		taskLine(t, map[string]any{"instance_id": "no-repo", "repo": nil}),            // 5
		taskLine(t, map[string]any{"instance_id": "empty-f2p", "FAIL_TO_PASS": "[]"}), // 6
		"   \t ",     // 7: blank
		good("ok-1"), // 8: duplicate of line 1
		taskLine(t, map[string]any{"instance_id": "wrong-types", "repo": 5, "patch": []int{1}, "version": 3.0}), // 9
		`[1, 2]`, // 10
		taskLine(t, map[string]any{"instance_id": "bad-ic", "install_config": map[string]any{"test_cmd": 5}}), // 11
		taskLine(t, map[string]any{"instance_id": "no-f2p", "FAIL_TO_PASS": nil, "base_commit": ""}),          // 12
		good("ok-2"), // 13
		taskLine(t, map[string]any{"instance_id": "bad-meta", "meta": "x", "install_config": map[string]any{"env": []int{}}}), // 14
		`null`, // 15
	}
	tasks, err := ReadTasks(strings.NewReader(strings.Join(lines, "\n")), "tasks.jsonl")
	if len(tasks) != 2 || tasks[0].InstanceID != "ok-1" || tasks[1].InstanceID != "ok-2" {
		t.Errorf("good tasks: %v", tasks)
	}
	var le *LoadError
	if !errors.As(err, &le) {
		t.Fatalf("error %v (%T), want a *LoadError", err, err)
	}
	want := []LineError{
		{"tasks.jsonl", 3, "", "malformed JSON: unexpected end of JSON input"},
		{"tasks.jsonl", 4, "FAIL_TO_PASS", "want a list of strings or a JSON string holding one, got number"},
		{"tasks.jsonl", 5, "repo", "missing (required)"},
		{"tasks.jsonl", 6, "FAIL_TO_PASS", "empty; fix: every task needs at least one FAIL_TO_PASS test"},
		{"tasks.jsonl", 8, "instance_id", `duplicate "ok-1": already on line 1 (the first is kept)`},
		{"tasks.jsonl", 9, "repo", "want a string, got number"},
		{"tasks.jsonl", 9, "patch", "want a string, got list"},
		{"tasks.jsonl", 10, "", "want a JSON object, got list"},
		{"tasks.jsonl", 11, "install_config.test_cmd", "want a string or a list of strings, got number"},
		{"tasks.jsonl", 12, "base_commit", "empty (required)"},
		{"tasks.jsonl", 12, "FAIL_TO_PASS", "missing; fix: every task needs at least one FAIL_TO_PASS test"},
		{"tasks.jsonl", 14, "install_config.env", "want an object of strings, got list"},
		{"tasks.jsonl", 14, "meta", "want an object or a JSON string holding one, got string"},
		{"tasks.jsonl", 15, "", "want a JSON object, got null"},
	}
	if !reflect.DeepEqual(le.Errs, want) {
		t.Errorf("line errors:\n%s", le)
		for i := range max(len(want), len(le.Errs)) {
			var g, w LineError
			if i < len(le.Errs) {
				g = le.Errs[i]
			}
			if i < len(want) {
				w = want[i]
			}
			if g != w {
				t.Errorf("#%d: got  %#v\n     want %#v", i, g, w)
			}
		}
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "tasks.jsonl: 11 bad line(s)\n") ||
		!strings.Contains(msg, "\n  tasks.jsonl:4: FAIL_TO_PASS: want a list of strings or a JSON string holding one, got number") {
		t.Errorf("Error() = %s", msg)
	}
	var one LineError
	if !errors.As(err, &one) || one.Line != 3 {
		t.Errorf("errors.As(LineError) = %+v", one)
	}
}

func TestReadTasksVersionNumberKept(t *testing.T) {
	tasks, err := ReadTasks(strings.NewReader(`{"instance_id":"a","repo":"o/r","base_commit":"c","problem_statement":"p","FAIL_TO_PASS":["t"],"version":3.0,"created_at":1700000000000}`), "x")
	if err != nil {
		t.Fatal(err)
	}
	if tasks[0].Version != "3.0" || tasks[0].CreatedAt != "1700000000000" {
		t.Errorf("version %q created_at %q", tasks[0].Version, tasks[0].CreatedAt)
	}
}

func TestReadTasksLongLine(t *testing.T) {
	big := "diff --git a/big.txt b/big.txt\n" + strings.Repeat("+"+strings.Repeat("x", 1023)+"\n", 2048) // 2 MiB
	lines := taskLine(t, map[string]any{"instance_id": "big", "patch": big}) + "\n" + taskLine(t, map[string]any{"instance_id": "after"}) + "\n"
	tasks, err := ReadTasks(strings.NewReader(lines), "big.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks) != 2 || tasks[0].Patch != big || tasks[1].InstanceID != "after" {
		t.Errorf("got %d tasks", len(tasks))
	}
}

func TestReadTasksEmptyAndBOM(t *testing.T) {
	if _, err := ReadTasks(strings.NewReader("\n\n  \n"), "empty.jsonl"); err == nil || !strings.Contains(err.Error(), "empty.jsonl: no tasks") {
		t.Errorf("empty file: %v", err)
	}
	tasks, err := ReadTasks(strings.NewReader("\uFEFF"+taskLine(t, nil)+"\r\n"), "bom.jsonl")
	if err != nil || len(tasks) != 1 {
		t.Errorf("BOM + CRLF: %v %v", tasks, err)
	}
}

func TestReadTasksJSONArray(t *testing.T) {
	in := "[\n  " + taskLine(t, map[string]any{"instance_id": "a"}) + ",\n  " +
		taskLine(t, map[string]any{"instance_id": "b", "FAIL_TO_PASS": 1}) + ",\n  " +
		taskLine(t, map[string]any{"instance_id": "c"}) + "\n]\n"
	tasks, err := ReadTasks(strings.NewReader(in), "tasks.json")
	if len(tasks) != 2 || tasks[0].InstanceID != "a" || tasks[1].InstanceID != "c" {
		t.Errorf("tasks: %v", tasks)
	}
	var le *LoadError
	if !errors.As(err, &le) || len(le.Errs) != 1 || le.Errs[0].Line != 3 || le.Errs[0].Field != "FAIL_TO_PASS" {
		t.Errorf("err = %v", err)
	}
	_, err = ReadTasks(strings.NewReader("[\n"+taskLine(t, nil)+",\n{oops}\n]"), "bad.json")
	if !errors.As(err, &le) || le.Errs[0].Line != 3 {
		t.Errorf("malformed array: %v", err)
	}
}

func TestLoadTasksFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tasks.jsonl")
	if err := os.WriteFile(path, []byte(taskLine(t, nil)+"\n"+taskLine(t, map[string]any{"instance_id": "x", "repo": ""})+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tasks, err := LoadTasks(path)
	if len(tasks) != 1 {
		t.Errorf("tasks: %v", tasks)
	}
	if err == nil || !strings.Contains(err.Error(), path+":2: repo: empty (required)") {
		t.Errorf("err = %v", err)
	}
	if _, err := LoadTasks(filepath.Join(t.TempDir(), "missing.jsonl")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// FuzzReadTasks: never panics; in JSON Lines, every non-blank line gives a task or
// at least one line error, never both.
func FuzzReadTasks(f *testing.F) {
	f.Add(taskLine(f, nil) + "\n" + taskLine(f, map[string]any{"FAIL_TO_PASS": 1}) + "\n\n{")
	f.Add(taskLine(f, map[string]any{"install_config": map[string]any{"test_cmd": []string{"a"}, "env": map[string]int{"A": 1}}}))
	f.Add(`{"instance_id":"a","repo":"r","base_commit":"c","problem_statement":"p","FAIL_TO_PASS":"[\"x\"]","meta":"{}"}`)
	f.Add("[" + taskLine(f, nil) + "]")
	f.Add("\uFEFF[")
	f.Fuzz(func(t *testing.T, in string) {
		tasks, err := ReadTasks(strings.NewReader(in), "fuzz.jsonl")
		if strings.HasPrefix(strings.TrimLeft(strings.TrimPrefix(in, "\uFEFF"), " \t\r\n"), "[") {
			return // JSON array mode: no per-line accounting
		}
		if strings.HasPrefix(in, parquetMagic) {
			return // Parquet mode: FuzzReadTasksParquet
		}
		nonBlank := 0
		for l := range strings.Lines(in) {
			if strings.TrimSpace(strings.TrimPrefix(l, "\uFEFF")) != "" {
				nonBlank++
			}
		}
		bad := map[int]bool{}
		var le *LoadError
		if errors.As(err, &le) {
			for _, e := range le.Errs {
				bad[e.Line] = true
			}
		} else if err != nil && nonBlank > 0 {
			t.Fatalf("plain error with %d non-blank lines: %v", nonBlank, err)
		}
		if len(tasks)+len(bad) != nonBlank {
			t.Fatalf("%d tasks + %d bad lines != %d non-blank lines (err %v)", len(tasks), len(bad), nonBlank, err)
		}
		for _, task := range tasks {
			if task.InstanceID == "" || len(task.FailToPass) == 0 {
				t.Fatalf("bad task loaded: %+v", task)
			}
		}
	})
}
