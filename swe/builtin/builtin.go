// Package builtin is swerl's own suite of small SWE tasks: real bugs in small Python
// and Go repositories, each with issue text, gold patch, test patch and
// FAIL_TO_PASS / PASS_TO_PASS lists, in SWE-bench's JSONL format (tasks.jsonl).
//
// Each task is authored as one txtar file in tasks/: task.json (id, language,
// difficulty, test lists), issue.md, repo/... (the repository at its base commit),
// gold/... (the files the fix changes, in full) and test/... (the test files the test
// patch changes, in full). `go generate` turns them into tasks.jsonl, computing the
// deterministic base commit and both patches with git; a test checks that the
// committed file is up to date.
package builtin

//go:generate go run ./gen -o tasks.jsonl

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"

	"golang.org/x/tools/txtar"

	"github.com/swerl/swerl/swe"
	"github.com/swerl/swerl/swe/checkout"
)

//go:embed tasks.jsonl
var tasksJSONL []byte

//go:embed tasks/*.txtar
var sources embed.FS

// Name is the file name the suite is known by (`swerl tasks validate builtin`).
const Name = "builtin"

// Tasks returns the suite, in file order.
func Tasks() ([]swe.Task, error) {
	return swe.ReadTasks(bytes.NewReader(tasksJSONL), "builtin/tasks.jsonl")
}

// JSONL returns the suite's task file as shipped.
func JSONL() []byte { return bytes.Clone(tasksJSONL) }

// Source is one authored task.
type Source struct {
	Name       string
	Meta       Meta
	Issue      string
	Repo       map[string][]byte // base snapshot
	Gold       map[string][]byte // files after the fix
	Test       map[string][]byte // test files after the test patch
	sourceFile string
}

// Meta is a source's task.json.
type Meta struct {
	InstanceID string   `json:"instance_id"`
	Repo       string   `json:"repo"`
	Language   string   `json:"language"`
	Difficulty string   `json:"difficulty"`
	FailToPass []string `json:"FAIL_TO_PASS"`
	PassToPass []string `json:"PASS_TO_PASS"`
	HintsText  string   `json:"hints_text"`
}

// Sources returns every authored task, sorted by name.
func Sources() ([]Source, error) { return ReadSources(sources, "tasks") }

// ReadSources reads the txtar files in dir of fsys.
func ReadSources(fsys fs.FS, dir string) ([]Source, error) {
	names, err := fs.Glob(fsys, path.Join(dir, "*.txtar"))
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var out []Source
	for _, n := range names {
		data, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, err
		}
		s, err := ParseSource(n, data)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// ParseSource parses one txtar task file.
func ParseSource(name string, data []byte) (Source, error) {
	ar := txtar.Parse(data)
	s := Source{Name: strings.TrimSuffix(path.Base(name), ".txtar"), sourceFile: name,
		Repo: map[string][]byte{}, Gold: map[string][]byte{}, Test: map[string][]byte{}}
	bad := func(format string, args ...any) (Source, error) {
		return Source{}, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...))
	}
	for _, f := range ar.Files {
		dirName, rest, _ := strings.Cut(f.Name, "/")
		switch {
		case f.Name == "task.json":
			dec := json.NewDecoder(bytes.NewReader(f.Data))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&s.Meta); err != nil {
				return bad("task.json: %v", err)
			}
		case f.Name == "issue.md":
			s.Issue = strings.TrimSpace(string(f.Data)) + "\n"
		case rest != "" && dirName == "repo":
			s.Repo[rest] = f.Data
		case rest != "" && dirName == "gold":
			s.Gold[rest] = f.Data
		case rest != "" && dirName == "test":
			s.Test[rest] = f.Data
		default:
			return bad("unexpected section %q (want task.json, issue.md, repo/..., gold/..., test/...)", f.Name)
		}
	}
	m := s.Meta
	switch {
	case m.InstanceID != "swerl__"+s.Name+"-1":
		return bad("instance_id %q: want %q", m.InstanceID, "swerl__"+s.Name+"-1")
	case m.Language != "python" && m.Language != "go":
		return bad("language %q: want python or go", m.Language)
	case m.Difficulty != "easy" && m.Difficulty != "medium" && m.Difficulty != "hard":
		return bad("difficulty %q: want easy, medium or hard", m.Difficulty)
	case len(m.FailToPass) == 0:
		return bad("FAIL_TO_PASS is empty")
	case s.Issue == "\n" || s.Issue == "":
		return bad("issue.md is missing")
	case len(s.Repo) == 0 || len(s.Gold) == 0 || len(s.Test) == 0:
		return bad("need repo/, gold/ and test/ sections")
	case len(s.Gold) > 3:
		return bad("gold changes %d files: at most 3", len(s.Gold))
	}
	for p := range s.Gold {
		if isTestFile(m.Language, p) {
			return bad("gold/%s is a test file: the fix must not touch tests", p)
		}
	}
	for p := range s.Test {
		if !isTestFile(m.Language, p) {
			return bad("test/%s is not a test file", p)
		}
	}
	return s, nil
}

func isTestFile(lang, p string) bool {
	if lang == "go" {
		return strings.HasSuffix(p, "_test.go")
	}
	base := path.Base(p)
	return strings.HasPrefix(p, "tests/") || strings.HasPrefix(base, "test_") || base == "conftest.py"
}

// testConfig is the install_config of each language.
var testConfig = map[string]swe.InstallConfig{
	"python": {TestCmd: "python3 -m pytest -rA -p no:cacheprovider", LogParser: "pytest"},
	"go":     {TestCmd: "go test -v -count=1 ./...", LogParser: "gotest"},
}

// Build turns a source into its task, using scratch (an empty directory) to compute
// the base commit and patches with git.
func Build(ctx context.Context, s Source, scratch string) (swe.Task, error) {
	base, err := checkout.Commit(ctx, scratch, s.Repo)
	if err != nil {
		return swe.Task{}, fmt.Errorf("%s: base commit: %w", s.sourceFile, err)
	}
	gold, err := checkout.Diff(ctx, scratch, s.Gold)
	if err != nil {
		return swe.Task{}, fmt.Errorf("%s: gold patch: %w", s.sourceFile, err)
	}
	test, err := checkout.Diff(ctx, scratch, s.Test)
	if err != nil {
		return swe.Task{}, fmt.Errorf("%s: test patch: %w", s.sourceFile, err)
	}
	if gold == "" || test == "" {
		return swe.Task{}, fmt.Errorf("%s: gold or test sections change nothing", s.sourceFile)
	}
	meta, _ := json.Marshal(map[string]any{"language": s.Meta.Language, "difficulty": s.Meta.Difficulty,
		"num_modified_files": len(s.Gold), "source": "swerl builtin"})
	ic := testConfig[s.Meta.Language]
	repo := s.Meta.Repo
	if repo == "" {
		repo = "swerl/" + s.Name
	}
	return swe.Task{
		InstanceID: s.Meta.InstanceID, Repo: repo, BaseCommit: base, Patch: gold, TestPatch: test,
		ProblemStatement: s.Issue, HintsText: s.Meta.HintsText, Version: "1.0",
		FailToPass: s.Meta.FailToPass, PassToPass: s.Meta.PassToPass,
		EnvironmentSetupCommit: base, CreatedAt: "2026-01-01T00:00:00Z",
		InstallConfig: &ic, Meta: meta,
	}, nil
}

// Generate builds every source and returns the suite's JSONL.
func Generate(ctx context.Context, srcs []Source) ([]byte, error) {
	var buf bytes.Buffer
	for _, s := range srcs {
		dir, err := os.MkdirTemp("", "swerl-gen-*")
		if err != nil {
			return nil, err
		}
		t, err := Build(ctx, s, dir)
		os.RemoveAll(dir)
		if err != nil {
			return nil, err
		}
		line, err := json.Marshal(t)
		if err != nil {
			return nil, err
		}
		buf.Write(line)
		buf.WriteByte('\n')
	}
	return buf.Bytes(), nil
}

// Snapshots returns each built-in task's base files by instance id, for a
// checkout.Resolver.
func Snapshots() (map[string]map[string][]byte, error) {
	srcs, err := Sources()
	if err != nil {
		return nil, err
	}
	out := make(map[string]map[string][]byte, len(srcs))
	for _, s := range srcs {
		out[s.Meta.InstanceID] = s.Repo
	}
	return out, nil
}
