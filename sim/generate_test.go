package sim

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func presets() []struct {
	name string
	cfg  Config
} {
	return []struct {
		name string
		cfg  Config
	}{{"easy", Easy()}, {"default", Default()}, {"hard", Hard()}}
}

func TestGenerateDeterministic(t *testing.T) {
	for _, p := range presets() {
		a, b := Generate(p.cfg, 20), Generate(p.cfg, 30)
		for i := range a {
			if !reflect.DeepEqual(a[i], b[i]) {
				t.Fatalf("%s: task %d differs between two runs (seed %d)", p.name, i, p.cfg.Seed)
			}
			if want := fmt.Sprintf("sim-%d-%d", p.cfg.Seed, i); a[i].ID != want {
				t.Errorf("%s: ID %q, want %q", p.name, a[i].ID, want)
			}
		}
		other := p.cfg
		other.Seed++
		c := Generate(other, 20)
		same := 0
		for i := range a {
			if reflect.DeepEqual(a[i].Files(), c[i].Files()) {
				same++
			}
		}
		if same > 1 {
			t.Errorf("%s: seeds %d and %d share %d of 20 repositories", p.name, p.cfg.Seed, other.Seed, same)
		}
	}
}

func TestGenerateInvariants(t *testing.T) {
	for _, p := range presets() {
		kinds := map[BugKind]int{}
		for _, task := range generated(p.cfg, presetTasks[p.name]) {
			where := fmt.Sprintf("%s %s (seed %d)", p.name, task.ID, p.cfg.Seed)
			kinds[task.Bug.Kind]++
			files := task.Files()
			if len(files) != p.cfg.Files {
				t.Fatalf("%s: %d files, want %d", where, len(files), p.cfg.Files)
			}
			lines := splitLines(files[task.Bug.File])
			if task.Bug.Line < 1 || task.Bug.Line > len(lines) || lines[task.Bug.Line-1] != task.Bug.Buggy {
				t.Fatalf("%s: bug %+v is not at its place", where, task.Bug)
			}
			if task.Bug.Buggy == task.Bug.Fix {
				t.Fatalf("%s: the bug changes nothing", where)
			}
			if (task.Bug.Func != task.Bug.Issue) != (p.cfg.CallDepth > 0) {
				t.Errorf("%s: bug in %s, issue names %s, call depth %d", where, task.Bug.Func, task.Bug.Issue, p.cfg.CallDepth)
			}
			_, failed := runTests(parseProgram(files), task.Tests())
			if len(failed) != 1 || failed[0] != task.Bug.Issue {
				t.Fatalf("%s: base fails %v, want [%s]", where, failed, task.Bug.Issue)
			}
			if v := task.Grade(task.GoldPatch()); !v.Resolved {
				t.Fatalf("%s: gold patch not resolved: %s", where, v.Detail)
			}
			names := map[string]bool{}
			total := 0
			for _, text := range files {
				for _, l := range splitLines(text) {
					if strings.HasPrefix(l, "def ") {
						total++
						names[strings.Fields(l)[1]] = true
					}
					if len(l) == 0 || strings.Contains(l, "  ") {
						t.Fatalf("%s: line %q is not single-spaced words", where, l)
					}
				}
				if n := len(splitLines(text)); n > maxNumber {
					t.Fatalf("%s: a file of %d lines", where, n)
				}
			}
			if total != p.cfg.Files*p.cfg.FunctionsPerFile || len(names) != total {
				t.Fatalf("%s: %d functions, %d names", where, total, len(names))
			}
			for _, tt := range task.Tests() {
				if len(tt.Cases) != p.cfg.Cases {
					t.Fatalf("%s: %s has %d cases", where, tt.Func, len(tt.Cases))
				}
			}
		}
		for _, k := range p.cfg.BugKinds {
			if kinds[k] < presetTasks[p.name]/20 {
				t.Errorf("%s: bug kind %s drawn %d times in %d tasks", p.name, k, kinds[k], presetTasks[p.name])
			}
		}
	}
}

// The statement names a symptom: never a file, a line, or the buggy text.
func TestStatementDoesNotLeak(t *testing.T) {
	for _, p := range presets() {
		for _, task := range generated(p.cfg, presetTasks[p.name]) {
			s := task.Statement
			w := Words(s)
			if len(w) < 8 || !slices.Contains(w, task.Bug.Issue) {
				t.Fatalf("%s: statement %q does not name %s", task.ID, s, task.Bug.Issue)
			}
			for _, x := range w {
				if strings.HasSuffix(x, ".py") || x == "line" || x == "mod" || x == "\n" {
					t.Fatalf("%s: statement %q leaks a place (%q)", task.ID, s, x)
				}
			}
			if strings.Contains(s, task.Bug.Buggy) || strings.Contains(s, task.Bug.Fix) {
				t.Fatalf("%s: statement %q quotes code", task.ID, s)
			}
			if task.Bug.Func != task.Bug.Issue && slices.Contains(w, task.Bug.Func) {
				t.Fatalf("%s: statement %q names the buggy helper", task.ID, s)
			}
		}
	}
}

func TestConfigValidate(t *testing.T) {
	for _, p := range presets() {
		if err := p.cfg.Validate(); err != nil {
			t.Errorf("%s: %v", p.name, err)
		}
	}
	bad := []func(*Config){
		func(c *Config) { c.Files = 0 },
		func(c *Config) { c.Files = 11 },
		func(c *Config) { c.FunctionsPerFile = 0 },
		func(c *Config) { c.Files, c.FunctionsPerFile = 10, 10 },
		func(c *Config) { c.BodyLines = 0 },
		func(c *Config) { c.BodyLines = 5 },
		func(c *Config) { c.Files, c.FunctionsPerFile = 1, 25 },
		func(c *Config) { c.BugKinds = nil },
		func(c *Config) { c.BugKinds = []BugKind{"typo"} },
		func(c *Config) { c.Distractors = 100 },
		func(c *Config) { c.CallDepth = -1 },
		func(c *Config) { c.Cases = 0 },
		func(c *Config) { c.ShowWindow = 4 },
	}
	for i, f := range bad {
		c := Default()
		f(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("bad config %d (%+v) validated", i, c)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("Generate with an invalid config did not panic")
		}
	}()
	Generate(Config{}, 1)
}

func TestTaskAccessorsCopy(t *testing.T) {
	task := Generate(Easy(), 1)[0]
	f := task.Files()
	f["mod0.py"] = "changed"
	ts := task.Tests()
	ts[0].Cases[0].Args[0] = 1000
	if task.Files()["mod0.py"] == "changed" || task.Tests()[0].Cases[0].Args[0] == 1000 {
		t.Error("accessors share the task's state")
	}
	if r := task.TaskRef(); r.ID != task.ID || r.Statement != task.Statement {
		t.Errorf("TaskRef = %+v", r)
	}
}
