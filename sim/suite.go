package sim

import (
	"strconv"
	"strings"
)

// Case is one call of a test: the function applied to Args must return Want.
type Case struct {
	Args []int
	Want int
}

// Test checks one function on its cases. A task's tests are what run_tests runs and
// what the Grader runs: there are no hidden tests.
type Test struct {
	Func  string
	Cases []Case
}

func cloneTests(ts []Test) []Test {
	out := make([]Test, len(ts))
	for i, t := range ts {
		out[i] = Test{Func: t.Func, Cases: make([]Case, len(t.Cases))}
		for j, c := range t.Cases {
			out[i].Cases[j] = Case{Args: append([]int(nil), c.Args...), Want: c.Want}
		}
	}
	return out
}

// callText renders "f7 ( 3 , 4 )".
func callText(fn string, args []int) string { return fn + " " + argsText(args) }

// argsText renders "( 3 , 4 )".
func argsText(args []int) string {
	var b strings.Builder
	b.WriteString("(")
	for i, a := range args {
		if i > 0 {
			b.WriteString(" ,")
		}
		b.WriteString(" " + valueWord(a))
	}
	b.WriteString(" )")
	return b.String()
}

// gaveWord renders a call's result: its value word, or "error".
func gaveWord(v int, err error) string {
	if err != nil {
		return wordError
	}
	return valueWord(v)
}

// runTests runs every test and renders the report of the run_tests command:
//
//	ok f2                                   every case of f2 passes
//	FAIL f7 ( 3 , 4 ) gave 12 want 7        for a failing function, each of its cases
//	ok f7 ( 1 , 1 ) gave 3 want 3
//	1 failed 2 passed                       functions
//
// It returns the report and the names of the failing functions.
func runTests(p program, tests []Test) (string, []string) {
	// Passing functions first, failing ones last, next to the summary: the end of an
	// observation is what a policy with a short context window still sees.
	var (
		b, fails strings.Builder
		failed   []string
	)
	for _, t := range tests {
		got := make([]string, len(t.Cases))
		ok := make([]bool, len(t.Cases))
		pass := true
		for i, c := range t.Cases {
			v, err := p.call(t.Func, c.Args)
			got[i], ok[i] = gaveWord(v, err), err == nil && v == c.Want
			pass = pass && ok[i]
		}
		if pass {
			b.WriteString(wordOK + " " + t.Func + "\n")
			continue
		}
		failed = append(failed, t.Func)
		for i, c := range t.Cases {
			status := wordOK
			if !ok[i] {
				status = wordFail
			}
			fails.WriteString(status + " " + callText(t.Func, c.Args) + " " + wordGave + " " + got[i] + " " + wordWant + " " + valueWord(c.Want) + "\n")
		}
	}
	b.WriteString(fails.String())
	b.WriteString(strconv.Itoa(len(failed)) + " " + wordFailed + " " + strconv.Itoa(len(tests)-len(failed)) + " " + wordPassed)
	return b.String(), failed
}
