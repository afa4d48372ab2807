package swe

import (
	"fmt"
	"strings"
)

// TestOutcome is one listed test's result in a Report. Status is StatusMissing when
// the log does not mention the test.
type TestOutcome struct {
	Name   string
	Status TestStatus
	OK     bool // the test counts as passing for its list
}

// Report is the SWE-bench resolved rule applied to one test run: the outcome of
// every FAIL_TO_PASS and PASS_TO_PASS test, in the task's order.
type Report struct {
	FailToPass []TestOutcome
	PassToPass []TestOutcome
	Resolved   bool
}

// f2pOK and p2pOK are the statuses that keep a test of each list.
func f2pOK(s TestStatus) bool { return s == StatusPassed || s == StatusXFail }
func p2pOK(s TestStatus) bool { return s == StatusPassed || s == StatusXFail || s == StatusSkipped }

// Evaluate applies the resolved rule of PAPER.md (SWE-bench's): resolved when every
// FAIL_TO_PASS test is PASSED or XFAIL and every PASS_TO_PASS test is PASSED, XFAIL
// or SKIPPED. A test absent from statuses counts as failed. Two choices differ from
// the harness, both toward "not resolved": a SKIPPED FAIL_TO_PASS test fails (the
// harness leaves it out of the count), and a task with no FAIL_TO_PASS test is never
// resolved (the harness counts an empty list as all passed, which would reward an
// empty patch; the loader rejects such tasks anyway). statuses is only read.
func Evaluate(task Task, statuses map[string]TestStatus) Report {
	var r Report
	r.FailToPass = outcomes(task.FailToPass, statuses, f2pOK)
	r.PassToPass = outcomes(task.PassToPass, statuses, p2pOK)
	r.Resolved = len(r.FailToPass) > 0 && allOK(r.FailToPass) && allOK(r.PassToPass)
	return r
}

func outcomes(names TestList, statuses map[string]TestStatus, ok func(TestStatus) bool) []TestOutcome {
	out := make([]TestOutcome, len(names))
	for i, n := range names {
		s, found := statuses[n]
		if !found {
			s = StatusMissing
		}
		out[i] = TestOutcome{Name: n, Status: s, OK: found && ok(s)}
	}
	return out
}

func allOK(os []TestOutcome) bool {
	for _, o := range os {
		if !o.OK {
			return false
		}
	}
	return true
}

func countOK(os []TestOutcome) int {
	n := 0
	for _, o := range os {
		if o.OK {
			n++
		}
	}
	return n
}

// maxFailingListed caps the failing tests Summary names.
const maxFailingListed = 10

// Summary is one line for a verdict's Detail, e.g.
// "FAIL_TO_PASS 2/3, PASS_TO_PASS 10/10; failing: a::b (FAILED), c::d (missing)".
// It names at most ten failing tests, FAIL_TO_PASS ones first.
func (r Report) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "FAIL_TO_PASS %d/%d, PASS_TO_PASS %d/%d",
		countOK(r.FailToPass), len(r.FailToPass), countOK(r.PassToPass), len(r.PassToPass))
	if len(r.FailToPass) == 0 {
		b.WriteString("; no FAIL_TO_PASS test")
	}
	var failing []string
	total := 0
	for _, list := range [][]TestOutcome{r.FailToPass, r.PassToPass} {
		for _, o := range list {
			if o.OK {
				continue
			}
			total++
			if len(failing) < maxFailingListed {
				st := string(o.Status)
				if o.Status == StatusMissing {
					st = "missing"
				}
				failing = append(failing, fmt.Sprintf("%s (%s)", o.Name, st))
			}
		}
	}
	if total > 0 {
		b.WriteString("; failing: ")
		b.WriteString(strings.Join(failing, ", "))
		if total > len(failing) {
			fmt.Fprintf(&b, " and %d more", total-len(failing))
		}
	}
	return b.String()
}
