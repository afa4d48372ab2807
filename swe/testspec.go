package swe

import (
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Spec says how to run a task's tests and read their output.
type Spec struct {
	// Command is one shell command line, run in the repository root after the test
	// patch is applied; it exports install_config.env first when there is one.
	Command string
	// Parser is the log parser name for ParseLog.
	Parser string
	// Tests are the arguments Command names the tests by (files, Django modules, Go
	// packages), already shell-quoted inside Command; empty when Command runs as
	// the task wrote it.
	Tests []string
	// Eval is install_config.eval_commands, one per line, "" when none: run first,
	// as the harness's eval script does.
	Eval string
	// Install is install_config.install, "" when none. SWE-bench's evaluation script
	// re-runs it after applying the patches and before the tests (repositories with
	// compiled parts need it); the grader decides.
	Install string
	// Timeout is left zero: the caller decides.
	Timeout time.Duration
}

// runnerKind is how the test arguments are derived from the test patch.
type runnerKind int

const (
	harnessFiles  runnerKind = iota // every touched file but data files, as the SWE-bench harness
	djangoModules                   // tests/foo/test_bar.py -> foo.test_bar, as the harness
	pythonFiles                     // the touched .py files
	goPackages                      // ./dir of each touched *_test.go
	asWritten                       // nothing appended
)

type repoDefault struct {
	cmd    string
	parser string
	kind   runnerKind
}

// Test commands of the SWE-bench harness's specifications (their latest versions).
const (
	cmdPytest  = "pytest -rA"
	cmdDjango  = "./tests/runtests.py --verbosity 2 --settings=test_sqlite --parallel 1"
	cmdSympy   = "PYTHONWARNINGS='ignore::UserWarning,ignore::SyntaxWarning' bin/test -C --verbose"
	cmdAstropy = "pytest -rA -vv -o console_output_style=classic --tb=no"
	cmdSeaborn = "pytest --no-header -rA"
	cmdSphinx  = "tox --current-env -epy39 -v --"
	cmdGo      = "go test -v -count=1"
	cmdPython  = "python3 -m pytest -rA -p no:cacheprovider"
)

// repoDefaults is the per-repository table for tasks without install_config.test_cmd:
// the SWE-bench repositories, with the harness's commands and parsers.
var repoDefaults = map[string]repoDefault{
	"django/django":                {cmdDjango, "django", djangoModules},
	"sympy/sympy":                  {cmdSympy, "sympy", harnessFiles},
	"astropy/astropy":              {cmdAstropy, "pytest_v2", harnessFiles},
	"scikit-learn/scikit-learn":    {cmdPytest, "pytest_v2", harnessFiles},
	"sphinx-doc/sphinx":            {cmdSphinx, "pytest_v2", harnessFiles},
	"matplotlib/matplotlib":        {cmdPytest, "matplotlib", harnessFiles},
	"mwaskom/seaborn":              {cmdSeaborn, "seaborn", harnessFiles},
	"psf/requests":                 {cmdPytest, "pytest_options", harnessFiles},
	"pylint-dev/pylint":            {cmdPytest, "pytest_options", harnessFiles},
	"pydicom/pydicom":              {cmdPytest, "pytest_options", harnessFiles},
	"pytest-dev/pytest":            {cmdPytest, "pytest", harnessFiles},
	"pallets/flask":                {cmdPytest, "pytest", harnessFiles},
	"pydata/xarray":                {cmdPytest, "pytest", harnessFiles},
	"pylint-dev/astroid":           {cmdPytest, "pytest", harnessFiles},
	"marshmallow-code/marshmallow": {cmdPytest, "pytest", harnessFiles},
	"pvlib/pvlib-python":           {cmdPytest, "pytest", harnessFiles},
	"pyvista/pyvista":              {cmdPytest, "pytest", harnessFiles},
	"sqlfluff/sqlfluff":            {cmdPytest, "pytest", harnessFiles},
}

// goParserNames are the parsers of go test output; every other known parser reads
// a Python runner.
var goParserNames = map[string]bool{"gotest": true, "parse_log_gotest": true, "parse_log_go_test": true, "go_test": true}

// TestSpec says how to run task's tests. The command, first found:
//
//  1. install_config.test_cmd. For a Python parser the test files of the test
//     patch are appended (the SWE-bench / SWE-rebench convention: test_cmd plus
//     the harness's test directives); a go test command runs as written, since
//     SWE-rebench pins whole commands such as "go test ./...".
//  2. the repository's row in the default table (the SWE-bench repositories):
//     Django's runtests.py with test modules, sympy's bin/test, pytest -rA.
//  3. meta.language: "go" runs `go test -v -count=1` on the packages of the
//     touched *_test.go files ("./..." when there are none); "python" runs
//     `python3 -m pytest -rA -p no:cacheprovider` on the touched .py files.
//  4. the test patch itself: *_test.go files mean go, .py files mean
//     `pytest -rA` on them.
//
// The parser is install_config.log_parser when set, else the one that goes with
// the command. An unknown parser name, an environment variable name the shell
// cannot export, or a task nothing above applies to is an error.
func TestSpec(task Task) (Spec, error) {
	var ic InstallConfig
	if task.InstallConfig != nil {
		ic = *task.InstallConfig
	}
	files := PatchFiles(task.TestPatch)

	var d repoDefault
	switch def, inTable := repoDefaults[task.Repo]; {
	case strings.TrimSpace(ic.TestCmd) != "":
		d = repoDefault{cmd: strings.TrimSpace(ic.TestCmd), kind: harnessFiles}
		switch {
		case inTable:
			d.parser, d.kind = def.parser, def.kind
		case goParserNames[ic.LogParser]:
			d.parser = "gotest"
		default:
			d.parser = languageDefault(metaLanguage(task.Meta), files).parser
		}
		if d.parser == "gotest" || goParserNames[ic.LogParser] {
			d.kind = asWritten
		}
	case inTable:
		d = def
	default:
		d = languageDefault(metaLanguage(task.Meta), files)
		if d.cmd == "" {
			return Spec{}, fmt.Errorf("task %s: no test command: install_config.test_cmd is empty, repository %q has no default, meta.language is not go or python, and the test patch touches no .py or _test.go file", task.InstanceID, task.Repo)
		}
	}
	if ic.LogParser != "" {
		if _, ok := parsers[ic.LogParser]; !ok {
			return Spec{}, fmt.Errorf("task %s: install_config.log_parser %q is not a known parser (known: %s)", task.InstanceID, ic.LogParser, strings.Join(LogParserNames(), ", "))
		}
		d.parser = ic.LogParser
	}

	spec := Spec{Parser: d.parser, Eval: ic.EvalCommands, Install: ic.Install, Tests: testArgs(d.kind, files)}
	var b strings.Builder
	if len(ic.Env) > 0 {
		keys := make([]string, 0, len(ic.Env))
		for k := range ic.Env {
			if !shellName.MatchString(k) {
				return Spec{}, fmt.Errorf("task %s: install_config.env: %q is not a variable name the shell can export", task.InstanceID, k)
			}
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b.WriteString("export")
		for _, k := range keys {
			b.WriteString(" " + k + "=" + shellQuote(ic.Env[k]))
		}
		b.WriteString(" && ")
	}
	b.WriteString(d.cmd)
	for _, a := range spec.Tests {
		b.WriteString(" " + shellQuote(a))
	}
	spec.Command = b.String()
	return spec, nil
}

// languageDefault picks the command for a language, or, when the language is
// unknown, for what the test patch touches. It returns a zero value when neither
// says.
func languageDefault(lang string, files []string) repoDefault {
	switch lang {
	case "go", "golang":
		return repoDefault{cmdGo, "gotest", goPackages}
	case "python", "py", "python3":
		return repoDefault{cmdPython, "pytest", pythonFiles}
	}
	if slices.ContainsFunc(files, func(f string) bool { return strings.HasSuffix(f, "_test.go") }) {
		return repoDefault{cmdGo, "gotest", goPackages}
	}
	if slices.ContainsFunc(files, func(f string) bool { return strings.HasSuffix(f, ".py") }) {
		return repoDefault{cmdPytest, "pytest", pythonFiles}
	}
	return repoDefault{parser: "pytest"}
}

// metaLanguage reads meta.language, lower-cased; "" when absent.
func metaLanguage(meta json.RawMessage) string {
	var m struct {
		Language string `json:"language"`
	}
	if len(meta) == 0 || json.Unmarshal(meta, &m) != nil {
		return ""
	}
	return strings.ToLower(strings.TrimSpace(m.Language))
}

// nonTestExts are the harness's data-file endings, never passed to a runner.
var nonTestExts = []string{".json", ".png", "csv", ".txt", ".md", ".jpg", ".jpeg", ".pkl", ".yml", ".yaml", ".toml"}

// testArgs derives the runner's arguments from the touched files.
func testArgs(kind runnerKind, files []string) []string {
	var out []string
	switch kind {
	case harnessFiles, djangoModules:
		for _, f := range files {
			if slices.ContainsFunc(nonTestExts, func(ext string) bool { return strings.HasSuffix(f, ext) }) {
				continue
			}
			if kind == djangoModules {
				f = strings.TrimSuffix(f, ".py")
				f = strings.TrimPrefix(f, "tests/")
				f = strings.ReplaceAll(f, "/", ".")
			}
			out = append(out, f)
		}
	case pythonFiles:
		for _, f := range files {
			if strings.HasSuffix(f, ".py") {
				out = append(out, f)
			}
		}
	case goPackages:
		for _, f := range files {
			if !strings.HasSuffix(f, "_test.go") {
				continue
			}
			dir := path.Dir(f)
			if dir != "." {
				dir = "./" + dir
			}
			if !slices.Contains(out, dir) {
				out = append(out, dir)
			}
		}
		if len(out) == 0 {
			out = []string{"./..."}
		}
	}
	return out
}

var (
	shellName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	shellSafe = regexp.MustCompile(`^[A-Za-z0-9_./:=,+@%^-]+$`)
)

// shellQuote quotes s as one POSIX shell word; words of safe characters only come
// back unchanged.
func shellQuote(s string) string {
	if shellSafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// PatchFiles lists the paths a git patch leaves in the tree, by their new names,
// in order of appearance, each once; deleted files are left out. It reads the
// "diff --git a/X b/Y" headers (with the "+++", "rename to" and "deleted file
// mode" lines of each header, and git's quoting of unusual names). Text that is
// not a git diff yields nothing.
func PatchFiles(patch string) []string {
	var out []string
	cur, deleted, inHeader := "", false, false
	flush := func() {
		if cur != "" && !deleted && !slices.Contains(out, cur) {
			out = append(out, cur)
		}
		cur, deleted, inHeader = "", false, false
	}
	for line := range strings.Lines(patch) {
		line = strings.TrimRight(line, "\r\n")
		if rest, ok := strings.CutPrefix(line, "diff --git "); ok {
			flush()
			cur, inHeader = headerNewPath(rest), true
			continue
		}
		if !inHeader {
			continue
		}
		switch {
		case strings.HasPrefix(line, "@@"):
			inHeader = false
		case strings.HasPrefix(line, "deleted file mode"):
			deleted = true
		case line == "+++ /dev/null":
			deleted = true
		case strings.HasPrefix(line, "+++ "):
			if p, err := diffPath(line[4:]); err == nil {
				if p, ok := strings.CutPrefix(p, "b/"); ok {
					cur = p
				}
			}
		case strings.HasPrefix(line, "rename to "):
			if p, err := diffPath(line[len("rename to "):]); err == nil {
				cur = p
			}
		}
	}
	flush()
	return out
}

// headerNewPath reads Y out of "a/X b/Y" (either side possibly quoted).
func headerNewPath(rest string) string {
	if strings.HasPrefix(rest, `"`) {
		// Quoted old path: skip it.
		end := quotedEnd(rest)
		if end < 0 {
			return ""
		}
		rest = strings.TrimPrefix(rest[end:], " ")
		p, err := diffPath(rest)
		if err != nil {
			return ""
		}
		return strings.TrimPrefix(p, "b/")
	}
	if strings.HasSuffix(rest, `"`) {
		if i := strings.LastIndex(rest, ` "`); i >= 0 {
			if p, err := diffPath(rest[i+1:]); err == nil {
				return strings.TrimPrefix(p, "b/")
			}
		}
	}
	// "a/P b/P": the same path twice splits the line evenly.
	if n := len(rest); n >= 5 && (n-5)%2 == 0 {
		half := (n - 5) / 2
		p := rest[2 : 2+half]
		if strings.HasPrefix(rest, "a/") && rest[2+half:] == " b/"+p {
			return p
		}
	}
	if i := strings.LastIndex(rest, " b/"); i >= 0 {
		return rest[i+3:]
	}
	return ""
}

// quotedEnd returns the index just past the closing quote of the C-quoted string
// s starts with, or -1.
func quotedEnd(s string) int {
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return -1
}

// diffPath decodes one path of a diff line: git's C-quoted form, or a bare path
// (cut at a tab, after which diff tools put timestamps).
func diffPath(s string) (string, error) {
	if strings.HasPrefix(s, `"`) {
		end := quotedEnd(s)
		if end < 0 {
			return "", errors.New("unterminated quoted path")
		}
		return strconv.Unquote(s[:end])
	}
	if i := strings.IndexByte(s, '\t'); i >= 0 {
		s = s[:i]
	}
	return s, nil
}
