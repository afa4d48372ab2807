package swe

import (
	"fmt"
	"regexp"
	"strings"
)

// RunnerError says that a task's test runner did not run at all in the grader's
// sandbox, without the model patch too: the command was not found (exit 127) or
// not executable (exit 126), the runner died on an import before collecting any
// test, or the log names no FAIL_TO_PASS or PASS_TO_PASS test. It is a fault of
// the environment, not of a patch: TestGrader returns it as an error, which the
// engine retries and then abandons, never a reward of 0. Match it with errors.As.
type RunnerError struct {
	Task     string // instance id
	ExitCode int    // the test command's exit status; -1 when it is not known
	Reason   string // why the runner is judged not to have run
	Tail     string // the last lines of the test log
	LogPath  string // where the whole log was kept (TestGrader.KeepLogs); "" when not kept
	// Control is set when the error comes from the control run, the one without
	// the model patch that TestGrader makes after a patched run found no test.
	Control bool
}

// runnerFix is what an operator does about a RunnerError.
const runnerFix = "give the repository an environment in which its runner starts (its entry in " +
	"swerl's per-repository env table, swe/env.go, or a task image), or set install_config.test_cmd " +
	"to a command that runs in this sandbox"

func (e *RunnerError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "grader: task %s: the test runner did not run (%s)", e.Task, e.Reason)
	if e.Control {
		b.WriteString(" without the model patch either")
	}
	if e.LogPath != "" {
		fmt.Fprintf(&b, "; log kept at %s", e.LogPath)
	}
	if strings.TrimSpace(e.Tail) == "" {
		b.WriteString("; the log is empty")
	} else {
		b.WriteString("; its last lines:\n")
		for _, l := range strings.Split(e.Tail, "\n") {
			b.WriteString("    " + l + "\n")
		}
	}
	b.WriteString("fix: " + runnerFix)
	return b.String()
}

// runnerTailLines and runnerTailBytes bound RunnerError.Tail and the tail quoted in
// a verdict's Detail.
const (
	runnerTailLines = 20
	runnerTailBytes = 4 << 10
)

// logTail returns the last lines of a log, at most runnerTailLines lines and
// runnerTailBytes bytes (a runner can print one huge line).
func logTail(log string) string {
	t := lastLines(log, runnerTailLines)
	if len(t) > runnerTailBytes {
		t = "..." + t[len(t)-runnerTailBytes:]
	}
	return t
}

// importFailure matches a Python runner that died on an import: the traceback's
// last line, or pytest's "ImportError while loading conftest/importing test module".
var importFailure = regexp.MustCompile(`(?m)\b(ImportError|ModuleNotFoundError)\b`)

// runnerDidNotRun says why a test run shows that the runner never ran, "" when it
// ran. It did not run when the shell could not find (exit 127) or execute (exit
// 126) the command, whatever the log holds, or when no test of FAIL_TO_PASS or
// PASS_TO_PASS appears in statuses; an import error in such a log is named as the
// reason. exit is -1 when the status is not known. statuses is only read.
func runnerDidNotRun(task Task, statuses map[string]TestStatus, exit int, log string) string {
	switch exit {
	case 127:
		return "exit 127: command not found"
	case 126:
		return "exit 126: command found but not executable"
	}
	for _, list := range []TestList{task.FailToPass, task.PassToPass} {
		for _, name := range list {
			if _, ok := statuses[name]; ok {
				return ""
			}
		}
	}
	if importFailure.MatchString(log) {
		return "import error before collection"
	}
	return "no FAIL_TO_PASS or PASS_TO_PASS test in the log"
}
