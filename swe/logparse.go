package swe

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// TestStatus is one test's outcome in a test log, with the SWE-bench harness's
// spelling.
type TestStatus string

const (
	StatusPassed  TestStatus = "PASSED"
	StatusFailed  TestStatus = "FAILED"
	StatusError   TestStatus = "ERROR"
	StatusSkipped TestStatus = "SKIPPED"
	StatusXFail   TestStatus = "XFAIL"
	// StatusMissing is never produced by a parser: Evaluate reports it for a test
	// the log does not mention (which counts as failed).
	StatusMissing TestStatus = "MISSING"
)

// severity orders statuses for merging duplicates: the higher one wins.
func (s TestStatus) severity() int {
	switch s {
	case StatusPassed:
		return 0
	case StatusXFail:
		return 1
	case StatusSkipped:
		return 2
	case StatusFailed:
		return 3
	case StatusError:
		return 4
	}
	return 5
}

// LogParser turns a test run's combined output into test id -> status. It never
// fails: lines it does not recognise are skipped, and a test it cannot find is
// simply absent (Evaluate counts absent as failed).
type LogParser func(log string) map[string]TestStatus

// statusMap collects parser results. When a log reports one test id more than once,
// the worst status wins (ERROR > FAILED > SKIPPED > XFAIL > PASSED). The SWE-bench
// harness keeps the last one instead; the two differ only when one log reports a
// test twice with different outcomes, which happens by parsing accident (a
// traceback line that starts with "ok" after a failed Django test, two
// parametrisations whose ids agree up to a space, two Go packages with a test of
// the same name), and there the worst status is the one that does not hide a
// failure.
type statusMap map[string]TestStatus

func (m statusMap) set(id string, s TestStatus) {
	if id == "" {
		return
	}
	if old, ok := m[id]; ok && old.severity() >= s.severity() {
		return
	}
	m[id] = s
}

// parsers holds every parser by name: swerl's short names plus the SWE-bench /
// SWE-rebench function names.
var parsers = map[string]LogParser{
	"pytest":         parsePytest,
	"pytest_v2":      parsePytestV2,
	"pytest_options": parsePytestOptions,
	"django":         parseDjango,
	"sympy":          parseSympy,
	"matplotlib":     parseMatplotlib,
	"seaborn":        parseSeaborn,
	"gotest":         parseGoTest,

	"parse_log_pytest":         parsePytest,
	"parse_log_pytest_v2":      parsePytestV2,
	"parse_log_pytest_options": parsePytestOptions,
	"parse_log_django":         parseDjango,
	"parse_log_sympy":          parseSympy,
	"parse_log_matplotlib":     parseMatplotlib,
	"parse_log_seaborn":        parseSeaborn,
	"parse_log_gotest":         parseGoTest,
	"parse_log_go_test":        parseGoTest,
	"go_test":                  parseGoTest,

	// The harness's per-repository aliases.
	"parse_log_astroid":     parsePytest,
	"parse_log_flask":       parsePytest,
	"parse_log_marshmallow": parsePytest,
	"parse_log_pvlib":       parsePytest,
	"parse_log_pyvista":     parsePytest,
	"parse_log_sqlfluff":    parsePytest,
	"parse_log_xarray":      parsePytest,
	"parse_log_pydicom":     parsePytestOptions,
	"parse_log_requests":    parsePytestOptions,
	"parse_log_pylint":      parsePytestOptions,
	"parse_log_astropy":     parsePytestV2,
	"parse_log_scikit":      parsePytestV2,
	"parse_log_sphinx":      parsePytestV2,
}

// LogParserNames lists the known parser names, sorted.
func LogParserNames() []string {
	names := make([]string, 0, len(parsers))
	for n := range parsers {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// LookupLogParser returns the parser registered under name.
func LookupLogParser(name string) (LogParser, bool) {
	p, ok := parsers[name]
	return p, ok
}

// ParseLog parses log with the named parser. An unknown name is an error that lists
// the known ones.
func ParseLog(parser string, log string) (map[string]TestStatus, error) {
	p, ok := parsers[parser]
	if !ok {
		return nil, fmt.Errorf("unknown log parser %q (known: %s)", parser, strings.Join(LogParserNames(), ", "))
	}
	return p(log), nil
}

// --- pytest ------------------------------------------------------------------

// pytestWords maps the words pytest prints for an outcome to a status. XPASS (an
// expected failure that passed, non-strict) counts as passed; the harness ignores
// it, which reads as missing.
var pytestWords = map[string]TestStatus{
	"PASSED":  StatusPassed,
	"FAILED":  StatusFailed,
	"ERROR":   StatusError,
	"SKIPPED": StatusSkipped,
	"XFAIL":   StatusXFail,
	"XPASS":   StatusPassed,
}

// ansiCSI matches terminal colour and cursor sequences.
var ansiCSI = regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]`)

// bareColour matches a colour code whose escape byte is gone ("[32m"), which the
// harness's v2 parser removes (even inside a test id, where the datasets then
// have it removed too).
var bareColour = regexp.MustCompile(`\[\d+m`)

// progressToken matches the tokens pytest-xdist and pytest's progress output put
// before or after a verbose result: "[gw0]", "[ 50%]", "[100%]".
var progressToken = regexp.MustCompile(`(?:^|\s)\[(?:gw\d+|\s*\d+%)\]`)

// parsePytest reads `pytest -rA` output: the short test summary lines
// "PASSED tests/test_a.py::test_x", "FAILED tests/test_a.py::test_y - AssertionError",
// "SKIPPED [1] tests/test_a.py:12: reason" (no test id: ignored), and the verbose
// lines "tests/test_a.py::test_x PASSED [ 50%]", "[gw0] [ 50%] PASSED id" (xdist).
// Colour codes are dropped. Like the harness, a test id is the first
// whitespace-separated word after the status, so ids holding spaces are cut at the
// first one, the same way the public datasets' test lists were made. The harness
// reads only the summary lines; the verbose ones add tests it would call missing,
// and where both name a test the worse status is kept (see statusMap).
func parsePytest(log string) map[string]TestStatus {
	m := statusMap{}
	for line := range strings.Lines(log) {
		if strings.IndexByte(line, '\x1b') >= 0 {
			line = ansiCSI.ReplaceAllString(line, "")
		}
		pytestLine(m, line)
	}
	return m
}

// parsePytestV2 is the harness's parser for later pytest versions: it also drops
// colour codes that lost their escape byte and control characters before reading
// a line.
func parsePytestV2(log string) map[string]TestStatus {
	m := statusMap{}
	for line := range strings.Lines(log) {
		if strings.IndexByte(line, '[') >= 0 {
			line = ansiCSI.ReplaceAllString(line, "")
			line = bareColour.ReplaceAllString(line, "")
		}
		line = strings.Map(func(r rune) rune {
			switch {
			case r == '\t':
				return ' '
			case r < 32:
				return -1
			}
			return r
		}, line)
		pytestLine(m, line)
	}
	return m
}

func pytestLine(m statusMap, line string) {
	// Progress tokens go first: "[gw0] [ 50%] PASSED id" (xdist), "id PASSED [ 50%]".
	if strings.Contains(line, " [") || strings.HasPrefix(line, "[") {
		line = progressToken.ReplaceAllString(line, " ")
	}
	f := strings.Fields(line)
	if len(f) < 2 {
		return
	}
	if s, ok := pytestWords[f[0]]; ok {
		// Summary line: "STATUS id [- message]". A skip reported as "[N] file:line"
		// names no test.
		if strings.HasPrefix(f[1], "[") && f[0] == "SKIPPED" {
			return
		}
		m.set(f[1], s)
		return
	}
	// Verbose line: "id STATUS".
	if !strings.Contains(f[0], "::") {
		return
	}
	// The status follows the id ("id SKIPPED (reason)") or ends the line (an id
	// holding spaces: "id[a b] PASSED").
	if s, ok := pytestWords[f[1]]; ok {
		m.set(f[0], s)
	} else if s, ok := pytestWords[f[len(f)-1]]; ok {
		m.set(f[0], s)
	}
}

// optionPath matches a parametrised id whose parameter is a path.
var optionPath = regexp.MustCompile(`^(.*?)\[(.*)\]$`)

// parsePytestOptions is pytest for repositories whose parametrised ids hold
// absolute paths (requests, pylint, pydicom): such a parameter is cut to its last
// path element, "/abs/dir/file.txt" -> "/file.txt", as the harness does.
func parsePytestOptions(log string) map[string]TestStatus {
	out := map[string]TestStatus{}
	for id, s := range parsePytest(log) {
		if mm := optionPath.FindStringSubmatch(id); mm != nil {
			main, opt := mm[1], mm[2]
			if strings.HasPrefix(opt, "/") && !strings.HasPrefix(opt, "//") && !strings.Contains(opt, "*") {
				opt = "/" + opt[strings.LastIndex(opt, "/")+1:]
			}
			id = main + "[" + opt + "]"
		}
		statusMap(out).set(id, s)
	}
	return out
}

// parseMatplotlib is pytest with matplotlib's MouseButton enum spelled as the
// numbers the dataset's ids use.
func parseMatplotlib(log string) map[string]TestStatus {
	r := strings.NewReplacer("MouseButton.LEFT", "1", "MouseButton.RIGHT", "3")
	return parsePytest(r.Replace(log))
}

// parseSeaborn reads seaborn's runs: "FAILED id", "id PASSED ..." and "PASSED id".
func parseSeaborn(log string) map[string]TestStatus {
	m := statusMap{}
	for line := range strings.Lines(log) {
		f := strings.Fields(line)
		switch {
		case len(f) >= 2 && f[0] == "FAILED":
			m.set(f[1], StatusFailed)
		case len(f) >= 2 && f[1] == "PASSED":
			m.set(f[0], StatusPassed)
		case len(f) >= 2 && f[0] == "PASSED":
			m.set(f[1], StatusPassed)
		}
	}
	return m
}

// --- django ------------------------------------------------------------------

var djangoPassSuffixes = []string{" ... ok", " ... OK", " ...  OK"}

// djangoInterrupted matches a test whose "ok" lands on the next line after output
// Django prints in the middle of the run.
// Each comes with a literal the log must hold for the pattern to be tried.
var djangoInterrupted = []struct {
	literal string
	re      *regexp.Regexp
}{
	{" ... Testing against Django installed in ", regexp.MustCompile(`(?m)^(.*?) \.\.\. Testing against Django installed in (?s:.*?) silenced\)\.\nok$`)},
	{" ... Internal Server Error: /", regexp.MustCompile(`(?m)^(.*?) \.\.\. Internal Server Error: /(.*)/\nok$`)},
	{" ... System check identified no issues (0 silenced)\nok", regexp.MustCompile(`(?m)^(.*?) \.\.\. System check identified no issues \(0 silenced\)\nok$`)},
}

// parseDjango reads `runtests.py --verbosity 2` output. A test is named by the text
// before " ... " on its result line: "test_x (app.tests.T) ... ok", or, for a test
// with a docstring, the docstring's first line ("test_x (app.tests.T)\nDoc line
// ... ok" names "Doc line"), as the harness does. When output separates a test's
// " ... " from its result, a later line starting with "ok" passes the last test
// opened. "FAIL: x" and "ERROR: x" headers mark the first word, as in the harness.
func parseDjango(log string) map[string]TestStatus {
	m := statusMap{}
	prev := ""
	for line := range strings.Lines(log) {
		line = strings.TrimSpace(line)
		if strings.Contains(line, "--version is equivalent to version") {
			m.set("--version is equivalent to version", StatusPassed)
		}
		if i := strings.Index(line, " ... "); i >= 0 {
			prev = line[:i]
		}
		for _, suf := range djangoPassSuffixes {
			if strings.HasSuffix(line, suf) {
				l := line
				// Migration output run together with the test name:
				// "Applying sites.0002_alter_domain_unique...test_x (m.T) ... ok".
				if strings.HasPrefix(l, "Applying ") {
					if i := strings.Index(l, "..."); i >= 0 && !strings.HasPrefix(l[i:], "... ") {
						l = strings.TrimSpace(l[i+3:])
					}
				}
				m.set(strings.TrimSuffix(l, suf), StatusPassed)
				break
			}
		}
		if i := strings.Index(line, " ... skipped"); i >= 0 {
			m.set(line[:i], StatusSkipped)
		}
		if strings.HasSuffix(line, " ... FAIL") {
			m.set(strings.TrimSuffix(line, " ... FAIL"), StatusFailed)
		}
		if strings.HasSuffix(line, " ... ERROR") {
			m.set(strings.TrimSuffix(line, " ... ERROR"), StatusError)
		}
		if f := strings.Fields(line); len(f) >= 2 {
			switch f[0] {
			case "FAIL:":
				m.set(f[1], StatusFailed)
			case "ERROR:":
				m.set(f[1], StatusError)
			}
		}
		if strings.HasPrefix(line, "ok") && prev != "" {
			m.set(prev, StatusPassed)
		}
	}
	for _, p := range djangoInterrupted {
		if !strings.Contains(log, p.literal) {
			continue
		}
		for _, mm := range p.re.FindAllStringSubmatch(log, -1) {
			m.set(mm[1], StatusPassed)
		}
	}
	return m
}

// --- sympy -------------------------------------------------------------------

// sympyFailureHeader matches the banner above a failure's traceback:
// "________ sympy/core/tests/test_basic.py:test_foo ________".
var sympyFailureHeader = regexp.MustCompile(`(?m)^_+ (\S+\.py):(\S+) _+\s*$`)

// parseSympy reads `bin/test --verbose` output: "test_foo ok", "test_bar F",
// "test_baz E" under each file's header. Sympy's other markers (f expected failure,
// s skipped, X unexpected pass, T timeout) are not read, as in the harness, so those
// tests count as missing. Failure banners mark "file.py:test" ids as failed.
//
// Unlike the harness, the "[OK]" / "[FAIL]" that sympy right-aligns after the last
// test of each file is dropped first, so that test is read too (the harness misses
// it, so the datasets' lists never name it: reading it changes no verdict on them).
func parseSympy(log string) map[string]TestStatus {
	m := statusMap{}
	for _, mm := range sympyFailureHeader.FindAllStringSubmatch(log, -1) {
		m.set(mm[1]+":"+mm[2], StatusFailed)
	}
	for line := range strings.Lines(log) {
		line = strings.TrimSpace(line)
		for _, tail := range []string{"[OK]", "[FAIL]"} {
			if t, ok := strings.CutSuffix(line, tail); ok {
				line = strings.TrimSpace(t)
			}
		}
		if !strings.HasPrefix(line, "test_") {
			continue
		}
		id := strings.Fields(line)[0]
		switch {
		case strings.HasSuffix(line, " E"):
			m.set(id, StatusError)
		case strings.HasSuffix(line, " F"):
			m.set(id, StatusFailed)
		case strings.HasSuffix(line, " ok"):
			m.set(id, StatusPassed)
		}
	}
	return m
}

// --- go test -----------------------------------------------------------------

// goResult matches `go test -v` result lines, subtests indented:
// "--- PASS: TestX (0.00s)", "    --- FAIL: TestX/sub_case (0.01s)". A test that
// prints without a final newline runs its text into the line ("done--- PASS: TestX
// (0.00s)"), so the result may also end a line.
var (
	goResult      = regexp.MustCompile(`^\s*--- (PASS|FAIL|SKIP): (\S+)(?: \(|\s*$)`)
	goResultAtEnd = regexp.MustCompile(`--- (PASS|FAIL|SKIP): (\S+) \(\d+(?:\.\d+)?s\)\s*$`)
	// goLogLine is t.Log output ("    x_test.go:12: text"), which may quote a result
	// line without being one.
	goLogLine = regexp.MustCompile(`^\s+\S+\.go:\d+: `)
)

var goActions = map[string]TestStatus{"PASS": StatusPassed, "FAIL": StatusFailed, "SKIP": StatusSkipped,
	"pass": StatusPassed, "fail": StatusFailed, "skip": StatusSkipped}

// parseGoTest reads `go test -v` output and `go test -json` event lines. Ids are
// the test names as go prints them ("TestX", "TestX/sub_case"), without the
// package. A package that fails to build reports no test, so its tests are missing.
// A test interrupted by a panic or a timeout has no result line and is missing too.
func parseGoTest(log string) map[string]TestStatus {
	m := statusMap{}
	for line := range strings.Lines(log) {
		if t := strings.TrimSpace(line); strings.HasPrefix(t, "{") {
			var ev struct{ Action, Test string }
			if json.Unmarshal([]byte(t), &ev) == nil {
				if s, ok := goActions[ev.Action]; ok && ev.Test != "" {
					m.set(ev.Test, s)
				}
				continue
			}
		}
		if !strings.Contains(line, "--- ") {
			continue
		}
		mm := goResult.FindStringSubmatch(line)
		if mm == nil && !goLogLine.MatchString(line) {
			mm = goResultAtEnd.FindStringSubmatch(line)
		}
		if mm != nil {
			m.set(mm[2], goActions[mm[1]])
		}
	}
	return m
}
